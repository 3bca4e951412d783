"""Compressing a classifier end to end: dense training, then direct or L-C accuracy recovery.

The figures and benchmarks share these two drivers; both are pure and jit-safe (jit them at the
call site, e.g. ``jax.jit(lambda p: recover(scheme, model.apply, p, x, y, ...))``).

Each is also split into resumable pieces (:func:`fit_steps`; :func:`recover_init`,
:func:`recover_steps`, :func:`recover_result`) whose composition over chunks of steps gives the
same run. On XLA CPU a convolution's gradient inside a compiled loop (``lax.scan``) takes a slow
generic kernel (about 9x slower per step for the digits SmallCNN than the same step compiled
outside a loop), so a caller can jit one fully unrolled chunk (``unroll=num_steps``) and call it
from a Python loop instead of jitting the whole run.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxml import _validation as v
from jaxml._validation import PyTree
from jaxml.compress.lc import lc, lc_theta
from jaxml.compress.recovery import _direct_start, _held
from jaxml.models import cross_entropy
from jaxml.train import batch_sampler, optax_scan

__all__ = [
    "METHODS",
    "RecoverState",
    "fit",
    "fit_steps",
    "recover",
    "recover_init",
    "recover_result",
    "recover_steps",
]

METHODS = ("none", "direct", "lc")


def _batch_fn(x, y, batch_size: int, key):
    n = v.check_same_size({"x rows": x.shape[0], "y length": y.shape[0]})
    sampler = batch_sampler(n, v.check_int(batch_size, "batch_size", minimum=1, maximum=n))

    def batch(t):
        idx = sampler(key, t)
        return jnp.take(x, idx, axis=0), jnp.take(y, idx, axis=0)

    return batch


def _loss(apply_fn):
    return lambda p, xb, yb: cross_entropy(apply_fn(p, xb), yb)


def fit(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    params: PyTree,
    x: jax.Array,
    y: jax.Array,
    *,
    optimizer: optax.GradientTransformation,
    num_steps: int,
    batch_size: int,
    key: jax.Array,
) -> PyTree:
    """``num_steps`` of ``optimizer`` on the cross-entropy of ``apply_fn`` over epoch batches.

    Args:
        apply_fn: ``apply_fn(params, x) -> logits [n, c]``.
        params: the starting parameters.
        x, y: ``[n, ...]`` inputs and ``[n]`` int labels.
    """
    v.check_optimizer(optimizer)
    return fit_steps(
        apply_fn,
        params,
        optimizer.init(params),
        x,
        y,
        optimizer=optimizer,
        num_steps=num_steps,
        batch_size=batch_size,
        key=key,
    )[0]


def fit_steps(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    params: PyTree,
    opt_state: PyTree,
    x: jax.Array,
    y: jax.Array,
    *,
    optimizer: optax.GradientTransformation,
    num_steps: int,
    batch_size: int,
    key: jax.Array,
    start_step: jax.Array | int = 0,
    unroll: int = 1,
) -> tuple[PyTree, PyTree]:
    """Steps ``start_step, ..., start_step + num_steps - 1`` of :func:`fit`, resumable.

    ``fit(...)`` is ``fit_steps(apply_fn, params, optimizer.init(params), ...)[0]``; running
    ``T`` steps as consecutive chunks (each chunk's ``start_step`` the steps done so far) draws
    the same batches and does the same updates.

    Args:
        opt_state: ``optimizer``'s state for ``params``.
        start_step: int32 scalar (may be traced), the global index of the first step.
        unroll: ``lax.scan``'s unroll factor (``num_steps``: no loop in the compiled program).
        Others: as :func:`fit`.

    Returns:
        ``(params, opt_state)`` after the chunk. Pure and jit-safe.
    """
    v.check_callable(apply_fn, "apply_fn")
    v.check_optimizer(optimizer)
    v.check_key(key)
    num_steps = v.check_int(num_steps, "num_steps", minimum=1)
    batch = _batch_fn(x, y, batch_size, key)
    out = optax_scan(
        _loss(apply_fn),
        optimizer,
        params,
        opt_state,
        batch_fn=batch,
        num_steps=num_steps,
        start_step=start_step,
        unroll=v.check_int(unroll, "unroll", minimum=1),
    )
    return out.params, out.opt_state


def recover(
    scheme: Any,
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    params: PyTree,
    x: jax.Array,
    y: jax.Array,
    *,
    method: str,
    optimizer: optax.GradientTransformation,
    num_steps: int,
    batch_size: int,
    key: jax.Array,
    l_steps: int = 50,
    mu_init: float = 1e-3,
    mu_growth: float = 1.1,
) -> tuple[PyTree, Any]:
    """Compresses a trained classifier with ``scheme`` and recovers its accuracy.

    Args:
        scheme: a compression scheme.
        method: "none" (compress only), "direct" (:func:`jaxml.compress.direct`: fine-tune
            ``num_steps`` with the masks held, re-compress) or "lc" (``num_steps`` of
            :func:`jaxml.compress.lc` with ``l_steps``, ``mu_init``, ``mu_growth``, then compress
            the final ``theta``).
        optimizer, num_steps, batch_size, key: the training run (same budget for both methods).

    Returns:
        ``(stored, aux)``: ``scheme.decompress(stored, aux)`` are the params to evaluate.
    """
    v.check_choice(method, "method", METHODS)
    v.check_callable(apply_fn, "apply_fn")
    v.check_optimizer(optimizer)
    v.check_key(key)
    num_steps = v.check_int(num_steps, "num_steps", minimum=1)
    if method == "none":
        return scheme.compress(params)
    hyper = {"l_steps": l_steps, "mu_init": mu_init, "mu_growth": mu_growth}
    state = recover_init(scheme, params, method=method, optimizer=optimizer, **hyper)
    state = recover_steps(
        scheme,
        apply_fn,
        state,
        x,
        y,
        method=method,
        optimizer=optimizer,
        num_steps=num_steps,
        batch_size=batch_size,
        key=key,
        **hyper,
    )
    return recover_result(scheme, state, method=method)


class RecoverState(NamedTuple):
    """A recovery run between chunks of steps (:func:`recover_init`, :func:`recover_steps`).

    Attributes:
        params: the weights being trained (direct: the compressed start, fine-tuned).
        opt_state: the recovery optimizer's state (L-C: an :class:`LCState`, holding ``theta``).
        masks: direct: the held pruning masks (bool pytree like ``params``) or None for a scheme
            without masks; L-C: None.
        step: int32 scalar, the steps done.
    """

    params: PyTree
    opt_state: Any
    masks: PyTree | None
    step: jax.Array


def _recovery_optimizer(scheme, method, optimizer, masks, l_steps, mu_init, mu_growth):
    if method == "direct":
        return _held(optimizer, masks)
    return lc(scheme, optimizer, l_steps=l_steps, mu_init=mu_init, mu_growth=mu_growth)


def _check_state(state):
    if not isinstance(state, RecoverState):
        raise TypeError(f"state must be the RecoverState of recover_init; got {state!r:.80}")


def _check_method(scheme, method, optimizer):
    v.check_choice(method, "method", ("direct", "lc"))
    v.check_optimizer(optimizer)
    if not callable(getattr(scheme, "project", None)):
        raise TypeError(f"scheme must be a jaxml.compress scheme; got {scheme!r}")


def recover_init(
    scheme: Any,
    params: PyTree,
    *,
    method: str,
    optimizer: optax.GradientTransformation,
    l_steps: int = 50,
    mu_init: float = 1e-3,
    mu_growth: float = 1.1,
) -> RecoverState:
    """The start of :func:`recover`'s ``method`` ("direct" or "lc") run, before any step.

    Direct: ``params`` compressed and decompressed, with the scheme's masks to hold; L-C: the
    wrapper's ``init`` (the first C-step). Arguments as :func:`recover`. Pure and jit-safe.
    """
    _check_method(scheme, method, optimizer)
    masks = None
    if method == "direct":
        _, params, masks = _direct_start(scheme, params)
    opt = _recovery_optimizer(scheme, method, optimizer, masks, l_steps, mu_init, mu_growth)
    return RecoverState(params, opt.init(params), masks, jnp.zeros((), jnp.int32))


def recover_steps(
    scheme: Any,
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    state: RecoverState,
    x: jax.Array,
    y: jax.Array,
    *,
    method: str,
    optimizer: optax.GradientTransformation,
    num_steps: int,
    batch_size: int,
    key: jax.Array,
    l_steps: int = 50,
    mu_init: float = 1e-3,
    mu_growth: float = 1.1,
    unroll: int = 1,
) -> RecoverState:
    """``num_steps`` more steps of :func:`recover`'s run from ``state`` (resumable).

    The batches are those of global steps ``state.step, ..., state.step + num_steps - 1``, so
    chunks run one after another equal one ``recover`` of their total length. Arguments as
    :func:`recover` (the same for every chunk); ``unroll``: ``lax.scan``'s unroll factor
    (``num_steps``: no loop in the compiled program). Pure and jit-safe.
    """
    _check_method(scheme, method, optimizer)
    _check_state(state)
    v.check_callable(apply_fn, "apply_fn")
    v.check_key(key)
    num_steps = v.check_int(num_steps, "num_steps", minimum=1)
    opt = _recovery_optimizer(scheme, method, optimizer, state.masks, l_steps, mu_init, mu_growth)
    out = optax_scan(
        _loss(apply_fn),
        opt,
        state.params,
        state.opt_state,
        batch_fn=_batch_fn(x, y, batch_size, key),
        num_steps=num_steps,
        start_step=state.step,
        unroll=v.check_int(unroll, "unroll", minimum=1),
    )
    return RecoverState(out.params, out.opt_state, state.masks, state.step + num_steps)


def recover_result(scheme: Any, state: RecoverState, *, method: str) -> tuple[PyTree, Any]:
    """``(stored, aux)`` at the end of a run: direct compresses the fine-tuned params, L-C its
    ``theta``. Pure and jit-safe."""
    v.check_choice(method, "method", ("direct", "lc"))
    _check_state(state)
    return scheme.compress(state.params if method == "direct" else lc_theta(state.opt_state))
