"""Direct compression: compress once, fine-tune with the pruning masks held, compress again."""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxml import _validation as v
from jaxml._validation import PyTree
from jaxml.compress.density import masks_of
from jaxml.train import optax_scan

__all__ = ["direct", "hold_masks"]


def hold_masks(masks: PyTree) -> optax.GradientTransformation:
    """A stateless optax transform that zeroes the updates of pruned weights.

    Chain it last (``optax.chain(optax.adam(lr), hold_masks(masks))``) so pruned weights stay
    exactly 0 while the others train. ``masks``: bool arrays shaped like the params.
    """
    leaves = jax.tree.leaves(masks)
    if not leaves:
        raise ValueError("masks must be a pytree of bool arrays shaped like params; got no leaf")
    for m in leaves:
        if not hasattr(m, "dtype") or jnp.dtype(m.dtype) != jnp.bool_:
            raise TypeError(f"masks must hold bool arrays; got {m!r:.60}")

    def init(params):
        v.check_same_structure(params, masks, "params", "masks")
        return optax.EmptyState()

    def update(updates, state, params=None):
        del params
        return jax.tree.map(lambda u, m: jnp.where(m, u, jnp.zeros_like(u)), updates, masks), state

    return optax.GradientTransformation(init, update)


def direct(
    scheme: Any,
    loss_fn: Callable[..., jax.Array],
    optimizer: optax.GradientTransformation,
    params: PyTree,
    *,
    batch_fn: Callable[[jax.Array], tuple],
    num_steps: int,
) -> tuple[PyTree, Any]:
    """Direct compression with fine-tuning (Condensa's baseline to L-C).

    ``compress -> decompress -> num_steps`` of ``optimizer`` on ``loss_fn(params, *batch_fn(t))``
    with the pruning masks held (:func:`hold_masks`; no masks for a pure quantization) ``->
    compress``. Jit-safe (jit it with ``static_argnames=("num_steps",)`` around the closure).

    Returns:
        ``(stored, aux)`` of the final compression (``scheme.decompress(stored, aux)`` runs).
    """
    if not callable(getattr(scheme, "project", None)):
        raise TypeError(f"scheme must be a jaxml.compress scheme; got {scheme!r}")
    v.check_callable(loss_fn, "loss_fn")
    v.check_optimizer(optimizer)
    v.check_callable(batch_fn, "batch_fn")
    num_steps = v.check_int(num_steps, "num_steps", minimum=0)
    (stored, aux), start, masks = _direct_start(scheme, params)
    if num_steps == 0:
        return stored, aux
    opt = _held(optimizer, masks)
    out = optax_scan(loss_fn, opt, start, opt.init(start), batch_fn=batch_fn, num_steps=num_steps)
    return scheme.compress(out.params)


def _direct_start(scheme: Any, params: PyTree) -> tuple[tuple[PyTree, Any], PyTree, PyTree | None]:
    """Where direct fine-tuning starts: ``((stored, aux), start, masks)`` with ``(stored, aux)``
    the first compression, ``start`` its decompressed weights and ``masks`` the pruning masks to
    hold (None for a scheme without masks). Shared by :func:`direct` and
    :func:`jaxml.compress.classify.recover_init`."""
    stored, aux = scheme.compress(params)
    return (stored, aux), scheme.decompress(stored, aux), masks_of(aux)


def _held(optimizer: optax.GradientTransformation, masks: PyTree | None):
    """``optimizer`` then :func:`hold_masks` (``optimizer`` itself when ``masks`` is None)."""
    return optimizer if masks is None else optax.chain(optimizer, hold_masks(masks))
