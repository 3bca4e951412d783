"""Every per-annotator metric of one model at once (the numbers printed next to the spec)."""

from typing import Any

import jax
import jax.numpy as jnp

from jaxml import _validation as v
from jaxml.opinions import metrics as m
from jaxml.opinions._checks import check_predictions, check_table
from jaxml.opinions.table import AnnotationTable
from jaxml.opinions.votes import majority_vote

__all__ = ["evaluation_report"]


def evaluation_report(
    predictions: Any,
    table: AnnotationTable,
    *,
    attribute: str = "group",
    threshold: float = 0.8,
    num_bins: int = 5,
    logits: Any = None,
) -> dict[str, jax.Array]:
    """Per-annotator accuracy, its disparity over ``attribute`` groups, and the other metrics.

    Args:
        predictions: ``[num_samples]`` or ``[num_samples, num_annotators]`` int class ids.
        table: the judgements; ``table.attributes[attribute]`` groups the annotators.
        attribute: the annotator attribute to compare groups by (static).
        threshold: the coverage threshold ``x`` (static under jit).
        num_bins: agreement bins (static).
        logits: optional ``[num_samples, K]`` model outputs for the soft-label cross-entropy.

    Returns:
        ``{name: array}``: ``per_annotator_accuracy`` [A], ``group`` [A], ``group_accuracy`` [G],
        ``group_gap``, ``spread``, ``gini``, ``majority_opinion_accuracy``,
        ``minority_opinion_accuracy``, ``coverage``, ``agreement_edges``/``agreement_accuracy``/
        ``agreement_samples`` [bins], and, for ``[num_samples]`` predictions,
        ``accuracy_vs_majority_vote`` (the aggregate view); with ``logits``,
        ``soft_label_cross_entropy``. Jit-safe.
    """
    check_table(table)
    shape = check_predictions(predictions, table)
    v.check_str(attribute, "attribute")
    v.check_scalar(threshold, "threshold", minimum=0.0, maximum=1.0)  # before any work
    v.check_int(num_bins, "num_bins", minimum=1)
    if attribute not in table.attributes:
        raise ValueError(
            f"attribute must name one of the table's attributes {sorted(table.attributes)}; got "
            f"{attribute!r}"
        )
    group = table.attributes[attribute]
    acc = m.per_annotator_accuracy(predictions, table)
    disp = m.accuracy_disparity(acc, group, len(table.attribute_levels[attribute]))
    opin = m.opinion_accuracy(predictions, table)
    curve = m.accuracy_by_agreement(predictions, table, num_bins)
    out = {
        "per_annotator_accuracy": acc,
        "group": group,
        "group_accuracy": disp.group_accuracy,
        "group_gap": disp.group_gap,
        "spread": disp.spread,
        "gini": disp.gini,
        "majority_opinion_accuracy": opin.majority,
        "minority_opinion_accuracy": opin.minority,
        "coverage": m.coverage(predictions, table, threshold),
        "agreement_edges": curve.edges,
        "agreement_accuracy": curve.annotator_accuracy,
        "agreement_samples": curve.num_samples,
    }
    if len(shape) == 1:
        mv = majority_vote(table, table.num_classes)
        out["accuracy_vs_majority_vote"] = jnp.mean(jnp.asarray(predictions) == mv)
    if logits is not None:
        out["soft_label_cross_entropy"] = m.soft_label_cross_entropy(logits, table)
    return out
