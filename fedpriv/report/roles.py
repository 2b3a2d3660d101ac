"""The defenses with a fixed part in seed 000's comparison, the only defense names the report knows.

Seed 000 scores augmentations (one op per trial, or a policy per class) against a DP-SGD baseline, and draws the
undefended trial as a reference line. Every other defense, whatever its name, is reported through the defense
settings table (:mod:`fedpriv.report.defense_table`), built from the columns each defense describes itself with.
The names are the ``name`` of the defense classes (a test keeps them equal); they are spelled out here so that
reading results does not import the defenses and their training dependencies (Opacus).
"""

from __future__ import annotations

UNDEFENDED = "none"                             # NoDefense.name
DP = "dpsgd"                                    # DPSGD.name
SINGLE_OP = "augment"                           # Augment.name: one (op, magnitude) per trial, the grid
AUGMENTATION = (SINGLE_OP, "augment_per_class")  # AugmentPerClass.name: an (op, magnitude) per class
REFERENCES = (UNDEFENDED, DP)
