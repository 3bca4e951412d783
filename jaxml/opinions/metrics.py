"""Per-annotator evaluation (Balayn et al.): whose opinions does a model agree with?

Every metric reads the individual judgements of an :class:`AnnotationTable`, never only an
aggregate. ``predictions`` are class ids, either ``[num_samples]`` (one prediction per sample,
the usual model) or ``[num_samples, num_annotators]`` (a personalised prediction per annotator,
e.g. from per-annotator heads). All functions are jit-safe with the table as an argument and
static ints as static arguments; they check their inputs in Python first.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxml import _validation as v
from jaxml.opinions._checks import check_predictions, check_table
from jaxml.opinions.table import AnnotationTable

__all__ = [
    "AgreementCurve",
    "Disparity",
    "OpinionAccuracy",
    "accuracy_by_agreement",
    "accuracy_disparity",
    "coverage",
    "gini",
    "opinion_accuracy",
    "per_annotator_accuracy",
    "sample_agreement",
    "soft_label_cross_entropy",
]


def _hits(predictions, table: AnnotationTable) -> jax.Array:
    """``[m]`` float: 1 where the prediction for row r's sample (and annotator) equals its label."""
    p = jnp.asarray(predictions)
    pred = p[table.sample_id] if p.ndim == 1 else p[table.sample_id, table.annotator_id]
    return (pred == table.label).astype(jnp.result_type(float))


def _segment_mean(values, ids, n):
    total = jax.ops.segment_sum(values, ids, num_segments=n)
    count = jax.ops.segment_sum(jnp.ones_like(values), ids, num_segments=n)
    return total / count, count


def per_annotator_accuracy(predictions: Any, table: AnnotationTable) -> jax.Array:
    """Each annotator's agreement with the model: ``mean_{(j, a, y)} [prediction_j == y]``.

    Args:
        predictions: ``[num_samples]`` or ``[num_samples, num_annotators]`` int class ids.
        table: the judgements.

    Returns:
        ``[num_annotators]`` float accuracies against each annotator's own labels (every
        annotator has at least one label: the table guarantees it).
    """
    check_table(table)
    check_predictions(predictions, table)
    return _segment_mean(_hits(predictions, table), table.annotator_id, table.num_annotators)[0]


def gini(values: Any) -> jax.Array:
    """Gini coefficient ``sum_ij |x_i - x_j| / (2 n^2 mean(x))`` of ``[n]`` non-negative values.

    0 when all are equal; ``(n - 1) / n`` when one holds everything. Returns 0 for all zeros.
    """
    v.check_array(values, "values", ndim=1, dtype="real", minimum=0.0, min_size=1)
    x = jnp.asarray(values, jnp.result_type(float))
    mad = jnp.mean(jnp.abs(x[:, None] - x[None, :]))
    mean = jnp.mean(x)
    return jnp.where(mean > 0, mad / (2.0 * jnp.where(mean > 0, mean, 1.0)), 0.0)


class Disparity(NamedTuple):
    """How unequal per-annotator accuracies are (see :func:`accuracy_disparity`).

    Attributes:
        spread: ``max - min`` over annotators.
        std: their standard deviation.
        gini: their Gini coefficient.
        group_accuracy: ``[num_groups]`` mean accuracy of each group's annotators (NaN if empty).
        worst_group: int32, the group with the lowest mean (ties to the smallest id).
        group_gap: best group mean minus worst group mean (over non-empty groups).
    """

    spread: jax.Array
    std: jax.Array
    gini: jax.Array
    group_accuracy: jax.Array
    worst_group: jax.Array
    group_gap: jax.Array


def accuracy_disparity(accuracies: Any, groups: Any, num_groups: int) -> Disparity:
    """Spread, standard deviation, Gini and worst group of per-annotator accuracies.

    Args:
        accuracies: ``[A]`` per-annotator accuracies in ``[0, 1]`` (from
            :func:`per_annotator_accuracy`).
        groups: ``[A]`` int group of each annotator in ``[0, num_groups)`` (e.g.
            ``table.attributes["group"]``).
        num_groups: number of groups (static).

    Returns:
        A :class:`Disparity`.
    """
    (a,) = v.check_array(
        accuracies, "accuracies", ndim=1, dtype="real", minimum=0.0, maximum=1.0, min_size=1
    )
    num_groups = v.check_int(num_groups, "num_groups", minimum=1)
    v.check_array(groups, "groups", shape=(a,), dtype="int", minimum=0, maximum=num_groups - 1)
    x = jnp.asarray(accuracies, jnp.result_type(float))
    means, counts = _segment_mean(x, jnp.asarray(groups), num_groups)
    present = counts > 0
    low = jnp.where(present, means, jnp.inf)
    high = jnp.where(present, means, -jnp.inf)
    return Disparity(
        spread=jnp.max(x) - jnp.min(x),
        std=jnp.std(x),
        gini=gini(x),
        group_accuracy=jnp.where(present, means, jnp.nan),
        worst_group=jnp.argmin(low).astype(jnp.int32),
        group_gap=jnp.max(high) - jnp.min(low),
    )


class OpinionAccuracy(NamedTuple):
    """Accuracy on majority versus minority opinions (see :func:`opinion_accuracy`).

    Attributes:
        majority: accuracy over the judgements whose label is a most frequent label of its sample.
        minority: accuracy over the others (NaN when every sample is unanimous).
        num_majority, num_minority: how many judgements of each kind.
    """

    majority: jax.Array
    minority: jax.Array
    num_majority: jax.Array
    num_minority: jax.Array


def opinion_accuracy(predictions: Any, table: AnnotationTable) -> OpinionAccuracy:
    """Accuracy of the model against majority and against minority opinions, per judgement.

    A judgement ``(j, a, y)`` is a *majority* opinion when ``y`` is one of the most frequent
    labels of sample ``j`` (a tie at the top counts every tied label as majority) and a
    *minority* opinion otherwise. Each accuracy is the fraction of its judgements whose label the
    model predicts.

    Returns:
        An :class:`OpinionAccuracy`.
    """
    check_table(table)
    check_predictions(predictions, table)
    counts = table.label_counts()
    own = counts[table.sample_id, table.label]
    is_major = own >= jnp.max(counts, axis=1)[table.sample_id]
    hits = _hits(predictions, table)
    n_major = jnp.sum(is_major)
    n_minor = jnp.sum(~is_major)
    return OpinionAccuracy(
        majority=jnp.sum(jnp.where(is_major, hits, 0.0)) / n_major,
        minority=jnp.sum(jnp.where(is_major, 0.0, hits)) / n_minor,
        num_majority=n_major,
        num_minority=n_minor,
    )


def sample_agreement(table: AnnotationTable) -> jax.Array:
    """``[num_samples]`` share of a sample's annotators who gave its most frequent label."""
    check_table(table)
    counts = table.label_counts()
    return jnp.max(counts, axis=1) / jnp.sum(counts, axis=1)


class AgreementCurve(NamedTuple):
    """Accuracy by sample agreement (see :func:`accuracy_by_agreement`).

    Attributes:
        edges: ``[num_bins + 1]`` bin edges over agreement ``[0, 1]``.
        num_samples: ``[num_bins]`` samples per bin.
        annotator_accuracy: ``[num_bins]`` fraction of the bin's judgements the model predicts.
        majority_accuracy: ``[num_bins]`` fraction of the bin's samples whose majority label
            (:func:`~jaxml.opinions.majority_vote`) the model predicts (sample-level predictions
            only; for ``[num_samples, num_annotators]`` predictions, annotator 0's column is not
            meaningful, so this is NaN).
    """

    edges: jax.Array
    num_samples: jax.Array
    annotator_accuracy: jax.Array
    majority_accuracy: jax.Array


def accuracy_by_agreement(
    predictions: Any, table: AnnotationTable, num_bins: int = 5
) -> AgreementCurve:
    """Model accuracy as a function of how much a sample's annotators agree.

    Samples are binned by :func:`sample_agreement` into ``num_bins`` equal-width bins of
    ``[0, 1]`` (agreement 1 in the last bin). Empty bins hold NaN accuracies.

    Args:
        predictions: ``[num_samples]`` or ``[num_samples, num_annotators]`` int class ids.
        table: the judgements.
        num_bins: number of bins (static, >= 1).
    """
    check_table(table)
    shape = check_predictions(predictions, table)
    num_bins = v.check_int(num_bins, "num_bins", minimum=1)
    counts = table.label_counts()
    agree = jnp.max(counts, axis=1) / jnp.sum(counts, axis=1)
    bins = jnp.minimum(jnp.floor(agree * num_bins).astype(jnp.int32), num_bins - 1)
    row_acc, _ = _segment_mean(_hits(predictions, table), bins[table.sample_id], num_bins)
    per_bin = jax.ops.segment_sum(jnp.ones_like(agree), bins, num_segments=num_bins)
    if len(shape) == 1:
        mv_hit = (jnp.asarray(predictions) == jnp.argmax(counts, axis=1)).astype(agree.dtype)
        mv_acc, _ = _segment_mean(mv_hit, bins, num_bins)
    else:
        mv_acc = jnp.full((num_bins,), jnp.nan, agree.dtype)
    return AgreementCurve(
        edges=jnp.linspace(0.0, 1.0, num_bins + 1),
        num_samples=per_bin,
        annotator_accuracy=row_acc,
        majority_accuracy=mv_acc,
    )


def soft_label_cross_entropy(logits: Any, table: AnnotationTable) -> jax.Array:
    """Mean over samples of ``-sum_c p_jc log softmax(logits_j)_c``, ``p`` = the label distribution.

    Args:
        logits: ``[num_samples, num_classes]`` float model outputs.
        table: the judgements (``p`` = :func:`~jaxml.opinions.soft_labels`).

    Returns:
        A scalar (nats). Its minimum over ``logits`` is the mean entropy of the label
        distributions, reached by predicting them exactly.
    """
    check_table(table)
    v.check_array(logits, "logits", shape=(table.num_samples, table.num_classes), dtype="float")
    counts = table.label_counts()
    p = counts / jnp.sum(counts, axis=1, keepdims=True)
    return -jnp.mean(jnp.sum(p * jax.nn.log_softmax(jnp.asarray(logits), axis=1), axis=1))


def coverage(predictions: Any, table: AnnotationTable, threshold: float = 0.8) -> jax.Array:
    """Share of annotators whose labels the model agrees with at least ``threshold`` of the time.

    Args:
        predictions: ``[num_samples]`` or ``[num_samples, num_annotators]`` int class ids.
        table: the judgements.
        threshold: ``x`` in ``[0, 1]``: an annotator is covered when their
            :func:`per_annotator_accuracy` is ``>= x``.

    Returns:
        A scalar in ``[0, 1]``.
    """
    v.check_scalar(threshold, "threshold", minimum=0.0, maximum=1.0)
    acc = per_annotator_accuracy(predictions, table)
    return jnp.mean((acc >= threshold).astype(acc.dtype))
