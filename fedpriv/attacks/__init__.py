from fedpriv.attacks.analytic import Analytic
from fedpriv.attacks.dlg import DLG
from fedpriv.attacks.base import Attack, AttackProblem, Reconstruction, ServerKnowledge
from fedpriv.attacks.gradinversion import GradInversion
from fedpriv.attacks.imprint import Imprint
from fedpriv.attacks.inverting_gradients import InvertingGradients
from fedpriv.attacks.optimization import OptimizationAttack
from fedpriv.attacks.split_attack import ActivationInversion, GenerativeDecoder

__all__ = [
    "DLG", "ActivationInversion", "Analytic", "Attack", "AttackProblem", "GenerativeDecoder", "GradInversion", "Imprint", "InvertingGradients", "OptimizationAttack",
    "Reconstruction", "ServerKnowledge",
]
