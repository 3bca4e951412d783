"""A synthetic crowd with opinion groups: who labels what, each group by its own rule.

Balayn et al.'s setting: annotators disagree for legitimate reasons (their opinion group applies a
different labelling function), on top of ordinary noise (an annotator's reliability). Here group
``g`` labels sample ``i`` as ``f_g(x)[i]`` on a shared input ``x``; annotator ``a`` of group ``g``
reports that label with probability ``reliability[a]`` and otherwise a uniformly random *other*
label. The level of disagreement between groups is the share of inputs where their functions
differ (:func:`disagreement_rate`), set by the choice of functions.
"""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxml import _validation as v
from jaxml.opinions.table import AnnotationTable

__all__ = ["SyntheticCrowd", "disagreement_rate", "rule_agreement", "synthetic_crowd"]


class SyntheticCrowd(NamedTuple):
    """What :func:`synthetic_crowd` returns.

    Attributes:
        table: the judgements; ``table.attributes["group"]`` is each annotator's opinion group.
        group_labels: ``[G, n]`` int32, every group's noiseless label of every sample.
        reliability: ``[A]`` each annotator's probability of reporting their group's label.
        group: ``[A]`` int32 opinion group of each annotator (annotators are numbered group by
            group: the first ``group_sizes[0]`` are group 0, and so on).
    """

    table: AnnotationTable
    group_labels: jax.Array
    reliability: jax.Array
    group: jax.Array


def disagreement_rate(group_labels: Any) -> jax.Array:
    """``[G, G]``: the share of samples on which groups ``g`` and ``h`` label differently."""
    v.check_array(group_labels, "group_labels", ndim=2, dtype="int", min_size=1)
    y = jnp.asarray(group_labels)
    return jnp.mean(y[:, None, :] != y[None, :, :], axis=-1)


def rule_agreement(predictions: Any, group_labels: Any, annotator_group: Any) -> jax.Array:
    """``[G]``: how often the model predicts each group's rule (whose opinion it learned).

    Args:
        predictions: ``[n]`` int (one per sample) or ``[n, A]`` (one per annotator, e.g. heads).
        group_labels: ``[G, n]`` the groups' noiseless labels (:attr:`SyntheticCrowd.group_labels`).
        annotator_group: ``[A]`` int group of each annotator (used for ``[n, A]`` predictions:
            group ``g``'s entry averages the heads of group ``g``'s annotators).
    """
    num_groups, n = v.check_array(group_labels, "group_labels", ndim=2, dtype="int", min_size=1)
    shape = v.check_array(predictions, "predictions", ndim=(1, 2), dtype="int")
    if shape[0] != n:
        raise ValueError(f"predictions must have {n} rows (one per sample); got shape {shape}")
    pred, rules = jnp.asarray(predictions), jnp.asarray(group_labels)
    if pred.ndim == 1:
        return jnp.mean(pred[None, :] == rules, axis=1)
    v.check_array(
        annotator_group,
        "annotator_group",
        shape=(shape[1],),
        dtype="int",
        minimum=0,
        maximum=num_groups - 1,
    )
    onehot = jax.nn.one_hot(jnp.asarray(annotator_group), num_groups)  # [A, G]
    same = (pred[None, :, :] == rules[:, :, None]).mean(axis=1)  # [G, A]
    return jnp.sum(same * onehot.T, axis=1) / jnp.sum(onehot, axis=0)


def synthetic_crowd(
    key: jax.Array,
    x: Any,
    labelling_functions: Sequence[Callable[[Any], Any]],
    group_sizes: Sequence[int],
    *,
    num_classes: int,
    annotators_per_sample: int,
    reliability: tuple[float, float] = (0.8, 0.95),
    group_names: Sequence[str] | None = None,
) -> SyntheticCrowd:
    """Draws a crowd's judgements of the samples ``x``; deterministic given ``key``.

    Each sample gets ``annotators_per_sample`` distinct annotators drawn uniformly from all
    ``A = sum(group_sizes)``; annotator reliabilities are uniform on ``reliability``.

    Args:
        key: PRNG key.
        x: ``[n, ...]`` the shared input every labelling function reads.
        labelling_functions: ``G`` callables ``f_g(x) -> [n]`` int labels in
            ``[0, num_classes)``, one per opinion group.
        group_sizes: ``G`` ints >= 1, the number of annotators in each group.
        num_classes: the label scale (>= 2).
        annotators_per_sample: judgements per sample, in ``[1, A]``.
        reliability: ``(low, high)`` with ``0 <= low <= high <= 1``.
        group_names: optional names of the groups (the table's ``attribute_levels["group"]``).

    Returns:
        A :class:`SyntheticCrowd`. Host-side (it builds a validated table); raises if some
        annotator drew no sample (use more samples or fewer annotators).
    """
    v.check_key(key)
    (n, *_) = v.check_array(x, "x", min_ndim=1, min_size=1)
    if not isinstance(labelling_functions, Sequence) or not labelling_functions:
        raise TypeError(
            "labelling_functions must be a non-empty sequence of callables (one per group); got "
            f"{type(labelling_functions).__name__}"
        )
    for f in labelling_functions:
        v.check_callable(f, "labelling_functions")
    if isinstance(group_sizes, str) or not isinstance(group_sizes, Sequence):
        raise TypeError(f"group_sizes must be a sequence of ints; got {group_sizes!r}")
    sizes = [v.check_int(s, "group_sizes", minimum=1) for s in group_sizes]
    if len(sizes) != len(labelling_functions):
        raise ValueError(
            f"group_sizes must give one size per labelling function ({len(labelling_functions)}); "
            f"got {len(sizes)}"
        )
    num_classes = v.check_int(num_classes, "num_classes", minimum=2)
    num_annotators = sum(sizes)
    k = v.check_int(
        annotators_per_sample, "annotators_per_sample", minimum=1, maximum=num_annotators
    )
    if not isinstance(reliability, tuple | list) or len(reliability) != 2:
        raise TypeError(f"reliability must be a (low, high) pair; got {reliability!r}")
    low = v.check_scalar(reliability[0], "reliability", minimum=0.0, maximum=1.0)
    high = v.check_scalar(reliability[1], "reliability", minimum=low, maximum=1.0)
    group_labels = []
    for g, f in enumerate(labelling_functions):
        yg = f(x)
        v.check_array(
            yg,
            f"labelling_functions[{g}](x)",
            shape=(n,),
            dtype="int",
            minimum=0,
            maximum=num_classes - 1,
        )
        group_labels.append(np.asarray(yg, np.int32))
    group_labels = np.stack([np.asarray(g) for g in group_labels])
    group = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
    # All randomness comes from ``key`` (four draws); the bookkeeping is host-side NumPy.
    k_pick, k_rel, k_flip, k_other = jax.random.split(key, 4)
    who = np.argsort(np.asarray(jax.random.uniform(k_pick, (n, num_annotators))), axis=1)[:, :k]
    rel = np.asarray(jax.random.uniform(k_rel, (num_annotators,), minval=low, maxval=high))
    truth = group_labels[group[who], np.arange(n)[:, None]]  # [n, k] the group's label
    keep = np.asarray(jax.random.uniform(k_flip, (n, k))) < rel[who]
    shift = np.asarray(jax.random.randint(k_other, (n, k), 1, num_classes))
    label = np.where(keep, truth, (truth + shift) % num_classes)
    table = AnnotationTable(
        np.repeat(np.arange(n), k),
        who.reshape(-1),
        label.reshape(-1),
        num_classes=num_classes,
        num_samples=n,
        num_annotators=num_annotators,
        attributes={"group": group},
        attribute_levels=None if group_names is None else {"group": tuple(group_names)},
    )
    return SyntheticCrowd(
        table, jnp.asarray(group_labels, jnp.int32), jnp.asarray(rel), jnp.asarray(group)
    )
