"""What every compression scheme shares: argument checks and the aux types it returns."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxml import _validation as v
from jaxml._validation import PyTree


class PruneAux(NamedTuple):
    """Aux of a pruning scheme.

    Attributes:
        masks: a pytree shaped like the params; bool arrays, True where a weight is kept (every
            leaf the scheme did not select has an all-True mask).
    """

    masks: PyTree


class QuantAux(NamedTuple):
    """Aux of :class:`jaxml.compress.Quantize`.

    Attributes:
        scales: a pytree shaped like the params: for a quantized leaf, an array in the leaf's
            original float dtype that multiplies the stored values (int8: per-channel scales
            ``[1, ..., 1, c]``; float16/bfloat16: a 0-d one); ``None`` for a leaf left alone.
    """

    scales: PyTree


def check_density(density: Any, name: str = "density") -> Any:
    """A real scalar in ``(0, 1]``; checked when concrete, passed through when traced.

    A traced density lets one compiled program serve every density (a sweep or a search jits
    once): the number of kept units is computed in the graph, the arrays keep their shapes.
    """
    v.check_scalar(density, name, minimum=0.0, maximum=1.0, min_open=True)
    return float(density) if v.is_concrete(density) else density


def check_params(params: PyTree, name: str = "params") -> None:
    """``params`` is a non-empty pytree of float arrays (finite when concrete)."""
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise ValueError(f"{name} must hold at least one array; got an empty pytree")
    for leaf in leaves:
        if not hasattr(leaf, "dtype") or not hasattr(leaf, "shape"):
            raise TypeError(f"{name} must be a pytree of arrays; got a leaf {leaf!r}")
        if np.dtype(leaf.dtype).kind not in "fiu" and leaf.dtype != jax.numpy.bfloat16:
            raise TypeError(f"{name} must hold numeric arrays; got a {leaf.dtype} leaf")
    v.check_tree_finite(params, name)


def check_aux(aux: Any, cls: type, name: str = "aux") -> Any:
    if not isinstance(aux, cls):
        raise TypeError(f"{name} must be the {cls.__name__} returned by compress; got {aux!r}")
    return aux


def num_kept(density: Any, n: int) -> Any:
    """``round(density * n)`` clipped to ``[1, n]``: how many of ``n`` units a density keeps.

    A Python int for a concrete density, an int32 scalar for a traced one.
    """
    if v.is_concrete(density):
        return max(1, min(n, int(np.floor(float(density) * n + 0.5))))
    k = jnp.floor(jnp.asarray(density, jnp.float32) * n + 0.5).astype(jnp.int32)
    return jnp.clip(k, 1, n)
