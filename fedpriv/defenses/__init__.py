from fedpriv.defenses.augment import Augment, AugmentPerClass
from fedpriv.defenses.base import Defense, NoDefense, TrainingSetup
from fedpriv.defenses.dpsgd import DPSGD
from fedpriv.defenses.noise import Noise
from fedpriv.defenses.precode import Precode
from fedpriv.defenses.prune import Prune
from fedpriv.defenses.soteria import Soteria

__all__ = ["Augment", "AugmentPerClass", "DPSGD", "Defense", "NoDefense", "Noise", "Precode", "Prune", "Soteria",
           "TrainingSetup"]
