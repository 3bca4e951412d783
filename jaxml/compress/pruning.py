"""Pruning schemes: global magnitude (:class:`Prune`), neurons/filters by L2 norm, blocks.

Each scheme is a small immutable object with pure, jit-safe methods

- ``compress(params) -> (params, PruneAux(masks))``: the pruned params (zeros where the mask is
  False) and the boolean masks, a pytree shaped like ``params``;
- ``decompress(params, aux) -> params``: the float params to run (pruning stores float values, so
  this is the identity on values and only checks the aux);
- ``project(params) = decompress(*compress(params))``: the Euclidean projection onto the
  scheme's feasible set, which the L-C algorithm's C-step calls.

The number of surviving units is ``round(density * n)`` (at least one), so the masks have exactly
that many True entries whatever the values. ``density`` may be a traced scalar (a scheme built
inside a jitted function from an argument), so one compiled program serves every density.
Ties in magnitude are broken by position (a stable sort), so the count is exact even when many
weights are equal.
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxml import _validation as v
from jaxml._validation import PyTree
from jaxml.compress._base import PruneAux, check_aux, check_density, check_params, num_kept
from jaxml.compress.layers import Layers, check_layers, leaf_path, select_leaves

__all__ = ["BlockPrune", "FilterPrune", "NeuronPrune", "Prune"]


def _top_k_mask(scores: jax.Array, k: int) -> jax.Array:
    """Bool ``[n]``: True at the ``k`` largest ``scores`` (ties: the later index wins).

    ``k`` may be traced (the mask's shape does not depend on it)."""
    n = scores.shape[0]
    order = jnp.argsort(scores, stable=True)
    return jnp.zeros(n, bool).at[order].set(jnp.arange(n) >= n - k)


class _Scheme:
    """Shared plumbing: ``project`` and a readable repr."""

    def project(self, params: PyTree) -> PyTree:
        """``decompress(*compress(params))``: the nearest compressed point (the C-step)."""
        return self.decompress(*self.compress(params))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={val!r}" for k, val in vars(self).items())
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self)))


class _PruneScheme(_Scheme):
    def decompress(self, params: PyTree, aux: PruneAux) -> PyTree:
        """The float params to run: ``params`` itself (pruned values are stored as zeros)."""
        check_aux(aux, PruneAux)
        v.check_same_structure(params, aux.masks, "params", "aux.masks")
        return params

    def _apply(self, params: PyTree, masks: PyTree) -> tuple[PyTree, PruneAux]:
        pruned = jax.tree.map(lambda w, m: jnp.where(m, w, jnp.zeros_like(w)), params, masks)
        return pruned, PruneAux(masks)


class Prune(_PruneScheme):
    """Global magnitude pruning: keep the ``round(density * n)`` largest ``|w|`` over the leaves.

    ``n`` counts the weights of every selected leaf together (one threshold for the whole model,
    Condensa's ``Prune``). Leaves the filter leaves out keep all their weights.

    Args:
        density: fraction of the selected weights kept, in ``(0, 1]``.
        layers: which leaves to prune (:class:`~jaxml.compress.Layers`; default: every leaf of
            rank >= 2, i.e. kernels and not biases).
    """

    def __init__(self, density: float, layers: Layers | None = None):
        self.density = check_density(density)
        self.layers = check_layers(layers)

    def compress(self, params: PyTree) -> tuple[PyTree, PruneAux]:
        """Returns ``(pruned params, PruneAux(masks))``; jit-safe."""
        check_params(params)
        sel = select_leaves(params, self.layers)
        leaves, treedef = jax.tree.flatten(params)
        chosen = jax.tree.leaves(sel)
        picked = [w for w, c in zip(leaves, chosen, strict=True) if c]
        scores = jnp.concatenate([jnp.abs(w).astype(jnp.float32).ravel() for w in picked])
        keep = _top_k_mask(scores, num_kept(self.density, scores.shape[0]))
        masks, start = [], 0
        for w, c in zip(leaves, chosen, strict=True):
            if c:
                masks.append(keep[start : start + w.size].reshape(w.shape))
                start += w.size
            else:
                masks.append(jnp.ones(w.shape, bool))
        return self._apply(params, jax.tree.unflatten(treedef, masks))


class _ChannelPrune(_PruneScheme):
    """Structured pruning of the last axis (output channel) by the L2 norm of its slice."""

    _default: Layers

    def __init__(self, density: float, layers: Layers | None = None):
        self.density = check_density(density)
        self.layers = check_layers(self._default if layers is None else layers)

    def compress(self, params: PyTree) -> tuple[PyTree, PruneAux]:
        """Returns ``(pruned params, PruneAux(masks))``; jit-safe."""
        check_params(params)
        sel = select_leaves(params, self.layers)
        flat, treedef = jax.tree_util.tree_flatten_with_path(params)
        chosen = jax.tree.leaves(sel)
        paths = [leaf_path(p) for p, _ in flat]
        channel = {}  # path -> keep [c]
        for (_, w), c, p in zip(flat, chosen, paths, strict=True):
            if c:
                sq = jnp.square(w.astype(jnp.float32))
                norms = jnp.sqrt(jnp.sum(sq, axis=tuple(range(w.ndim - 1))))
                channel[p] = _top_k_mask(norms, num_kept(self.density, w.shape[-1]))
        masks = []
        for (_, w), p in zip(flat, paths, strict=True):
            if p in channel:
                masks.append(jnp.broadcast_to(channel[p], w.shape))
                continue
            # A bias next to a pruned kernel loses the same channels (its neuron is gone).
            parent = p.rsplit("/", 1)[0] if "/" in p else ""
            kernel = f"{parent}/kernel" if parent else "kernel"
            if p.endswith("bias") and kernel in channel and w.shape == channel[kernel].shape:
                masks.append(channel[kernel])
            else:
                masks.append(jnp.ones(w.shape, bool))
        return self._apply(params, jax.tree.unflatten(treedef, masks))


class NeuronPrune(_ChannelPrune):
    """Structured pruning of dense layers: keep the ``round(density * c)`` output neurons
    (kernel columns ``[:, j]`` of a ``[d_in, c]`` kernel) with the largest L2 norm, per layer.

    A pruned neuron's bias (the sibling leaf ``bias`` of shape ``[c]``) is zeroed too, so the
    neuron outputs ``activation(0)`` and :func:`jaxml.compress.shrink_mlp` can delete it.
    Exclude the output layer (``Layers(exclude=("head",), max_ndim=2)``) to keep every class.

    Args:
        density: fraction of neurons kept per layer, in ``(0, 1]``.
        layers: which kernels (default ``Layers(min_ndim=2, max_ndim=2)``: every dense kernel).
    """

    _default = Layers(min_ndim=2, max_ndim=2)


class FilterPrune(_ChannelPrune):
    """Structured pruning of convolutions: keep the ``round(density * c)`` output filters
    (``kernel[..., j]`` of a ``[kh, kw, c_in, c]`` or ``[k, c_in, c]`` kernel) with the largest
    L2 norm, per layer; the filter's bias entry is zeroed with it.

    Args:
        density: fraction of filters kept per layer, in ``(0, 1]``.
        layers: which kernels (default ``Layers(min_ndim=3)``: every conv kernel).
    """

    _default = Layers(min_ndim=3)


class BlockPrune(_PruneScheme):
    """Block pruning: tile each selected leaf into blocks of shape ``block`` and keep the
    ``round(density * B)`` blocks with the largest L2 norm over all ``B`` blocks of all selected
    leaves (one global threshold). Every block has the same size, so the weight density is exact.

    Args:
        density: fraction of blocks kept, in ``(0, 1]``.
        block: block shape, one int per axis of the selected leaves; must divide each of them.
        layers: which leaves (default: every leaf whose rank is ``len(block)``).
    """

    def __init__(self, density: float, block: Any, layers: Layers | None = None):
        self.density = check_density(density)
        if isinstance(block, str) or not hasattr(block, "__iter__"):
            raise TypeError(f"block must be a tuple of ints (one per leaf axis); got {block!r}")
        block = tuple(block)
        if not block:
            raise ValueError("block must hold at least one int; got ()")
        for b in block:
            v.check_int(b, "block", minimum=1)
        self.block = tuple(int(b) for b in block)
        default = Layers(min_ndim=len(block), max_ndim=len(block))
        self.layers = check_layers(default if layers is None else layers)

    def compress(self, params: PyTree) -> tuple[PyTree, PruneAux]:
        """Returns ``(pruned params, PruneAux(masks))``; jit-safe."""
        check_params(params)
        sel = select_leaves(params, self.layers)
        flat, treedef = jax.tree_util.tree_flatten_with_path(params)
        chosen = jax.tree.leaves(sel)
        norms, grids = [], []
        for (path, w), c in zip(flat, chosen, strict=True):
            if not c:
                continue
            if w.ndim != len(self.block) or any(
                s % b for s, b in zip(w.shape, self.block, strict=True)
            ):
                raise ValueError(
                    f"block {self.block} must divide every selected leaf's shape; "
                    f"{leaf_path(path)} has shape {tuple(w.shape)}"
                )
            grid = tuple(s // b for s, b in zip(w.shape, self.block, strict=True))
            split = [d for g, b in zip(grid, self.block, strict=True) for d in (g, b)]
            tiles = jnp.square(w.astype(jnp.float32)).reshape(split)
            norms.append(jnp.sqrt(jnp.sum(tiles, axis=tuple(range(1, 2 * w.ndim, 2)))).ravel())
            grids.append(grid)
        scores = jnp.concatenate(norms)
        keep = _top_k_mask(scores, num_kept(self.density, scores.shape[0]))
        masks, start, i = [], 0, 0
        for (_, w), c in zip(flat, chosen, strict=True):
            if not c:
                masks.append(jnp.ones(w.shape, bool))
                continue
            nb = int(np.prod(grids[i]))
            m = keep[start : start + nb].reshape(grids[i])
            for axis, b in enumerate(self.block):
                m = jnp.repeat(m, b, axis=axis)
            masks.append(m)
            start, i = start + nb, i + 1
        return self._apply(params, jax.tree.unflatten(treedef, masks))
