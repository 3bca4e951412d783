"""Structured-pruned MLP -> a genuinely smaller dense MLP (fewer neurons, smaller matmuls).

After :class:`jaxml.compress.NeuronPrune` a hidden neuron whose kernel column is all zero
computes the constant ``activation(bias_j)`` (0 when the bias was pruned with it). Deleting it
(its column of ``K_i``, its ``bias_i`` entry and its row of ``K_{i+1}``) and adding
``activation(bias_j) * K_{i+1}[j, :]`` to ``bias_{i+1}`` gives a dense MLP of smaller widths
that computes the same function. This is host-side model surgery (concrete arrays, NumPy).
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxml import _validation as v
from jaxml._validation import PyTree
from jaxml.models import MLP

__all__ = ["ShrunkMLP", "shrink_mlp"]


class ShrunkMLP(NamedTuple):
    """What :func:`shrink_mlp` returns.

    Attributes:
        params: the smaller model's params (same layout as the input: ``{"params": {...}}`` if
            the input had that top level).
        apply: ``apply(params, x) -> logits [n, c]`` (``module.apply``), jit it at the call site.
        module: the smaller :class:`jaxml.models.MLP` (``hidden`` = the surviving widths).
        hidden: surviving hidden widths.
        kept: per hidden layer, the indices (into the original layer) of the surviving neurons.
    """

    params: PyTree
    apply: Callable[[PyTree, jax.Array], jax.Array]
    module: nn.Module
    hidden: tuple[int, ...]
    kept: tuple[np.ndarray, ...]


def _layers(inner: dict) -> list[str]:
    names = [k for k in inner if k.startswith("dense_")]
    order = sorted(names, key=lambda k: int(k.split("_", 1)[1]) if k[6:].isdigit() else -1)
    if [f"dense_{i}" for i in range(len(order))] != order or "head" not in inner:
        raise ValueError(
            "params must be a jaxml.models.MLP's params (layers dense_0..dense_{L-1} and head); "
            f"got layers {sorted(inner)}"
        )
    return [*order, "head"]


def shrink_mlp(params: PyTree, *, activation: Callable[[Any], Any] = nn.relu) -> ShrunkMLP:
    """Turns a neuron-pruned :class:`jaxml.models.MLP` into a smaller dense MLP.

    Args:
        params: the pruned MLP's params (``model.init(...)`` layout, e.g. the first output of
            ``NeuronPrune(0.25, Layers(exclude=("head",))).compress(params)``), concrete.
        activation: the MLP's activation (``nn.relu`` for ``make_classifier("mlp")``).

    Returns:
        A :class:`ShrunkMLP` whose ``apply(params, x)`` equals the pruned model's logits up to
        float32 rounding (no fold: same products, fewer zeros; fold: one added bias term).

    Raises:
        ValueError: not an MLP's params, or the output layer has a pruned (all-zero) class
            column (exclude the head from pruning).
    """
    v.check_callable(activation, "activation")
    if not isinstance(params, dict):
        raise TypeError(
            f"params must be a jaxml.models.MLP's params dict; got {type(params).__name__}"
        )
    wrapped = set(params) == {"params"}
    inner = params["params"] if wrapped else params
    if not isinstance(inner, dict):
        raise TypeError("params must be a jaxml.models.MLP's params dict")
    names = _layers(inner)
    for name in names:
        if not isinstance(inner[name], dict) or set(inner[name]) != {"kernel", "bias"}:
            raise ValueError(f"params layer {name} must hold kernel and bias; got {inner[name]!r}")
        if not v.is_concrete(inner[name]["kernel"]):
            raise TypeError("params must be concrete arrays (shrink_mlp is host-side surgery)")
    v.check_tree_finite(inner, "params")
    ks = [np.asarray(inner[n]["kernel"]) for n in names]
    bs = [np.asarray(inner[n]["bias"]) for n in names]
    for i, name in enumerate(names):
        if ks[i].ndim != 2 or bs[i].shape != ks[i].shape[1:]:
            raise ValueError(
                f"params layer {name} must have a [d_in, c] kernel and [c] bias; got "
                f"{ks[i].shape} and {bs[i].shape}"
            )
    if np.any(np.all(ks[-1] == 0, axis=0)):
        raise ValueError(
            "params has an all-zero class column in the head (a pruned output): exclude the head "
            'from NeuronPrune, e.g. Layers(exclude=("head",), max_ndim=2)'
        )
    new_k, new_b, kept_all = [], [], []
    prev_keep = np.arange(ks[0].shape[0])
    bias_carry = None
    for i in range(len(names)):
        k = ks[i][prev_keep]
        b = bs[i].copy() if bias_carry is None else bs[i] + bias_carry
        if i == len(names) - 1:
            new_k.append(k)
            new_b.append(b.astype(bs[i].dtype))
            break
        alive = np.any(k != 0, axis=0)
        if not alive.any():
            alive[0] = True  # a layer cannot have width 0: keep one (constant) neuron
        keep = np.flatnonzero(alive)
        dead = np.flatnonzero(~alive)
        const = np.asarray(activation(jnp.asarray(b[dead])))
        carry = const @ ks[i + 1][dead] if dead.size and np.any(const != 0) else None
        bias_carry = None if carry is None else carry.astype(bs[i + 1].dtype)
        new_k.append(k[:, keep])
        new_b.append(b[keep].astype(bs[i].dtype))
        kept_all.append(keep)
        prev_keep = keep
    hidden = tuple(int(len(k)) for k in kept_all)
    module = MLP(hidden=hidden, num_outputs=int(ks[-1].shape[1]), activation=activation)
    small = {
        n: {"kernel": jnp.asarray(k), "bias": jnp.asarray(b)}
        for n, k, b in zip(names, new_k, new_b, strict=True)
    }
    out = {"params": small} if wrapped else small
    return ShrunkMLP(out, module.apply, module, hidden, tuple(kept_all))
