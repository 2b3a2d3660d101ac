from fedpriv.models.convnet import ConvNet
from fedpriv.models.lenet import LeNet
from fedpriv.models.mlp import MLP
from fedpriv.models.resnet import ResNet18, ResNet50
from fedpriv.models.vgg import VGG11

__all__ = ["ConvNet", "LeNet", "MLP", "ResNet18", "ResNet50", "VGG11"]
