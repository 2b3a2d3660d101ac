from fedpriv.models.alexnet import AlexNetSmall
from fedpriv.models.convnet import ConvNet
from fedpriv.models.lenet import LeNet
from fedpriv.models.lenet5 import LeNet5
from fedpriv.models.mlp import MLP
from fedpriv.models.resnet import ResNet18, ResNet50
from fedpriv.models.vgg import VGG11

__all__ = ["AlexNetSmall", "ConvNet", "LeNet", "LeNet5", "MLP", "ResNet18", "ResNet50", "VGG11"]
