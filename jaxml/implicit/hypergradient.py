"""IFT hypergradients (Lorraine, Vicol & Duvenaud, AISTATS 2020, Algorithms 2-3).

At an (approximate) inner optimum ``w* = argmin_w L_T(w, lambda)`` the implicit function
theorem gives

    dL_V/dlambda = dL_V/dlambda|direct - dL_V/dw  [d2L_T/dw dw^T]^{-1}  d2L_T/dw dlambda^T.

Algorithm 2: ``v1 = dL_V/dw``; ``v2 ~= H^{-1} v1`` (``H = d2L_T/dw2``; Neumann, CG, identity or an
exact solve); ``v3 = d/dlambda <dL_T/dw, v2>`` (one vector-Jacobian product of the training
gradient w.r.t. lambda); return ``direct - v3``. Memory is O(P + H): no Hessian is formed except
by ``method="exact"``.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxml import _validation as chk
from jaxml._validation import PyTree
from jaxml.implicit.inverse_hvp import (
    cg_inverse_hvp,
    check_alpha,
    check_loss_args,
    check_terms,
    neumann_inverse_hvp,
    tree_all_finite,
    tree_norm,
)

METHODS = ("neumann", "cg", "identity", "exact")
#: How ``H v`` is computed: ``"linearize"`` (linearize the training gradient once, then one JVP
#: per product: the forward and backward pass are stored, not recomputed), ``"fwd_rev"`` (a JVP of
#: the gradient per product: recomputes the forward/backward each time, stores nothing) or
#: ``"rev_rev"`` (the gradient of ``<grad, v>``: reverse over reverse; the default). All three give
#: the same products up to float rounding. ``python -m experiments.benchmarks.ift_cost`` times
#: them interleaved: on the digits MLP (2 CPU cores) the 5-term Neumann update took 239 / 452 /
#: 469 ms (rev_rev / linearize / fwd_rev) at H = 1024 and 27 / 30 / 24 ms at H = 256, so
#: ``rev_rev`` is the default (docs/performance.md).
HVP_MODES = ("linearize", "fwd_rev", "rev_rev")
#: ``method="exact"`` materializes the ``[P, P]`` Hessian; it refuses above this many parameters.
MAX_EXACT_PARAMS = 4096


class HypergradInfo(NamedTuple):
    """Diagnostics returned with ``return_info=True``.

    Attributes:
        val_loss: ``L_V`` at ``(params, hparams)``.
        direct_norm: norm of the direct term ``dL_V/dlambda``.
        indirect_norm: norm of the implicit (response) term ``v3``.
        diverged: True if the inverse-HVP series grew or anything is non-finite: the
            hypergradient must not be applied.
        finite: True if the hypergradient is finite.
    """

    val_loss: jax.Array
    direct_norm: jax.Array
    indirect_norm: jax.Array
    diverged: jax.Array
    finite: jax.Array


def _check_loss(fn: Callable, name: str, params: PyTree, hparams: PyTree, args: tuple) -> None:
    """Traces ``fn(params, hparams, *args)`` abstractly: it must accept them and return a scalar."""
    chk.check_callable(fn, name)
    try:
        out = jax.eval_shape(fn, params, hparams, *args)
    except Exception as e:  # noqa: BLE001 -- re-raised with the argument named
        raise ValueError(
            f"{name}(params, hparams, *{name.split('_')[0]}_args) failed on the given trees; "
            f"check that params/hparams have the structure {name} expects. Original error: "
            f"{type(e).__name__}: {e}"
        ) from e
    if not hasattr(out, "shape") or out.shape != ():
        shape = getattr(out, "shape", type(out).__name__)
        raise ValueError(f"{name} must return a scalar; it returned shape {shape}")


def _exact_inverse_hvp(grad_w: Callable, params: PyTree, v: PyTree) -> PyTree:
    flat, unravel = ravel_pytree(params)
    if flat.size > MAX_EXACT_PARAMS:
        raise ValueError(
            f"method='exact' materializes a [{flat.size}, {flat.size}] Hessian; it is limited to "
            f"MAX_EXACT_PARAMS={MAX_EXACT_PARAMS} parameters. Use 'cg' or 'neumann'."
        )
    hess = jax.jacfwd(lambda f: ravel_pytree(grad_w(unravel(f)))[0])(flat)
    vflat, _ = ravel_pytree(v)
    return unravel(jnp.linalg.solve(0.5 * (hess + hess.T), vflat))


def _hvp(grad_w: Callable, params: PyTree, mode: str) -> Callable[[PyTree], PyTree]:
    """``v -> H v`` with ``H`` the Jacobian of ``grad_w`` at ``params``, formed as ``mode`` says."""
    if mode == "linearize":
        # Linearize the training gradient once; every HVP is then one forward (JVP) pass.
        return jax.linearize(grad_w, params)[1]
    if mode == "fwd_rev":
        return lambda v: jax.jvp(grad_w, (params,), (v,))[1]

    def rev_rev(v):
        inner = lambda p: sum(  # noqa: E731
            jnp.vdot(g, x)
            for g, x in zip(jax.tree.leaves(grad_w(p)), jax.tree.leaves(v), strict=True)
        )
        return jax.grad(inner)(params)

    return rev_rev


def hypergradient(
    train_loss: Callable[..., jax.Array],
    val_loss: Callable[..., jax.Array],
    params: PyTree,
    hparams: PyTree,
    *,
    method: str = "neumann",
    num_terms: int = 5,
    alpha: float | jax.Array | None = None,
    train_args: tuple = (),
    val_args: tuple = (),
    return_info: bool = False,
    hvp_mode: str = "rev_rev",
) -> PyTree | tuple[PyTree, HypergradInfo]:
    """The IFT hypergradient ``dL_V/dhparams`` at ``params`` (Lorraine et al., Algorithm 2).

    Args:
        train_loss: ``train_loss(params, hparams, *train_args) -> scalar`` (the inner objective,
            e.g. the training loss plus a hyperparameter-dependent regularizer).
        val_loss: ``val_loss(params, hparams, *val_args) -> scalar``; may depend on ``hparams``
            directly (that direct term is included).
        params: the (approximately) optimal inner parameters, a pytree.
        hparams: hyperparameters, a pytree; the result has its structure.
        method: "neumann" (Algorithm 3), "cg" (conjugate gradient), "identity"
            (``H^{-1} ~= alpha I``, exactly Neumann with 0 terms; ``alpha`` defaults to 1 here),
            or "exact" (materialized Hessian, at most :data:`MAX_EXACT_PARAMS` parameters).
        num_terms: Neumann terms / CG iterations: a static int >= 0, or a traced integer
            scalar so that one compiled program serves every count.
        alpha: Neumann step, required for "neumann". Lorraine et al. use the inner learning rate;
            the series converges for ``0 < alpha < 2 / lambda_max(H)``.
        train_args: extra positional arguments of ``train_loss`` (e.g. a mini-batch).
        val_args: extra positional arguments of ``val_loss``.
        return_info: also return :class:`HypergradInfo`.
        hvp_mode: one of :data:`HVP_MODES`, how the Hessian-vector products of "neumann" and
            "cg" are formed (same result up to rounding; speed and memory differ). Default
            "rev_rev", the fastest measured (see :data:`HVP_MODES`).

    Returns:
        The hypergradient (pytree like ``hparams``), and the info if requested.

    Raises:
        TypeError: a non-callable loss, a float ``num_terms`` (e.g. 2.0), non-float params.
        ValueError: an unknown ``method``, a bad ``alpha`` or ``num_terms``, a loss that fails on
            the given trees or is not scalar, and NaN/inf in concrete ``params``, ``hparams``,
            ``train_args`` or ``val_args``. Under ``jit`` those values are not inspected: a NaN
            passes through and ``info.finite`` / ``info.diverged`` report it.
    """
    chk.check_choice(method, "method", METHODS)
    chk.check_choice(hvp_mode, "hvp_mode", HVP_MODES)
    if method == "neumann" or (method == "identity" and alpha is not None):
        check_alpha(alpha)
    num_terms = check_terms(num_terms, traced=True)
    chk.check_bool(return_info, "return_info")
    train_args, val_args = check_loss_args(params, hparams, train_args, val_args)
    _check_loss(train_loss, "train_loss", params, hparams, train_args)
    _check_loss(val_loss, "val_loss", params, hparams, val_args)

    val, (v1, direct) = jax.value_and_grad(val_loss, argnums=(0, 1))(params, hparams, *val_args)

    def grad_w(p, h=hparams):
        return jax.grad(train_loss)(p, h, *train_args)

    series_diverged = jnp.asarray(False)
    if method == "identity":
        scale = 1.0 if alpha is None else alpha
        v2 = jax.tree.map(lambda x: scale * x, v1)
    elif method == "exact":
        v2 = _exact_inverse_hvp(grad_w, params, v1)
    else:
        hvp = _hvp(grad_w, params, hvp_mode)
        if method == "neumann":
            v2, inv_info = neumann_inverse_hvp(hvp, v1, num_terms, alpha, return_info=True)
        else:
            v2, inv_info = cg_inverse_hvp(hvp, v1, num_terms, return_info=True)
        series_diverged = inv_info.diverged

    # v3 = d/dhparams <dL_T/dw (params, hparams), v2>: one VJP through the training gradient.
    _, vjp = jax.vjp(lambda h: grad_w(params, h), hparams)
    (v3,) = vjp(v2)
    hypergrad = jax.tree.map(lambda d, m: d - m, direct, v3)
    if not return_info:
        return hypergrad
    finite = tree_all_finite(hypergrad)
    info = HypergradInfo(
        val_loss=val,
        direct_norm=tree_norm(direct),
        indirect_norm=tree_norm(v3),
        diverged=series_diverged | ~finite,
        finite=finite,
    )
    return hypergrad, info
