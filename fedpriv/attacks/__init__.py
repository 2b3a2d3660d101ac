from fedpriv.attacks.base import Attack, AttackProblem, Reconstruction, ServerKnowledge
from fedpriv.attacks.inverting_gradients import InvertingGradients

__all__ = ["Attack", "AttackProblem", "InvertingGradients", "Reconstruction", "ServerKnowledge"]
