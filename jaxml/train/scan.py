"""Many optax steps as one ``lax.scan``: the inner loop every trainer in jaxml shares.

``optax_scan`` runs ``T`` gradient steps of ``loss_fn`` with an optax optimizer inside one compiled
loop, taking each step's batch either from arrays with a leading ``T`` axis (``batches=``) or from a
function of the step index (``batch_fn=``, e.g. a :mod:`jaxml.train.sampler` gather), so the
data never round-trips to the host between steps.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxml import _validation as v
from jaxml._validation import PyTree


class ScanResult(NamedTuple):
    """What :func:`optax_scan` returns.

    Attributes:
        params: the parameters after the last step.
        opt_state: the optimizer state after the last step.
        losses: ``[T]`` the loss of each step's batch, evaluated *before* that step's update.
        aux: ``[T, ...]`` the auxiliary outputs of ``loss_fn`` per step (None without
            ``has_aux``).
    """

    params: PyTree
    opt_state: PyTree
    losses: jax.Array
    aux: Any


def optax_scan(
    loss_fn: Callable[..., Any],
    optimizer: optax.GradientTransformation,
    params: PyTree,
    opt_state: PyTree,
    *,
    batches: Any = None,
    batch_fn: Callable[[jax.Array], tuple] | None = None,
    num_steps: int | None = None,
    start_step: jax.Array | int = 0,
    has_aux: bool = False,
    unroll: int = 1,
) -> ScanResult:
    """Runs ``T`` steps ``params <- params + optimizer(grad loss_fn(params, *batch_t))``.

    Give exactly one of:

    - ``batches``: a tuple of arrays (or pytrees) with a leading ``T`` axis; step ``t`` calls
      ``loss_fn(params, *[b[t] for b in batches])``;
    - ``batch_fn`` with ``num_steps``: step ``t`` calls
      ``loss_fn(params, *batch_fn(start_step + t))`` (``batch_fn`` must return a tuple).

    Args:
        loss_fn: ``loss_fn(params, *batch) -> loss`` (or ``(loss, aux)`` with ``has_aux``).
        optimizer: an optax gradient transformation; ``opt_state`` is its state for ``params``.
        params, opt_state: the starting point.
        batches, batch_fn, num_steps: where each step's batch comes from (see above).
        start_step: the global index of the first step (for ``batch_fn``; a resumed run passes
            the step it resumes at).
        has_aux: whether ``loss_fn`` returns ``(loss, aux)``.
        unroll: ``lax.scan``'s unroll factor.

    Returns:
        A :class:`ScanResult`. Pure and jit-safe; non-finite losses are returned, not raised (the
        caller's loop decides, see ``experiments.harness.train_loop``).
    """
    v.check_callable(loss_fn, "loss_fn")
    v.check_optimizer(optimizer)
    v.check_tree_finite(params, "params")
    if v.is_concrete(start_step):
        v.check_int(start_step, "start_step", minimum=0)
    if (batches is None) == (batch_fn is None):
        raise ValueError(
            "give exactly one of batches (arrays [T, ...]) or batch_fn (with num_steps)"
        )
    if batches is not None:
        batches = tuple(batches) if isinstance(batches, list | tuple) else (batches,)
        lengths = {
            jnp.shape(leaf)[0] if jnp.ndim(leaf) else None for leaf in jax.tree.leaves(batches)
        }
        if not lengths or None in lengths or len(lengths) != 1:
            raise ValueError(
                "batches must be arrays with one shared leading T axis; got leading sizes "
                f"{lengths}"
            )
        if num_steps is not None:
            raise ValueError("num_steps is implied by batches' leading axis; do not pass both")
        xs = batches
    else:
        v.check_callable(batch_fn, "batch_fn")
        num_steps = v.check_int(num_steps, "num_steps", minimum=1)
        xs = jnp.asarray(start_step, jnp.int32) + jnp.arange(num_steps, dtype=jnp.int32)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=has_aux)

    def body(carry, x):
        p, s = carry
        batch = x if batches is not None else batch_fn(x)
        if not isinstance(batch, tuple):
            raise TypeError(
                f"batch_fn must return a tuple of arguments; got {type(batch).__name__}"
            )
        out, grads = grad_fn(p, *batch)
        loss, aux = out if has_aux else (out, None)
        updates, s = optimizer.update(grads, s, p)
        return (optax.apply_updates(p, updates), s), (loss, aux)

    (params, opt_state), (losses, aux) = jax.lax.scan(body, (params, opt_state), xs, unroll=unroll)
    return ScanResult(params, opt_state, losses, aux)


def scan_steps(
    step_fn: Callable[..., tuple[Any, Any]],
    state: PyTree,
    *,
    num_steps: int,
    start_step: jax.Array | int = 0,
    args: tuple = (),
    unroll: int = 1,
) -> tuple[PyTree, Any]:
    """``T`` calls ``state, out_t = step_fn(state, t, *args)`` as one ``lax.scan``.

    For a step that is not a plain optax update (a data-parallel step with collectives, a swept
    step over stacked configurations): ``t`` runs over ``start_step, ..., start_step + T - 1``
    (int32), e.g. for a :func:`jaxml.train.sampled_step` that draws step ``t``'s batch, and
    ``args`` (the data) are passed unchanged to every step.

    Args:
        step_fn: ``step_fn(state, t, *args) -> (state, out)``; ``out`` any pytree of arrays.
        state: the starting state (the scan carry: ``step_fn`` must keep its structure).
        num_steps: ``T >= 1``.
        start_step: the global index of the first step (a resumed run passes its step).
        args: extra arguments shared by every step.
        unroll: ``lax.scan``'s unroll factor.

    Returns:
        ``(state, outs)``: the state after the last step and the outputs stacked ``[T, ...]``.
        Pure and jit-safe.
    """
    v.check_callable(step_fn, "step_fn")
    num_steps = v.check_int(num_steps, "num_steps", minimum=1)
    if not isinstance(args, tuple):
        raise TypeError(f"args must be a tuple of step arguments; got {type(args).__name__}")
    ts = jnp.asarray(start_step, jnp.int32) + jnp.arange(num_steps, dtype=jnp.int32)
    return jax.lax.scan(lambda s, t: step_fn(s, t, *args), state, ts, unroll=unroll)
