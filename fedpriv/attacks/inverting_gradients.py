"""Inverting Gradients (Geiping et al. 2020): cosine gradient matching, total variation, signed Adam, restarts."""

from __future__ import annotations

from fedpriv.attacks.optimization import OptimizationAttack


class InvertingGradients(OptimizationAttack):
    """Reconstruct a batch by maximising the cosine similarity between its gradient and the shared one.

    The paper's choices are the defaults: cosine distance, total variation, Adam on the sign of the image
    gradient with lr 0.1 dropped 10x at 3/8, 5/8 and 7/8 of the run, candidates boxed to valid pixels, and the
    restart with the lowest cosine distance kept. The paper ran 4,800 to 24,000 iterations on a GPU; 300 is the
    CPU-friendly default. All options: :class:`~fedpriv.attacks.optimization.OptimizationAttack`.
    """

    name = "inverting_gradients"
