"""Which parameter leaves a compression scheme touches: a filter on the leaves' paths.

A leaf's path is the ``/``-joined keys from the root of the pytree, e.g.
``params/dense_0/kernel`` for a flax MLP. :class:`Layers` selects leaves by regular expressions
on that path (``re.search``) and by rank, so "every kernel but the last layer" reads
``Layers(exclude=("head",))``.
"""

import re
from collections.abc import Sequence
from typing import NamedTuple

import jax
import numpy as np

from jaxml import _validation as v
from jaxml._validation import PyTree

__all__ = ["Layers", "leaf_path", "select_leaves"]


def leaf_path(path: tuple) -> str:
    """``(DictKey('params'), DictKey('head'), DictKey('kernel'))`` -> ``"params/head/kernel"``."""
    parts = []
    for k in path:
        for attr in ("key", "name", "idx"):
            if hasattr(k, attr):
                parts.append(str(getattr(k, attr)))
                break
        else:
            parts.append(str(k))
    return "/".join(parts)


class Layers(NamedTuple):
    """A filter over parameter leaves by path and rank.

    A leaf is selected when its rank lies in ``[min_ndim, max_ndim]``, its path matches at least
    one ``include`` pattern (every path when ``include`` is empty) and no ``exclude`` pattern.

    Attributes:
        include: regular expressions (``re.search`` on the ``/``-joined path); empty = all.
        exclude: regular expressions; a matching leaf is left alone (e.g. ``("head",)`` keeps the
            output layer dense).
        min_ndim: smallest rank selected (2 by default: kernels, not biases).
        max_ndim: largest rank selected (``None``: no limit).
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    min_ndim: int = 2
    max_ndim: int | None = None


def _check_patterns(patterns, name: str) -> tuple[str, ...]:
    if isinstance(patterns, str):
        patterns = (patterns,)
    if not isinstance(patterns, Sequence):
        raise TypeError(f"{name} must be a tuple of regular expressions; got {patterns!r}")
    for p in patterns:
        v.check_str(p, name)
        try:
            re.compile(p)
        except re.error as e:
            raise ValueError(f"{name} holds an invalid regular expression {p!r}: {e}") from None
    return tuple(patterns)


def check_layers(layers, name: str = "layers") -> Layers:
    """``layers`` must be a :class:`Layers` (``None`` gives the default ``Layers()``)."""
    if layers is None:
        return Layers()
    if not isinstance(layers, Layers):
        raise TypeError(f"{name} must be a jaxml.compress.Layers filter or None; got {layers!r}")
    include = _check_patterns(layers.include, f"{name}.include")
    exclude = _check_patterns(layers.exclude, f"{name}.exclude")
    v.check_int(layers.min_ndim, f"{name}.min_ndim", minimum=0)
    if layers.max_ndim is not None:
        v.check_int(layers.max_ndim, f"{name}.max_ndim", minimum=layers.min_ndim)
    return Layers(include, exclude, layers.min_ndim, layers.max_ndim)


def select_leaves(params: PyTree, layers: Layers | None = None, *, name: str = "layers") -> PyTree:
    """A pytree of Python bools shaped like ``params``: True where ``layers`` selects the leaf.

    Raises:
        ValueError: ``params`` has no array leaf, or the filter selects none of them (the message
            lists the paths it saw).
    """
    layers = check_layers(layers, name)
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    if not flat:
        raise ValueError("params must hold at least one array; got an empty pytree")
    chosen = []
    for path, leaf in flat:
        p = leaf_path(path)
        nd = np.ndim(leaf)
        ok = nd >= layers.min_ndim and (layers.max_ndim is None or nd <= layers.max_ndim)
        ok = ok and (not layers.include or any(re.search(q, p) for q in layers.include))
        ok = ok and not any(re.search(q, p) for q in layers.exclude)
        chosen.append(ok)
    if not any(chosen):
        seen = ", ".join(f"{leaf_path(p)} {tuple(np.shape(x))}" for p, x in flat[:12])
        raise ValueError(
            f"{name} matches no parameter leaf ({layers}); leaves are: {seen}"
            + (" ..." if len(flat) > 12 else "")
        )
    return jax.tree_util.tree_unflatten(treedef, chosen)
