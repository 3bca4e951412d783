"""Approximate inverse-Hessian-vector products on pytrees (Lorraine et al. 2020, sec. 3).

Both solvers need only ``hvp(v) = H v`` (e.g. :func:`hvp_fn`, forward-over-reverse), never H.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.implicit._jaxopt import solve_cg

PyTree = Any
HVP = Callable[[PyTree], PyTree]


class InverseHVPInfo(NamedTuple):
    """Diagnostics of an inverse-HVP solve.

    Attributes:
        first_term_norm: ``||v||`` (the 0-th Neumann term / CG right-hand side).
        last_term_norm: ``||(I - alpha H)^i v||`` for Neumann (0 for CG).
        diverged: True when the Neumann terms grew (``last > first``: ``||I - alpha H|| > 1``
            along v, so the series does not converge) or the result is not finite.
    """

    first_term_norm: jax.Array
    last_term_norm: jax.Array
    diverged: jax.Array


def tree_norm(tree: PyTree) -> jax.Array:
    """Euclidean norm of all leaves of ``tree`` together."""
    leaves = jax.tree.leaves(tree)
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in leaves))


def tree_vdot(a: PyTree, b: PyTree) -> jax.Array:
    """``<a, b>`` summed over all leaves."""
    return sum(jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def tree_all_finite(tree: PyTree) -> jax.Array:
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])) if leaves else True


def _check_terms(num_terms: Any) -> int:
    if not isinstance(num_terms, (int, np.integer)) or isinstance(num_terms, bool):
        raise TypeError(f"num_terms must be an int, got {type(num_terms).__name__}")
    if num_terms < 0:
        raise ValueError(f"num_terms must be >= 0, got {num_terms}")
    return int(num_terms)


def check_alpha(alpha: Any) -> None:
    """``alpha`` must be a positive finite number (concrete) or a traced scalar."""
    if alpha is None:
        raise ValueError(
            "alpha is required for the Neumann series: pass the inner optimizer's learning rate "
            "(Lorraine et al. use it) or any step with ||I - alpha H|| < 1"
        )
    if np.ndim(alpha) != 0:
        raise ValueError(f"alpha must be a scalar, got shape {np.shape(alpha)}")
    if not isinstance(alpha, jax.core.Tracer):
        a = float(alpha)
        if not (np.isfinite(a) and a > 0):
            raise ValueError(f"alpha must be finite and > 0, got {a}")


def neumann_inverse_hvp(
    hvp: HVP, v: PyTree, num_terms: int, alpha: float, *, return_info: bool = False
) -> PyTree | tuple[PyTree, InverseHVPInfo]:
    """``H^{-1} v ~= alpha * sum_{j=0..i} (I - alpha H)^j v`` (Algorithm 3, ``i = num_terms``).

    ``p = v; repeat i times: v <- v - alpha H v; p <- p + v; return alpha p``. Zero terms gives
    ``alpha v`` (the identity approximation). Equivalent to differentiating ``i`` unrolled SGD
    steps of size ``alpha`` started at the optimum (Lorraine et al., Theorem 2). Converges when
    the spectral radius of ``I - alpha H`` is < 1, i.e. ``0 < alpha < 2 / lambda_max(H)``, H > 0.

    Args:
        hvp: ``v -> H v`` on pytrees shaped like ``v``.
        v: the vector (pytree).
        num_terms: i >= 0, a static int.
        alpha: step size > 0.
        return_info: also return :class:`InverseHVPInfo` (divergence flag).
    """
    num_terms = _check_terms(num_terms)
    check_alpha(alpha)

    def body(_, carry):
        cur, acc = carry
        cur = jax.tree.map(lambda c, hc: c - alpha * hc, cur, hvp(cur))
        return cur, jax.tree.map(jnp.add, acc, cur)

    cur, acc = jax.lax.fori_loop(0, num_terms, body, (v, v))
    result = jax.tree.map(lambda a: alpha * a, acc)
    if not return_info:
        return result
    first, last = tree_norm(v), tree_norm(cur)
    diverged = (last > first * (1 + 1e-6)) | ~tree_all_finite(result)
    return result, InverseHVPInfo(first, last, diverged)


def cg_inverse_hvp(
    hvp: HVP, v: PyTree, num_terms: int, *, return_info: bool = False
) -> PyTree | tuple[PyTree, InverseHVPInfo]:
    """``H^{-1} v`` by ``num_terms`` conjugate-gradient iterations (jaxopt ``solve_cg``, tol 0).

    Zero iterations returns the zero vector (CG's initial guess). Assumes H symmetric positive
    definite along the Krylov space; at an approximate optimum it may not be, and the info flag
    reports a non-finite result.
    """
    num_terms = _check_terms(num_terms)
    if num_terms == 0:
        result = jax.tree.map(jnp.zeros_like, v)
    else:
        result = solve_cg(hvp, v, maxiter=num_terms, tol=0.0)
    if not return_info:
        return result
    first = tree_norm(v)
    return result, InverseHVPInfo(first, jnp.zeros_like(first), ~tree_all_finite(result))


def hvp_fn(loss: Callable[..., jax.Array], params: PyTree, *args: Any) -> HVP:
    """``v -> d^2 loss / d params^2 @ v`` at ``params`` by forward-over-reverse (jvp of grad)."""
    grad = jax.grad(loss)

    def hvp(v):
        return jax.jvp(lambda p: grad(p, *args), (params,), (v,))[1]

    return hvp
