from fedpriv.attacks.analytic import Analytic
from fedpriv.attacks.dlg import DLG
from fedpriv.attacks.base import Attack, AttackProblem, Reconstruction, ServerKnowledge
from fedpriv.attacks.gradinversion import GradInversion
from fedpriv.attacks.imprint import Imprint
from fedpriv.attacks.inverting_gradients import InvertingGradients
from fedpriv.attacks.optimization import OptimizationAttack

__all__ = [
    "DLG", "Analytic", "Attack", "AttackProblem", "GradInversion", "Imprint", "InvertingGradients", "OptimizationAttack",
    "Reconstruction", "ServerKnowledge",
]
