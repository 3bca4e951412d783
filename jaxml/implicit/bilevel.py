"""The bilevel training loop (Lorraine et al. 2020, Algorithm 1) as an ``(init, update)`` pair.

One ``update`` = ``T`` inner optimizer steps on training mini-batches
(:func:`jaxml.train.optax_scan`, weights warm started, never retrained from scratch) + one
hyperstep: the IFT hypergradient at the new weights (:func:`jaxml.implicit.hypergradient`) fed
to an outer optax optimizer. The state is a pytree of
fixed structure, so a jitted ``update`` compiles once and never retraces. A hypergradient that is
non-finite or whose Neumann series grew is NOT applied: the hyperparameters and outer optimizer
state stay as they were and ``info["skipped"]`` is True.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxml import _validation as chk
from jaxml._validation import PyTree
from jaxml.implicit.hypergradient import HVP_MODES, METHODS, hypergradient
from jaxml.implicit.inverse_hvp import check_alpha, check_terms, tree_norm
from jaxml.train import optax_scan


class BilevelState(NamedTuple):
    """State of :func:`bilevel`.

    Attributes:
        params: inner (model) parameters.
        hparams: hyperparameters.
        inner_opt_state: optax state of the inner optimizer.
        outer_opt_state: optax state of the hyper-optimizer.
        step: int32 number of updates (hypersteps) done.
        num_skipped: int32 number of hypersteps refused (diverged / non-finite).
    """

    params: PyTree
    hparams: PyTree
    inner_opt_state: PyTree
    outer_opt_state: PyTree
    step: jax.Array
    num_skipped: jax.Array


class Bilevel(NamedTuple):
    """``init(params, hparams) -> state``; ``update(state, train_batches, val_args) -> (state,
    info)``."""

    init: Callable[[PyTree, PyTree], BilevelState]
    update: Callable[..., tuple[BilevelState, dict[str, jax.Array]]]


def bilevel(
    train_loss: Callable[..., jax.Array],
    val_loss: Callable[..., jax.Array],
    inner_optimizer: optax.GradientTransformation,
    outer_optimizer: optax.GradientTransformation,
    *,
    method: str = "neumann",
    num_terms: int = 5,
    alpha: float | None = None,
    hvp_mode: str = "rev_rev",
) -> Bilevel:
    """Builds the bilevel optimizer.

    Args:
        train_loss: ``train_loss(params, hparams, *batch) -> scalar``.
        val_loss: ``val_loss(params, hparams, *val_args) -> scalar``.
        inner_optimizer: optax transformation for ``params``.
        outer_optimizer: optax transformation for ``hparams`` (Lorraine et al. use Adam/RMSprop).
        method, num_terms: as in :func:`jaxml.implicit.hypergradient`.
        alpha: the Neumann step; pass the inner learning rate (Lorraine et al.'s choice).
        hvp_mode: how Hessian-vector products are formed, one of
            :data:`jaxml.implicit.hypergradient.HVP_MODES` (see :func:`hypergradient`).

    ``update`` refuses NaN/inf in concrete batches, ``val_args`` or state (ValueError); jitted, it
    passes them through and a non-finite hypergradient is skipped (``info["skipped"]``).

    ``update(state, train_batches, val_args)``: ``train_batches`` is a tuple of arrays whose
    leading axis T indexes the inner steps (step t calls ``train_loss(params, hparams,
    *[b[t] for b in train_batches])``); the hypergradient uses the last training batch and
    ``val_args``.
    """
    chk.check_callable(train_loss, "train_loss")
    chk.check_callable(val_loss, "val_loss")
    chk.check_optimizer(inner_optimizer, "inner_optimizer")
    chk.check_optimizer(outer_optimizer, "outer_optimizer")
    chk.check_choice(method, "method", METHODS)
    chk.check_choice(hvp_mode, "hvp_mode", HVP_MODES)
    num_terms = check_terms(num_terms)
    if method == "neumann" or (method == "identity" and alpha is not None):
        check_alpha(alpha)

    def init(params: PyTree, hparams: PyTree) -> BilevelState:
        # Fresh, strongly typed buffers: weak types (e.g. from jnp.full(n, 2.0)) would make the
        # first jitted update retrace, and leaves sharing one buffer (JAX may reuse identical
        # constants) could not be donated.
        strong = lambda t: jax.tree.map(  # noqa: E731
            lambda a: jnp.array(a, dtype=jnp.result_type(a), copy=True), t
        )
        params, hparams = strong(params), strong(hparams)
        return BilevelState(
            params,
            hparams,
            inner_optimizer.init(params),
            outer_optimizer.init(hparams),
            jnp.zeros((), jnp.int32),
            jnp.zeros((), jnp.int32),
        )

    def update(state: BilevelState, train_batches: tuple, val_args: tuple = ()):
        if not isinstance(state, BilevelState):
            raise TypeError(
                f"state must be the BilevelState returned by init; got {type(state).__name__}"
            )
        if not isinstance(train_batches, list | tuple):
            raise TypeError(
                "train_batches must be a tuple of arrays with a leading T axis; got "
                f"{type(train_batches).__name__}"
            )
        if not isinstance(val_args, list | tuple):
            raise TypeError(f"val_args must be a tuple; got {type(val_args).__name__}")
        train_batches, val_args = tuple(train_batches), tuple(val_args)
        if not jax.tree.leaves(train_batches):
            raise ValueError("train_batches must hold at least one array with a leading T axis")
        lengths = {jnp.shape(b)[0] if jnp.ndim(b) else None for b in jax.tree.leaves(train_batches)}
        if len(lengths) != 1 or None in lengths:
            raise ValueError(f"train_batches leaves disagree on the leading T axis: {lengths}")
        chk.check_tree_finite(train_batches, "train_batches")
        chk.check_tree_finite(val_args, "val_args")
        chk.check_tree_finite(state.params, "state.params")
        chk.check_tree_finite(state.hparams, "state.hparams")

        res = optax_scan(
            lambda p, *batch: train_loss(p, state.hparams, *batch),
            inner_optimizer,
            state.params,
            state.inner_opt_state,
            batches=train_batches,
        )
        params, inner_state, losses = res.params, res.opt_state, res.losses
        last = jax.tree.map(lambda b: b[-1], train_batches)
        hg, info = hypergradient(
            train_loss,
            val_loss,
            params,
            state.hparams,
            method=method,
            num_terms=num_terms,
            alpha=alpha,
            train_args=last,
            val_args=val_args,
            return_info=True,
            hvp_mode=hvp_mode,
        )
        ok = ~info.diverged
        safe_hg = jax.tree.map(lambda g: jnp.where(ok, g, 0.0), hg)
        updates, outer_state = outer_optimizer.update(safe_hg, state.outer_opt_state, state.hparams)
        new_hparams = optax.apply_updates(state.hparams, updates)
        keep = lambda new, old: jnp.where(ok, new, old)  # noqa: E731
        hparams = jax.tree.map(keep, new_hparams, state.hparams)
        outer_state = jax.tree.map(keep, outer_state, state.outer_opt_state)
        new_state = BilevelState(
            params,
            hparams,
            inner_state,
            outer_state,
            state.step + 1,
            state.num_skipped + (~ok).astype(jnp.int32),
        )
        return new_state, {
            "train_loss": losses[-1],
            "val_loss": info.val_loss,
            "hypergrad_norm": tree_norm(hg),
            "direct_norm": info.direct_norm,
            "indirect_norm": info.indirect_norm,
            "skipped": ~ok,
        }

    return Bilevel(init, update)
