"""Delay compensation (DC-ASGD, Zheng et al. 2017): a stale gradient moved to the current weights.

A gradient computed at stale weights ``w_{t-tau}`` is corrected to first order in the weight
change, with the diagonal of the outer product ``g g^T`` standing in for the Hessian (for a
log-likelihood loss its expectation is the Fisher information, which approximates the Hessian):

    g(w_t) ~= g(w_{t-tau}) + lambda * g(w_{t-tau}) (.) g(w_{t-tau}) (.) (w_t - w_{t-tau})

(``(.)`` is the elementwise product; Zheng et al. 2017, eq. 10; DC-S3GD, Rigazzi 2019, eq. 4).
``lambda = 0`` gives back the stale gradient. Zheng et al.'s adaptive variant (DC-ASGD-a, eq. 12)
divides ``lambda`` by the root of a running mean square of the gradient,
``lambda_t = lambda_0 / sqrt(v_t + eps)``, so that the correction does not vanish with small
gradients; :func:`adaptive_lambda` computes that ``lambda_t``.
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxml._validation import (
    check_array,
    check_nonnegative,
    check_positive,
    check_same_structure,
    check_tree_finite,
)

Params = Any
Updates = Any


def _check_strength(value: Any, name: str) -> None:
    """Every leaf of ``value`` is a real number or array with every element finite and >= 0.

    Python numbers, NumPy and concrete JAX arrays are checked by value; traced leaves (under
    ``jit``/``vmap``) have no value before tracing, so only their dtype is checked.
    """
    if not jax.tree.leaves(value):
        raise TypeError(f"{name} must be a number >= 0 or a pytree of them; got {value!r}")
    bare = jax.tree_util.treedef_is_leaf(jax.tree.structure(value))
    for path, leaf in jax.tree_util.tree_leaves_with_path(value):
        where = name if bare else f"{name}{jax.tree_util.keystr(path)}"
        if np.ndim(leaf) == 0 and not isinstance(leaf, str | bytes):
            check_nonnegative(leaf, where)
            continue
        check_array(leaf, where, minimum=0.0)
        dtype = np.dtype(leaf.dtype if hasattr(leaf, "dtype") else np.asarray(leaf).dtype)
        if dtype.kind in "bc":
            raise TypeError(f"{where} must be a real array; got an array of dtype {dtype}")


def delay_compensation(
    stale_grads: Updates, params: Params, stale_params: Params, lam: ArrayLike | Any
) -> Updates:
    """The DC-ASGD estimate of the gradient at ``params`` from one computed at ``stale_params``.

    Implements ``g_hat = g + lam * g (.) g (.) (w_t - w_{t-tau})`` leaf by leaf, with
    ``g = stale_grads``, ``w_t = params`` and ``w_{t-tau} = stale_params``. Invariant: with
    ``params == stale_params`` or ``lam == 0`` the result equals ``stale_grads``.

    Args:
        stale_grads: gradient pytree ``g(w_{t-tau})``, leaves ``[...]``.
        params: current weights ``w_t``, same structure and shapes.
        stale_params: the weights ``w_{t-tau}`` at which ``stale_grads`` was computed.
        lam: the compensation strength ``lambda >= 0``: a scalar, or a pytree of the structure of
            ``stale_grads`` (e.g. the per-coordinate :func:`adaptive_lambda`).

    Returns:
        The compensated gradient, structure and dtypes of ``stale_grads``.

    Raises:
        ValueError: mismatched structures/shapes, an empty ``stale_grads``, NaN/inf in concrete
            gradients or weights, or a concrete ``lam`` (Python number, NumPy or JAX array, any
            leaf of a pytree) with an element < 0, NaN or inf. Traced values (under
            ``jit``/``vmap``, e.g. inside :func:`~jaxml.parallel.dc_s3gd.dc_s3gd`) have no value
            before tracing and are not checked: NaN passes through there.
        TypeError: a ``lam`` leaf that is not a real number or array (a bool, a string, a
            complex number).
    """
    if not jax.tree.leaves(stale_grads):
        raise ValueError("stale_grads must hold at least one array; got an empty pytree")
    check_same_structure(stale_grads, params, "stale_grads", "params")
    check_same_structure(stale_grads, stale_params, "stale_grads", "stale_params")
    for tree, name in (
        (stale_grads, "stale_grads"),
        (params, "params"),
        (stale_params, "stale_params"),
    ):
        check_tree_finite(tree, name)  # concrete values only: traced ones pass (see Raises)
    _check_strength(lam, "lam")
    if jax.tree.structure(lam) == jax.tree.structure(stale_grads):
        lams = lam  # one strength per leaf (or one array that broadcasts against the only leaf)
    elif jax.tree_util.treedef_is_leaf(jax.tree.structure(lam)) and jnp.ndim(lam) == 0:
        lams = jax.tree.map(lambda _: lam, stale_grads)
    else:
        raise ValueError(
            "lam must be a scalar or a pytree with the structure of stale_grads; got "
            f"{jax.tree.structure(lam)}"
        )

    def one(g, w, w_old, lam_leaf):
        g = jnp.asarray(g)
        delta = jnp.asarray(w, g.dtype) - jnp.asarray(w_old, g.dtype)
        return g + jnp.asarray(lam_leaf, g.dtype) * g * g * delta

    return jax.tree.map(one, stale_grads, params, stale_params, lams)


def adaptive_lambda(lam0: ArrayLike, mean_square: Updates, eps: float = 1e-7) -> Updates:
    """DC-ASGD-a's per-coordinate strength ``lambda_t = lam0 / sqrt(v_t + eps)`` (Zheng eq. 12).

    Args:
        lam0: base strength ``lambda_0 >= 0`` (Zheng et al. use 2 with ``v`` decay 0.95).
        mean_square: ``v_t``, the running mean of the squared gradient, leaves ``[...]``.
        eps: floor under ``v_t``.

    Returns:
        A pytree of the structure of ``mean_square``.

    Raises:
        ValueError: a concrete ``lam0`` (number or array) with an element < 0, NaN or inf (a
            traced one is not checked), ``eps <= 0``, or a concrete ``mean_square`` with a
            negative, NaN or inf element.
        TypeError: a ``lam0`` that is not a real number or array.
    """
    _check_strength(lam0, "lam0")
    check_positive(eps, "eps")
    if not jax.tree.leaves(mean_square):
        raise ValueError("mean_square must hold at least one array; got an empty pytree")
    for path, leaf in jax.tree_util.tree_leaves_with_path(mean_square):
        check_array(leaf, f"mean_square{jax.tree_util.keystr(path)}", minimum=0.0)
    return jax.tree.map(lambda v: lam0 / jnp.sqrt(v + eps), mean_square)
