"""The annotation table: who gave which label to which sample, validated, as arrays JAX can use.

Balayn et al. argue that a subjective task's data is the set of *individual* judgements, not one
aggregated label per sample. :class:`AnnotationTable` keeps exactly that: one row per
``(sample_id, annotator_id, label)`` judgement, dense integer ids, and optional per-annotator
attributes (demographic group, opinion group) as integer codes with their level names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxml import _validation as v

__all__ = ["AnnotationTable"]


def _int_column(values: Any, name: str) -> np.ndarray:
    if isinstance(values, jax.core.Tracer):
        raise TypeError(f"{name} must be a concrete array (build the table outside jit)")
    v.check_array(values, name, ndim=1, dtype="int")
    return np.asarray(values).astype(np.int64)


def _names(values: Any, name: str, size: int) -> tuple:
    if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a sequence of {size} names; got {type(values).__name__}")
    out = tuple(x.item() if isinstance(x, np.generic) else x for x in values)
    if len(out) != size:
        raise ValueError(f"{name} must hold {size} entries; got {len(out)}")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat a name; got {len(out) - len(set(out))} repeats")
    return out


@jax.tree_util.register_pytree_node_class
class AnnotationTable:
    """Validated ``(sample_id, annotator_id, label)`` judgements, one row per judgement.

    Ids are dense: samples ``0..num_samples-1``, annotators ``0..num_annotators-1``, labels
    ``0..num_classes-1``. The constructor refuses, with a ``ValueError`` naming the argument and
    the first offending row: ids outside their range (unknown samples or annotators), labels
    outside the scale, an annotator (or a sample) with no labels, and a repeated
    ``(sample, annotator)`` pair. Build it outside ``jit``; afterwards it is a pytree (the three
    columns and the attribute codes are leaves; sizes and names are static), so aggregators and
    metrics can be jitted with the table as an argument.

    Args:
        sample_id: ``[m]`` int, the sample of each judgement.
        annotator_id: ``[m]`` int, who gave it.
        label: ``[m]`` int, the label given, in ``[0, num_classes)``.
        num_classes: size of the label scale (>= 2).
        num_samples: number of samples (default ``max(sample_id) + 1``).
        num_annotators: number of annotators (default ``max(annotator_id) + 1``).
        attributes: optional ``{name: [num_annotators] int codes}`` (e.g. ``"group"``,
            ``"gender"``); codes index ``attribute_levels[name]`` when that is given.
        attribute_levels: optional ``{name: level names}`` for the codes.
        label_names: optional names of the ``num_classes`` labels (default ``"0", "1", ...``).
        sample_keys, annotator_keys: optional original ids (e.g. Detox ``rev_id``/``worker_id``)
            of the dense ids, kept for reporting and for mapping back.

    Attributes:
        sample_id, annotator_id, label: ``[m]`` int32 ``jax.Array`` columns.
        attributes: ``{name: [num_annotators] int32}``.
        num_classes, num_samples, num_annotators, num_labels: static ints.
    """

    def __init__(
        self,
        sample_id: Any,
        annotator_id: Any,
        label: Any,
        *,
        num_classes: int,
        num_samples: int | None = None,
        num_annotators: int | None = None,
        attributes: Mapping[str, Any] | None = None,
        attribute_levels: Mapping[str, Sequence[str]] | None = None,
        label_names: Sequence[str] | None = None,
        sample_keys: Sequence[Any] | None = None,
        annotator_keys: Sequence[Any] | None = None,
    ):
        num_classes = v.check_int(num_classes, "num_classes", minimum=2)
        s = _int_column(sample_id, "sample_id")
        a = _int_column(annotator_id, "annotator_id")
        y = _int_column(label, "label")
        v.check_same_size({"sample_id": s.size, "annotator_id": a.size, "label": y.size}, "length")
        if s.size == 0:
            raise ValueError("sample_id must hold at least one judgement; got an empty table")
        for col, col_name in ((s, "sample_id"), (a, "annotator_id")):
            if col.min() < 0:
                i = int(np.argmax(col < 0))
                raise ValueError(f"{col_name} must be >= 0; got {col[i]} at row {i}")
        num_samples = int(s.max()) + 1 if num_samples is None else num_samples
        num_annotators = int(a.max()) + 1 if num_annotators is None else num_annotators
        num_samples = v.check_int(num_samples, "num_samples", minimum=1)
        num_annotators = v.check_int(num_annotators, "num_annotators", minimum=1)
        for col, col_name, size, what in (
            (s, "sample_id", num_samples, "sample"),
            (a, "annotator_id", num_annotators, "annotator"),
        ):
            bad = col >= size
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(
                    f"{col_name} holds {int(bad.sum())} unknown {what} id(s): ids must be < "
                    f"num_{what}s = {size}; first {col[i]} at row {i}"
                )
        bad = (y < 0) | (y >= num_classes)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"label must be on the scale 0..{num_classes - 1} (num_classes={num_classes}); "
                f"got {int(bad.sum())} label(s) outside it, first {y[i]} at row {i}"
            )
        for col, size, what in ((a, num_annotators, "annotator"), (s, num_samples, "sample")):
            empty = np.flatnonzero(np.bincount(col, minlength=size) == 0)
            if empty.size:
                raise ValueError(
                    f"{empty.size} {what}(s) of num_{what}s = {size} have no labels (first ids "
                    f"{empty[:5].tolist()}); drop them and renumber, or lower num_{what}s"
                )
        pair = s * num_annotators + a
        uniq, first, counts = np.unique(pair, return_index=True, return_counts=True)
        if uniq.size != pair.size:
            j = int(np.argmax(counts > 1))
            rows = np.flatnonzero(pair == uniq[j])[:2].tolist()
            raise ValueError(
                f"(sample_id, annotator_id) pairs must be unique; got {pair.size - uniq.size} "
                f"duplicate(s), first (sample {s[rows[0]]}, annotator {a[rows[0]]}) at rows "
                f"{rows}"
            )
        attributes = {} if attributes is None else attributes
        if not isinstance(attributes, Mapping):
            raise TypeError(f"attributes must be a dict of arrays; got {type(attributes).__name__}")
        attrs = {}
        for key, codes in attributes.items():
            v.check_str(key, "attributes key")
            v.check_array(
                codes, f"attributes[{key!r}]", shape=(num_annotators,), dtype="int", minimum=0
            )
            attrs[key] = np.asarray(codes).astype(np.int32)
        levels = {} if attribute_levels is None else dict(attribute_levels)
        for key, names in levels.items():
            if key not in attrs:
                raise ValueError(
                    f"attribute_levels names {key!r}, which is not in attributes {sorted(attrs)}"
                )
            k = int(attrs[key].max()) + 1
            names = tuple(names) if not isinstance(names, str) else None
            if names is None or len(names) < k:
                raise ValueError(
                    f"attribute_levels[{key!r}] must name at least {k} levels (codes reach "
                    f"{k - 1}); got {attribute_levels[key]!r}"
                )
            levels[key] = tuple(str(x) for x in names)
        for key in attrs:
            levels.setdefault(key, tuple(str(c) for c in range(int(attrs[key].max()) + 1)))
        label_names = (
            tuple(str(c) for c in range(num_classes))
            if label_names is None
            else tuple(str(x) for x in _names(label_names, "label_names", num_classes))
        )
        sample_keys = (
            tuple(range(num_samples))
            if sample_keys is None
            else _names(sample_keys, "sample_keys", num_samples)
        )
        annotator_keys = (
            tuple(range(num_annotators))
            if annotator_keys is None
            else _names(annotator_keys, "annotator_keys", num_annotators)
        )
        self.sample_id = jnp.asarray(s, jnp.int32)
        self.annotator_id = jnp.asarray(a, jnp.int32)
        self.label = jnp.asarray(y, jnp.int32)
        self.attributes = {k: jnp.asarray(c) for k, c in attrs.items()}
        self.num_classes, self.num_samples, self.num_annotators = (
            num_classes,
            num_samples,
            num_annotators,
        )
        self.attribute_levels = levels
        self.label_names = label_names
        self.sample_keys, self.annotator_keys = sample_keys, annotator_keys

    # -- pytree ---------------------------------------------------------------------------------
    def tree_flatten(self):
        names = tuple(sorted(self.attributes))
        leaves = (
            self.sample_id,
            self.annotator_id,
            self.label,
            *(self.attributes[k] for k in names),
        )
        aux = (
            names,
            self.num_classes,
            self.num_samples,
            self.num_annotators,
            tuple((k, self.attribute_levels[k]) for k in names),
            self.label_names,
            self.sample_keys,
            self.annotator_keys,
        )
        return leaves, aux

    @classmethod
    def tree_unflatten(cls, aux, leaves):
        obj = object.__new__(cls)
        names, obj.num_classes, obj.num_samples, obj.num_annotators, levels = aux[:5]
        obj.label_names, obj.sample_keys, obj.annotator_keys = aux[5:]
        obj.sample_id, obj.annotator_id, obj.label = leaves[:3]
        obj.attributes = dict(zip(names, leaves[3:], strict=True))
        obj.attribute_levels = dict(levels)
        return obj

    # -- views ----------------------------------------------------------------------------------
    @property
    def num_labels(self) -> int:
        """``m``, the number of judgements (rows)."""
        return int(self.label.shape[0])

    def __repr__(self) -> str:
        return (
            f"AnnotationTable({self.num_labels} labels, {self.num_samples} samples, "
            f"{self.num_annotators} annotators, {self.num_classes} classes, attributes="
            f"{sorted(self.attributes)})"
        )

    def label_counts(self) -> jax.Array:
        """``[num_samples, num_classes]`` float: how many annotators gave each label. Jit-safe.

        Float32, or float64 under x64.
        """
        one_hot = jax.nn.one_hot(self.label, self.num_classes)  # float64 under x64
        return jax.ops.segment_sum(one_hot, self.sample_id, num_segments=self.num_samples)

    def label_matrix(self) -> jax.Array:
        """``[num_samples, num_annotators]`` int32: each annotator's label, ``-1`` where none."""
        dense = jnp.full((self.num_samples, self.num_annotators), -1, jnp.int32)
        return dense.at[self.sample_id, self.annotator_id].set(self.label)

    def annotators_per_sample(self) -> np.ndarray:
        """``[num_samples]`` int: the number of judgements of each sample (host-side)."""
        return np.bincount(np.asarray(self.sample_id), minlength=self.num_samples)

    def select_samples(self, indices: Any) -> AnnotationTable:
        """The sub-table of the samples ``indices`` (``[k]`` unique ints), renumbered ``0..k-1``.

        Annotators who have no label left are dropped and the rest renumbered in their original
        order; ``annotator_keys``/``sample_keys`` keep the original keys, so
        ``annotator_keys[j]`` names annotator ``j`` of the sub-table. Host-side.
        """
        v.check_array(
            indices,
            "indices",
            ndim=1,
            dtype="int",
            minimum=0,
            maximum=self.num_samples - 1,
            min_size=1,
        )
        idx = np.asarray(indices)
        if np.unique(idx).size != idx.size:
            raise ValueError("indices must not repeat a sample")
        new_sample = np.full(self.num_samples, -1)
        new_sample[idx] = np.arange(idx.size)
        s, a = np.asarray(self.sample_id), np.asarray(self.annotator_id)
        keep = new_sample[s] >= 0
        kept_annotators = np.unique(a[keep])
        new_annotator = np.full(self.num_annotators, -1)
        new_annotator[kept_annotators] = np.arange(kept_annotators.size)
        return AnnotationTable(
            new_sample[s[keep]],
            new_annotator[a[keep]],
            np.asarray(self.label)[keep],
            num_classes=self.num_classes,
            num_samples=idx.size,
            num_annotators=kept_annotators.size,
            attributes={k: np.asarray(c)[kept_annotators] for k, c in self.attributes.items()},
            attribute_levels=self.attribute_levels,
            label_names=self.label_names,
            sample_keys=[self.sample_keys[i] for i in idx],
            annotator_keys=[self.annotator_keys[i] for i in kept_annotators],
        )
