"""Run one step function for a whole batch of configurations at once (``vmap`` over a sweep).

A sweep over learning rates, seeds or sigma^2 values is one compiled program: the configurations
are stacked into arrays with a leading ``S`` axis (:func:`stack_configs`), and :func:`sweep` maps
the step over that axis while sharing the arguments that do not vary (the data).
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxml import _validation as v


def stack_configs(configs: Sequence[Mapping[str, Any]]) -> dict[str, jax.Array]:
    """``[{"lr": 0.1}, {"lr": 0.3}]`` -> ``{"lr": [0.1, 0.3]}``: configurations as stacked arrays.

    Every configuration must have the same keys, each a number (or an array of one shared shape).
    """
    if isinstance(configs, Mapping) or not isinstance(configs, Sequence) or not configs:
        raise ValueError(f"configs must be a non-empty sequence of mappings; got {configs!r}")
    for i, c in enumerate(configs):
        if not isinstance(c, Mapping):
            raise TypeError(f"configs[{i}] must be a mapping; got {type(c).__name__}")
    keys = list(configs[0])
    for i, c in enumerate(configs):
        if list(c) != keys:
            raise ValueError(f"configs[{i}] has keys {list(c)}; configs[0] has {keys}")
    return {k: jnp.asarray(np.stack([np.asarray(c[k]) for c in configs])) for k in keys}


def sweep(fn: Callable[..., Any], *, in_axes: Any = 0) -> Callable[..., Any]:
    """``jax.vmap(fn, in_axes)``, checked: the swept arguments must agree on the sweep size ``S``.

    Args:
        fn: a step or run function, e.g. ``step(state, config, data)``.
        in_axes: as for ``jax.vmap``: 0 for arguments with the leading sweep axis (the per-config
            state, the stacked config), None for shared ones (the data).

    Returns:
        The vmapped ``fn``; its outputs carry the leading ``S`` axis.
    """
    v.check_callable(fn, "fn")
    return jax.vmap(fn, in_axes=in_axes)


def sweep_size(tree: Any) -> int:
    """The shared leading axis size ``S`` of every leaf of a stacked sweep ``tree``."""
    sizes = {int(np.shape(leaf)[0]) for leaf in jax.tree.leaves(tree) if np.ndim(leaf) > 0}
    if len(sizes) != 1:
        raise ValueError(
            "tree: the swept leaves must share one leading size S; got leading sizes "
            f"{sorted(sizes)}"
        )
    return sizes.pop()


def seed_keys(seeds: Sequence[int]) -> jax.Array:
    """A batch ``[S]`` of PRNG keys, ``jax.random.key(seed)`` for each integer seed.

    The leading axis of a seed sweep (e.g. ``jaxml.hyperbolic.train_poincare_embeddings``
    trains one run per key together). Seeds must be distinct non-negative integers.
    """
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Sequence | np.ndarray):
        raise TypeError(f"seeds must be a sequence of integers; got {type(seeds).__name__}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must be a non-empty sequence of integers; got an empty one")
    for i, s in enumerate(seeds):
        v.check_int(s, f"seeds[{i}]", minimum=0)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    return jax.vmap(jax.random.key)(np.asarray(seeds, np.uint32))


def sweep_logs(losses: Any) -> dict[str, float | int]:
    """Progress logs of a sweep's losses: the mean of the finite ones and the non-finite count.

    A configuration that diverges inside a sweep (a large learning rate) is a result, not an
    error: its NaN must not reach a training loop's NaN-loss check, which would stop every other
    configuration of the sweep. So the returned ``"loss (finite runs)"`` (left out when no loss
    is finite) averages only the finite losses, and ``"non-finite runs"`` counts the others.

    Args:
        losses: the last losses of every configuration, any shape (e.g. ``[L, S]``).
    """
    last = np.asarray(losses)
    if last.dtype.kind not in "iuf":
        raise TypeError(f"losses must be a real array; got dtype {last.dtype}")
    finite = np.isfinite(last)
    logs: dict[str, float | int] = {"non-finite runs": int(last.size - finite.sum())}
    if finite.any():
        logs["loss (finite runs)"] = float(last[finite].mean())
    return logs
