"""Training losses that keep disagreement: soft labels and per-annotator heads."""

from typing import Any

import jax
import jax.numpy as jnp

from jaxml import _validation as v

__all__ = ["annotator_heads_cross_entropy", "soft_cross_entropy"]


def soft_cross_entropy(logits: Any, targets: Any) -> jax.Array:
    """Mean over rows of ``-sum_c targets_c log softmax(logits)_c``.

    Args:
        logits: ``[n, K]`` float.
        targets: ``[n, K]`` float distributions (e.g. :func:`~jaxml.opinions.soft_labels` rows or
            Dawid-Skene posteriors), non-negative.

    Returns:
        A scalar. Jit-safe (shapes checked when traced, values when concrete).
    """
    shape = v.check_array(logits, "logits", ndim=2, dtype="float", min_size=1)
    v.check_array(targets, "targets", shape=shape, dtype="float", minimum=0.0)
    return -jnp.mean(jnp.sum(targets * jax.nn.log_softmax(logits, axis=-1), axis=-1))


def annotator_heads_cross_entropy(logits: Any, labels: Any) -> jax.Array:
    """Cross-entropy of per-annotator heads over the judgements that exist.

    Args:
        logits: ``[n, A, K]`` float, head ``a``'s logits for each sample.
        labels: ``[n, A]`` int, annotator ``a``'s label of each sample or ``-1`` where they gave
            none (:meth:`AnnotationTable.label_matrix` rows).

    Returns:
        The mean cross-entropy over the observed ``(sample, annotator)`` cells (0 when a batch
        has none). Jit-safe.
    """
    n, a, k = v.check_array(logits, "logits", ndim=3, dtype="float", min_size=1)
    v.check_array(labels, "labels", shape=(n, a), dtype="int", minimum=-1, maximum=k - 1)
    observed = labels >= 0
    logp = jax.nn.log_softmax(logits, axis=-1)
    picked = jnp.take_along_axis(logp, jnp.maximum(labels, 0)[..., None], axis=-1)[..., 0]
    count = jnp.sum(observed)
    return -jnp.sum(jnp.where(observed, picked, 0.0)) / jnp.maximum(count, 1)
