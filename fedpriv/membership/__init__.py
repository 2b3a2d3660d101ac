"""Membership inference: whether a record was in the target model's training set (seed 004's second attack)."""

from fedpriv.membership.attacks import MembershipAttack, MembershipProblem, MIALira, MIAShadow

__all__ = ["MembershipAttack", "MembershipProblem", "MIALira", "MIAShadow"]
