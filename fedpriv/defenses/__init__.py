from fedpriv.defenses.augment import Augment, AugmentPerClass
from fedpriv.defenses.base import Defense, NoDefense, TrainingSetup
from fedpriv.defenses.dpsgd import DPSGD

__all__ = ["Augment", "AugmentPerClass", "DPSGD", "Defense", "NoDefense", "TrainingSetup"]
