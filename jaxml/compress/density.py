"""Density of a compressed model: the fraction of its weights that survive."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxml import _validation as v
from jaxml._validation import PyTree
from jaxml.compress._base import PruneAux, QuantAux

__all__ = ["density", "masks_of"]


def masks_of(aux) -> PyTree | None:
    """The masks inside an aux (``PruneAux``, or the first ``PruneAux`` of a ``Compose`` aux)."""
    if isinstance(aux, PruneAux):
        return aux.masks
    if isinstance(aux, tuple) and not hasattr(aux, "_fields"):
        for a in aux:
            m = masks_of(a)
            if m is not None:
                return m
        return None
    if aux is None or isinstance(aux, QuantAux):
        return None
    raise TypeError(
        f"aux must be what a jaxml.compress scheme's compress returned; got {aux!r:.80}"
    )


def density(params: PyTree, masks: PyTree | None = None) -> jax.Array:
    """Fraction of the weights of ``params`` that are kept, over every leaf.

    Args:
        params: a pytree of arrays.
        masks: boolean masks shaped like ``params`` (the ``masks`` of a ``PruneAux``; a
            ``PruneAux`` or ``Compose`` aux is accepted too). ``None`` counts the non-zero
            entries of ``params`` instead.

    Returns:
        A float32 scalar in ``[0, 1]``: kept entries / all entries. Jit-safe.
    """
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise ValueError("params must hold at least one array; got an empty pytree")
    for leaf in leaves:
        if not hasattr(leaf, "shape"):
            raise TypeError(f"params must be a pytree of arrays; got a leaf {leaf!r}")
    if masks is not None and not jax.tree.leaves(masks) and not isinstance(masks, PruneAux):
        raise ValueError("masks must be a pytree of bool arrays shaped like params; got no leaf")
    if masks is not None and not hasattr(masks, "shape"):
        found = masks_of(masks) if isinstance(masks, tuple) else None
        if found is not None:
            masks = found
        elif isinstance(masks, tuple) and not hasattr(masks, "_fields"):
            raise TypeError(
                "masks must be a pytree of bool arrays (or a PruneAux); got an aux without masks"
            )
    if masks is None:
        kept = sum(jnp.sum(leaf != 0) for leaf in leaves)
    else:
        v.check_same_structure(params, masks, "params", "masks")
        for m in jax.tree.leaves(masks):
            if np.dtype(m.dtype) != np.bool_:
                raise TypeError(f"masks must hold bool arrays; got a {m.dtype} leaf")
        kept = sum(jnp.sum(m) for m in jax.tree.leaves(masks))
    total = sum(int(np.size(leaf)) for leaf in leaves)
    return jnp.asarray(kept, jnp.float32) / total
