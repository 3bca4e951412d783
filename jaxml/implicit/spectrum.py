"""Extreme eigenvalues of a Hessian from HVPs, and how close an approximate hypergradient is.

The Neumann series ``alpha sum_j (I - alpha H)^j`` converges for ``0 < alpha < 2 / lambda_max``;
its slowest direction shrinks by ``1 - alpha lambda_min`` per term (Lorraine et al. 2020, sec. 3),
so ``lambda_max`` sets the step and ``lambda_min / lambda_max`` how many terms are needed.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxml import _validation as chk
from jaxml._validation import PyTree
from jaxml.implicit.inverse_hvp import check_float_tree, tree_norm, tree_vdot

__all__ = ["hessian_extremes", "hypergradient_error", "power_iteration"]


def power_iteration(hvp: Callable[[PyTree], PyTree], like: PyTree, iters: int = 100) -> float:
    """The dominant eigenvalue (Rayleigh quotient after ``iters`` power steps from the normalized
    all-ones vector) of the operator ``hvp``; ``like`` gives the vector's structure. Eager."""
    chk.check_callable(hvp, "hvp")
    check_float_tree(like, "like")
    iters = chk.check_int(iters, "iters", minimum=1)
    v = jax.tree.map(lambda a: jnp.ones_like(a) / np.sqrt(a.size), like)
    for _ in range(iters):
        hv = hvp(v)
        norm = tree_norm(hv)
        v = jax.tree.map(lambda a, nrm=norm: a / nrm, hv)
    return float(tree_vdot(v, hvp(v)))


def hessian_extremes(
    hvp: Callable[[PyTree], PyTree], like: PyTree, *, iters: int = 100, min_iters: int = 300
) -> tuple[float, float]:
    """``(lambda_max, lambda_min)`` of a symmetric PSD ``H``: power iteration on ``H``, then on
    ``lambda_max I - H`` (whose top eigenvalue is ``lambda_max - lambda_min``). A diagnostic: the
    power method converges slowly when the top eigenvalues are close."""
    lam_max = power_iteration(hvp, like, iters)
    shifted = lambda v: jax.tree.map(lambda a, b: lam_max * a - b, v, hvp(v))
    return lam_max, lam_max - power_iteration(shifted, like, min_iters)


def hypergradient_error(approx: PyTree, exact: PyTree) -> tuple[float, float]:
    """``(cosine(approx, exact), ||approx - exact|| / ||exact||)`` over all leaves."""
    chk.check_same_structure(exact, approx, "exact", "approx")
    check_float_tree(exact, "exact")
    check_float_tree(approx, "approx")
    cos = float(tree_vdot(approx, exact) / (tree_norm(approx) * tree_norm(exact) + 1e-300))
    rel = float(tree_norm(jax.tree.map(jnp.subtract, approx, exact)) / tree_norm(exact))
    return cos, rel
