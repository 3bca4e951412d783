"""Supervised classification: loss, accuracy and a pure optax training step for any flax model.

The step is the reference cost of "plain training" that the paper modules (IFT hyperparameter
optimization, DC-S3GD, compression) compare their own steps against.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxml import _validation as v
from jaxml._validation import PyTree

ApplyFn = Callable[[PyTree, jax.Array], jax.Array]


class TrainState(NamedTuple):
    """State of :func:`make_train_step`: a pytree, so it can be jitted, donated and checkpointed.

    Attributes:
        params: model parameters.
        opt_state: the optax optimizer state.
        step: int32 scalar, number of updates applied so far.
    """

    params: PyTree
    opt_state: PyTree
    step: jax.Array


def _check_logits_labels(logits, labels, *, logits_name: str = "logits") -> None:
    """``logits`` ``[n, c]`` floats, ``labels`` ``[n]`` ints in ``[0, c)`` (values if concrete)."""
    n, c = v.check_array(logits, logits_name, ndim=2, dtype="float", min_size=1)
    v.check_array(labels, "labels", shape=(n,), dtype="int", minimum=0, maximum=c - 1)


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of ``logits`` ``[n, c]`` against integer ``labels`` ``[n]``.

    Labels must lie in ``[0, c)`` (checked when concrete; optax would silently wrap -1 to the
    last class). NaN logits raise when concrete and pass through under ``jit``.
    """
    _check_logits_labels(logits, labels)
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Fraction of rows of ``logits`` ``[n, c]`` whose argmax equals ``labels`` ``[n]``."""
    _check_logits_labels(logits, labels)
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)


def init_train_state(params: PyTree, optimizer: optax.GradientTransformation) -> TrainState:
    """Returns the :class:`TrainState` at step 0 for ``params`` (finite, when concrete)."""
    v.check_optimizer(optimizer)
    if not jax.tree.leaves(params):
        raise ValueError("params must hold at least one array; got an empty pytree")
    v.check_tree_finite(params, "params")
    return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32))


def _check_batch(x, y, *, x_name: str = "x", y_name: str = "y") -> int:
    """``x`` ``[n, ...]`` finite floats and ``y`` ``[n]`` non-negative int labels; returns n."""
    shape = v.check_array(x, x_name, min_ndim=1, dtype="float")
    v.check_array(y, y_name, shape=(shape[0],), dtype="int", minimum=0)
    return shape[0]


def make_train_step(
    apply_fn: ApplyFn, optimizer: optax.GradientTransformation
) -> Callable[[TrainState, jax.Array, jax.Array], tuple[TrainState, dict[str, jax.Array]]]:
    """Builds ``step(state, x, y) -> (state, {"loss", "accuracy"})``: one optax update on a batch.

    Args:
        apply_fn: ``apply_fn(params, x) -> logits [n, c]`` (e.g. ``model.apply``).
        optimizer: any optax gradient transformation.

    Returns:
        A pure, jit-safe function; the metrics are those of the batch *before* the update. The
        batch's shapes are checked when it is traced and its values when it is concrete. Under
        ``jit`` a non-finite loss is not an error: it is returned in the metrics (the loop that
        calls the step decides; :func:`experiments.harness.train_loop` stops on it).
    """
    v.check_callable(apply_fn, "apply_fn")
    v.check_optimizer(optimizer)

    def loss_fn(params, x, y):
        logits = apply_fn(params, x)
        return cross_entropy(logits, y), logits

    def step(state: TrainState, x: jax.Array, y: jax.Array):
        _check_batch(x, y)
        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, x, y)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        new_state = TrainState(params, opt_state, state.step + 1)
        return new_state, {"loss": loss, "accuracy": accuracy(logits, y)}

    return step


def evaluate(
    apply_fn: ApplyFn, params: PyTree, x: jax.Array, y: jax.Array, *, batch_size: int = 1024
) -> dict[str, jax.Array]:
    """Mean loss and accuracy of ``apply_fn(params, .)`` over ``x`` ``[n, ...]``, ``y`` ``[n]``.

    Jit-safe: the rows are padded to a multiple of ``batch_size`` and mapped over in chunks with
    ``lax.map`` (padding masked out), so memory stays at one chunk's activations. Jit it at the
    call site, e.g. ``jax.jit(lambda p, x, y: evaluate(model.apply, p, x, y))``.
    """
    v.check_callable(apply_fn, "apply_fn")
    n = _check_batch(x, y)
    if n == 0:
        raise ValueError("x must have at least one row (example); got shape (0, ...)")
    batch_size = v.check_int(batch_size, "batch_size", minimum=1)
    v.check_tree_finite(params, "params")
    out = jax.eval_shape(apply_fn, params, x[:1])
    if len(out.shape) != 2:
        raise ValueError(f"apply_fn must return logits [n, c]; got shape {out.shape} for one row")
    v.check_array(y, "y", maximum=out.shape[1] - 1)
    batch_size = min(batch_size, n)
    num_chunks = -(-n // batch_size)
    pad = num_chunks * batch_size - n
    xp = jnp.pad(jnp.asarray(x), [(0, pad)] + [(0, 0)] * (x.ndim - 1))
    yp = jnp.pad(jnp.asarray(y), (0, pad))
    mask = jnp.arange(num_chunks * batch_size) < n
    chunks = (
        xp.reshape(num_chunks, batch_size, *x.shape[1:]),
        yp.reshape(num_chunks, batch_size),
        mask.reshape(num_chunks, batch_size),
    )

    def chunk_sums(args):
        xb, yb, mb = args
        logits = apply_fn(params, xb)
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, yb)
        correct = jnp.argmax(logits, axis=-1) == yb
        return jnp.sum(jnp.where(mb, losses, 0.0)), jnp.sum(jnp.where(mb, correct, 0.0))

    losses, correct = jax.lax.map(chunk_sums, chunks)
    return {"loss": jnp.sum(losses) / n, "accuracy": jnp.sum(correct) / n}
