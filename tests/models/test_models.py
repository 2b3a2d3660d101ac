import pytest
import torch

from fedpriv.models import VGG11, ConvNet, LeNet, ResNet18, ResNet50


@pytest.mark.parametrize("cls", [LeNet, ConvNet, ResNet18, VGG11])
@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28), (1, 16, 16)])
def test_models_fit_the_dataset_shape(cls, shape):
    model = cls(in_shape=shape, num_classes=7)
    assert model(torch.randn(2, *shape)).shape == (2, 7)


def test_parameter_counts_match_the_papers():
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert round(count(VGG11(in_shape=(3, 32, 32), num_classes=10)) / 1e6, 2) == 9.23  # seed 000
    assert 2.8e6 < count(ConvNet(in_shape=(3, 32, 32), num_classes=10, width=64)) < 3.0e6
    assert count(ConvNet(in_shape=(3, 32, 32), num_classes=10, width=16)) < count(ConvNet(in_shape=(3, 32, 32), num_classes=10))


def test_resnet50_is_torchvisions_with_the_cifar_stem():
    import torchvision

    count = lambda m: sum(p.numel() for p in m.parameters())
    model = ResNet50(in_shape=(3, 32, 32), num_classes=10)
    reference = torchvision.models.resnet50(num_classes=10)
    # The 7x7 stem convolution (9,408 weights) becomes a 3x3 one (1,728); every other layer is torchvision's.
    assert count(model) == count(reference) - 7 * 7 * 3 * 64 + 3 * 3 * 3 * 64 == 23_520_842
    assert model.net.conv1.kernel_size == (3, 3) and isinstance(model.net.maxpool, torch.nn.Identity)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert [len(layer) for layer in (model.net.layer1, model.net.layer2, model.net.layer3, model.net.layer4)] == [3, 4, 6, 3]


def test_lenet_uses_dlg_initialisation_and_sigmoid():
    model = LeNet(in_shape=(3, 32, 32), num_classes=10)
    weights = torch.cat([p.flatten() for p in model.parameters()])
    assert weights.min() >= -0.5 and weights.max() <= 0.5 and weights.std() > 0.25
    assert any(isinstance(m, torch.nn.Sigmoid) for m in model.modules())
    assert model.fc.in_features == 768  # DLG's LeNet on 32x32 inputs


def test_convnet_options():
    model = ConvNet(in_shape=(3, 32, 32), num_classes=10, width=8, activation="tanh", norm="group", pooling="avg")
    kinds = {type(m).__name__ for m in model.modules()}
    assert {"Tanh", "GroupNorm", "AvgPool2d"} <= kinds and "BatchNorm2d" not in kinds
