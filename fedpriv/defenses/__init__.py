from fedpriv.defenses.augment import Augment, AugmentPerClass
from fedpriv.defenses.concealing import Concealing
from fedpriv.defenses.base import Defense, NoDefense, TrainingSetup, UpdateDefense
from fedpriv.defenses.client import ClientBatch, ClientContext, ClientStep, DefenseKnowledge
from fedpriv.defenses.dpsgd import DPSGD
from fedpriv.defenses.instahide import InstaHide
from fedpriv.defenses.loda import Loda
from fedpriv.defenses.mixup import Mixup
from fedpriv.defenses.noise import Noise
from fedpriv.defenses.precode import Precode
from fedpriv.defenses.prune import Prune
from fedpriv.defenses.soteria import Soteria
from fedpriv.defenses.stack import DefenseStack, build_defense

__all__ = [
    "Augment", "AugmentPerClass", "ClientBatch", "ClientContext", "ClientStep", "Concealing", "DPSGD", "Defense",
    "DefenseKnowledge", "DefenseStack", "InstaHide", "Loda", "Mixup", "NoDefense", "Noise", "Precode", "Prune",
    "Soteria",
    "TrainingSetup", "UpdateDefense", "build_defense",
]
