"""The per-device data-parallel training step, written once for every driver.

The step sees one device's shard of the global batch and talks to the other devices only through
collectives over a named axis (``lax.pmean`` inside the optimizer, e.g. :func:`sync_sgd` or
:func:`dc_s3gd`, and for the reported metrics). It therefore runs unchanged under
``jax.pmap(step, axis_name=...)``, under ``jax.shard_map`` over a 1-D mesh, and under
``jax.vmap(step, axis_name=...)`` (K simulated workers on one device); see
:mod:`jaxml.parallel.drivers`.
"""

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import optax

from jaxml import _validation as v
from jaxml.models.classifier import TrainState, make_train_step
from jaxml.parallel._checks import check_axis_name

PyTree = Any
ApplyFn = Callable[[PyTree, jax.Array], jax.Array]
Step = Callable[[TrainState, jax.Array, jax.Array], tuple[TrainState, dict[str, jax.Array]]]


def make_data_parallel_step(
    apply_fn: ApplyFn,
    optimizer: optax.GradientTransformation,
    *,
    axis_name: str | tuple[str, ...] | None,
) -> Step:
    """Builds the per-device ``step(state, x, y) -> (state, {"loss", "accuracy"})``.

    On device ``k`` with its shard ``x^k`` ``[b, ...]``, ``y^k`` ``[b]`` of the global batch
    ``[K * b, ...]``: ``g^k = grad_w CE(apply_fn(w^k, x^k), y^k)``, then
    ``updates, opt_state = optimizer.update(g^k, opt_state, w^k)`` and ``w^k += updates``. The
    optimizer is responsible for averaging gradients over ``axis_name`` (sync SGD averages before
    its step; DC-S3GD issues the average and applies an earlier one). The metrics are the batch
    loss and accuracy *before* the update, averaged over the axis (so they describe the global
    batch when the shards have equal size).

    Args:
        apply_fn: ``apply_fn(params, x) -> logits [b, c]``.
        optimizer: an optax transform built with the same ``axis_name`` (or None for one device).
        axis_name: the mapped axis of the devices; None for a single device.

    Returns:
        A pure, jit-safe per-device function.
    """
    v.check_callable(apply_fn, "apply_fn")
    if isinstance(apply_fn, nn.Module):
        raise TypeError(
            f"apply_fn must be apply_fn(params, x) -> logits, e.g. model.apply; got the module "
            f"{type(apply_fn).__name__} itself"
        )
    v.check_optimizer(optimizer)
    axis_name = check_axis_name(axis_name)

    base_step = make_train_step(apply_fn, optimizer)  # the plain step; the all-reduce of the
    # gradients happens inside the optimizer (sync_sgd / dc_s3gd), so only metrics are averaged.

    def step(state: TrainState, x: jax.Array, y: jax.Array):
        new_state, metrics = base_step(state, x, y)
        if axis_name is not None:
            metrics = jax.lax.pmean(metrics, axis_name)
        return new_state, metrics

    return step
