from fedpriv.attacks.base import Attack, AttackProblem, Reconstruction, ServerKnowledge
from fedpriv.attacks.inverting_gradients import InvertingGradients
from fedpriv.attacks.optimization import OptimizationAttack

__all__ = ["Attack", "AttackProblem", "InvertingGradients", "OptimizationAttack", "Reconstruction", "ServerKnowledge"]
