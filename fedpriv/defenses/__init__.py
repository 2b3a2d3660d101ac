from fedpriv.defenses.augment import Augment, AugmentPerClass
from fedpriv.defenses.base import Defense, NoDefense, TrainingSetup
from fedpriv.defenses.dpsgd import DPSGD
from fedpriv.defenses.instahide import InstaHide
from fedpriv.defenses.mixup import Mixup

__all__ = ["Augment", "AugmentPerClass", "DPSGD", "Defense", "InstaHide", "Mixup", "NoDefense", "TrainingSetup"]
