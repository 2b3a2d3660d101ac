from fedpriv.attacks.analytic import Analytic
from fedpriv.attacks.base import Attack, AttackProblem, Reconstruction, ServerKnowledge
from fedpriv.attacks.inverting_gradients import InvertingGradients

__all__ = ["Analytic", "Attack", "AttackProblem", "InvertingGradients", "Reconstruction", "ServerKnowledge"]
