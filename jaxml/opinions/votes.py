"""Majority vote and soft labels: the two count-based aggregations of an annotation table."""

import jax
import jax.numpy as jnp

from jaxml.opinions._checks import check_num_classes, check_table
from jaxml.opinions.table import AnnotationTable

__all__ = ["majority_vote", "soft_labels"]


def soft_labels(table: AnnotationTable, num_classes: int) -> jax.Array:
    """The annotators' label distribution of each sample: ``counts / counts.sum()``.

    Args:
        table: the judgements.
        num_classes: the label scale ``K`` (must equal ``table.num_classes``; static).

    Returns:
        ``[num_samples, K]`` float32 rows summing to 1 (every sample has a label: the table
        guarantees it). Jit-safe (``num_classes`` static). This is crowd-kit's
        ``MajorityVote().fit_predict_proba`` and the target of soft-label training.
    """
    check_table(table)
    check_num_classes(num_classes, table)
    counts = table.label_counts()
    return counts / jnp.sum(counts, axis=1, keepdims=True)


def majority_vote(table: AnnotationTable, num_classes: int) -> jax.Array:
    """The most frequent label of each sample; ties go to the smallest label.

    Args:
        table: the judgements.
        num_classes: the label scale ``K`` (must equal ``table.num_classes``; static).

    Returns:
        ``[num_samples]`` int32. Jit-safe. The tie rule is crowd-kit's (``idxmax`` over the
        label columns in ascending order) and ``jnp.argmax``'s.
    """
    check_table(table)
    check_num_classes(num_classes, table)
    return jnp.argmax(table.label_counts(), axis=1).astype(jnp.int32)
