"""Approximate inverse-Hessian-vector products on pytrees (Lorraine et al. 2020, sec. 3).

Both solvers need only ``hvp(v) = H v`` (e.g. :func:`hvp_fn`, forward-over-reverse), never H.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxml import _validation as chk
from jaxml._validation import PyTree
from jaxml.implicit._jaxopt import solve_cg

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
    """Euclidean norm of all leaves of ``tree`` together (0 for a tree without leaves)."""
    leaves = jax.tree.leaves(tree)
    _check_numeric_leaves(leaves, "tree")
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in leaves))


def tree_vdot(a: PyTree, b: PyTree) -> jax.Array:
    """``<a, b>`` summed over all leaves; ``a`` and ``b`` must have one structure and shapes."""
    chk.check_same_structure(a, b, "a", "b")
    _check_numeric_leaves(jax.tree.leaves(a), "a")
    _check_numeric_leaves(jax.tree.leaves(b), "b")
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return sum(jnp.vdot(x, y) for x, y in pairs)


def tree_all_finite(tree: PyTree) -> jax.Array:
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])) if leaves else True


def _check_numeric_leaves(leaves: list, name: str) -> None:
    for leaf in leaves:
        if isinstance(leaf, str | bytes) or leaf is None:
            raise TypeError(f"{name} must hold numeric arrays; got a leaf {leaf!r}")
        if hasattr(leaf, "dtype") and jnp.dtype(leaf.dtype).kind not in "iufcb":
            raise TypeError(f"{name} must hold numeric arrays; got a leaf of dtype {leaf.dtype}")


def check_terms(num_terms: Any, name: str = "num_terms", *, traced: bool = False) -> int:
    """A static int >= 0 (TypeError for a float such as 2.0, ValueError for a negative one).

    With ``traced=True`` a traced integer scalar also passes (unchecked, it has no value yet): the
    solvers below loop ``num_terms`` times with a dynamic trip count, so ONE compiled program
    serves every count.
    """
    if traced and not chk.is_concrete(num_terms):
        if jnp.ndim(num_terms) != 0 or not jnp.issubdtype(num_terms.dtype, jnp.integer):
            raise TypeError(
                f"{name} must be an integer scalar; got a traced array of shape "
                f"{tuple(jnp.shape(num_terms))} {num_terms.dtype}"
            )
        return num_terms
    return chk.check_int(num_terms, name, minimum=0)


def check_alpha(alpha: Any) -> None:
    """``alpha`` must be a positive finite number (concrete) or a traced scalar."""
    if alpha is None:
        raise ValueError(
            "alpha is required for the Neumann series: pass the inner optimizer's learning rate "
            "(Lorraine et al. use it) or any step with ||I - alpha H|| < 1"
        )
    chk.check_positive(alpha, "alpha")


def check_float_tree(vec: PyTree, name: str) -> None:
    """A non-empty pytree of float arrays, finite where concrete (the inputs of every solver)."""
    if not jax.tree.leaves(vec):
        raise ValueError(f"{name} must hold at least one array; got {vec!r}")
    for leaf in jax.tree.leaves(vec):
        chk.check_array(leaf, name, dtype="float", finite=False)
    chk.check_tree_finite(vec, name)


def check_loss_args(
    params: PyTree, hparams: PyTree, train_args: tuple, val_args: tuple
) -> tuple[tuple, tuple]:
    """The common entry checks of the hypergradient functions; returns the args as tuples.

    ``params`` and ``hparams`` are non-empty float pytrees, finite where concrete; ``train_args``
    and ``val_args`` are tuples (or lists) of arguments, finite where concrete.
    """
    for name, args in (("train_args", train_args), ("val_args", val_args)):
        if not isinstance(args, list | tuple):
            raise TypeError(f"{name} must be a tuple of arguments; got {type(args).__name__}")
        chk.check_tree_finite(args, name)
    check_float_tree(params, "params")
    check_float_tree(hparams, "hparams")
    return tuple(train_args), tuple(val_args)


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
        num_terms: i >= 0, a static int or a traced integer scalar (one program for every i).
        alpha: step size > 0.
        return_info: also return :class:`InverseHVPInfo` (divergence flag).
    """
    chk.check_callable(hvp, "hvp")
    check_float_tree(v, "v")
    num_terms = check_terms(num_terms, traced=True)
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
    reports a non-finite result. A NaN/inf in a concrete ``v`` raises (jaxopt's CG would turn it
    into zeros); under ``jit`` it passes through and the info flag reports it.

    Args:
        hvp: ``v -> H v`` on pytrees shaped like ``v`` (H symmetric positive definite).
        v: the right-hand side (pytree of float arrays).
        num_terms: CG iterations, a static int >= 0 or a traced integer scalar.
        return_info: also return :class:`InverseHVPInfo` (non-finite flag).
    """
    chk.check_callable(hvp, "hvp")
    check_float_tree(v, "v")
    num_terms = check_terms(num_terms, traced=True)
    if isinstance(num_terms, int) and num_terms == 0:
        result = jax.tree.map(jnp.zeros_like, v)
    else:  # a traced count of 0 also returns CG's initial guess, zeros
        result = solve_cg(hvp, v, maxiter=num_terms, tol=0.0)
    if not return_info:
        return result
    first = tree_norm(v)
    return result, InverseHVPInfo(first, jnp.zeros_like(first), ~tree_all_finite(result))


def hvp_fn(loss: Callable[..., jax.Array], params: PyTree, *args: Any) -> HVP:
    """``v -> d^2 loss / d params^2 @ v`` at ``params`` by forward-over-reverse (jvp of grad).

    Args:
        loss: ``loss(params, *args) -> scalar``.
        params: the point (pytree of float arrays) where the Hessian is taken.
        *args: further arguments of ``loss``.
    """
    chk.check_callable(loss, "loss")
    check_float_tree(params, "params")
    grad = jax.grad(loss)

    def hvp(v):
        return jax.jvp(lambda p: grad(p, *args), (params,), (v,))[1]

    return hvp
