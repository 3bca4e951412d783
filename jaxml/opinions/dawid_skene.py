"""Dawid-Skene EM (Dawid & Skene, 1979) and its one-coin variant, in JAX with a fixed loop.

Model: sample ``j`` has a latent true class ``z_j ~ Categorical(prior)``; annotator ``a`` answers
``k`` with probability ``confusion[a, z_j, k]``. EM alternates

- E-step: ``post[j, c] ∝ prior[c] * prod_{(j, a, k) in table} confusion[a, c, k]`` (in logs,
  max-shifted before exponentiating);
- M-step: ``prior = mean_j post[j]``; ``counts[a, c, k] = sum_{(j, a, k)} post[j, c]``, floored at
  ``EPS = 1e-10`` on the labels the annotator ever used, 0 on the others, and normalised over
  ``k``. One-coin: one skill per annotator, ``s_a = mean_{(j, a, k)} post[j, k]``, and
  ``confusion[a, c, k] = s_a`` if ``k == c`` else ``(1 - s_a) / (K - 1)``, clipped to
  ``[EPS, 1 - EPS]``.

It starts from the majority-vote distribution (soft labels) followed by one M-step, and runs
exactly ``num_iters`` (E, M) rounds in a ``lax.fori_loop``. These are crowd-kit 1.4.2's
``DawidSkene``/``OneCoinDawidSkene`` choices (initialisation, the 1e-10 floors, the floor applied
only to the (annotator, label) cells that occur, the prior floored at 1e-10 in the E-step, ties of
the final label to the smallest class), so the posteriors and confusion matrices agree with
crowd-kit run with ``n_iter=num_iters, tol=-inf`` (the tests check 1e-6 in float64). Differences:
crowd-kit stops early when its ELBO gains less than ``tol`` (here: never, the count is fixed);
crowd-kit keeps only the classes that occur in the data while here all ``K`` are kept (a class no
one used gets a posterior of order 1e-10, not a missing column); crowd-kit works in base-2 logs
(the same numbers up to rounding).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxml import _validation as v
from jaxml.opinions._checks import check_num_classes, check_table
from jaxml.opinions.table import AnnotationTable

__all__ = ["EPS", "DawidSkeneResult", "dawid_skene", "one_coin_dawid_skene"]

EPS = 1e-10
"""The floor of confusion entries and priors (crowd-kit's ``_EPS``)."""


class DawidSkeneResult(NamedTuple):
    """What :func:`dawid_skene` and :func:`one_coin_dawid_skene` return.

    Attributes:
        posteriors: ``[num_samples, K]`` ``P(z_j = c | labels)``, rows summing to 1.
        confusions: ``[num_annotators, K, K]`` ``confusions[a, c, k] = P(annotator a says k |
            true class c)``; rows over ``k`` sum to 1 (Dawid-Skene; one-coin rows sum to 1 up to
            the clipping). crowd-kit's ``errors_.loc[(a, k), c]`` is ``confusions[a, c, k]``.
        priors: ``[K]`` the class prior (mean posterior).
        labels: ``[num_samples]`` int32, the most probable class (ties to the smallest).
        skills: ``[num_annotators]`` one-coin accuracy ``s_a`` (for full Dawid-Skene, the
            posterior-weighted agreement ``mean P(z_j = label)`` of each annotator's labels).
    """

    posteriors: jax.Array
    confusions: jax.Array
    priors: jax.Array
    labels: jax.Array
    skills: jax.Array


def _setup(table: AnnotationTable, num_classes: int):
    k = num_classes
    cell = table.annotator_id * k + table.label  # (annotator, given label) of each row
    used = (
        jax.ops.segment_sum(
            jnp.ones(cell.shape), cell, num_segments=table.num_annotators * k
        ).reshape(table.num_annotators, k)
        > 0
    )
    counts = table.label_counts()
    mv = counts / jnp.sum(counts, axis=1, keepdims=True)
    return cell, used, mv


def _e_step(table, log_conf_rows, priors):
    """``log_conf_rows(rows) -> [m, K]`` log P(label_r | c); returns the posteriors."""
    dtype = priors.dtype
    log_prior = jnp.log(jnp.maximum(priors, jnp.asarray(EPS, dtype)))
    loglik = jax.ops.segment_sum(log_conf_rows, table.sample_id, num_segments=table.num_samples)
    return jax.nn.softmax(log_prior + loglik, axis=1)


def _skills(table, post):
    """``mean_{rows of a} post[j, label]``: each annotator's posterior agreement."""
    agree = jnp.take_along_axis(post[table.sample_id], table.label[:, None], axis=1)[:, 0]
    total = jax.ops.segment_sum(agree, table.annotator_id, num_segments=table.num_annotators)
    n = jax.ops.segment_sum(
        jnp.ones_like(agree), table.annotator_id, num_segments=table.num_annotators
    )
    return total / n


def _check(table, num_classes, num_iters):
    check_table(table)
    num_classes = check_num_classes(num_classes, table)
    num_iters = v.check_int(num_iters, "num_iters", minimum=0)
    return num_classes, num_iters


def dawid_skene(table: AnnotationTable, num_classes: int, num_iters: int = 100) -> DawidSkeneResult:
    """Full-confusion-matrix Dawid-Skene EM, ``num_iters`` rounds from the majority vote.

    Args:
        table: the judgements.
        num_classes: the label scale ``K`` (equal to ``table.num_classes``; static).
        num_iters: EM rounds (static, >= 0; 0 returns the majority-vote start and its M-step).

    Returns:
        A :class:`DawidSkeneResult`. Jit-safe: ``jax.jit(dawid_skene, static_argnums=(1, 2))``.
        Float32 unless x64 is on.
    """
    k, num_iters = _check(table, num_classes, num_iters)
    cell, used, mv = _setup(table, k)
    dtype = mv.dtype

    def m_step(post):
        counts = jax.ops.segment_sum(
            post[table.sample_id], cell, num_segments=table.num_annotators * k
        ).reshape(table.num_annotators, k, k)  # [a, given k, true c]
        counts = jnp.where(used[:, :, None], jnp.maximum(counts, jnp.asarray(EPS, dtype)), 0.0)
        conf = counts / jnp.sum(counts, axis=1, keepdims=True)
        return jnp.swapaxes(conf, 1, 2)  # [a, true c, given k]

    def log_rows(conf):
        # Only cells that occur are read, so log(0) of unused labels never enters a sum.
        safe = jnp.where(conf > 0, conf, 1.0)
        return jnp.log(safe[table.annotator_id, :, table.label])

    def body(_, carry):
        _, priors, conf = carry
        post = _e_step(table, log_rows(conf), priors)
        return post, jnp.mean(post, axis=0), m_step(post)

    init = (mv, jnp.mean(mv, axis=0), m_step(mv))
    post, priors, conf = jax.lax.fori_loop(0, num_iters, body, init)
    labels = jnp.argmax(post, axis=1).astype(jnp.int32)
    return DawidSkeneResult(post, conf, priors, labels, _skills(table, post))


def one_coin_dawid_skene(
    table: AnnotationTable, num_classes: int, num_iters: int = 100
) -> DawidSkeneResult:
    """One-coin Dawid-Skene: each annotator is right with probability ``s_a``, else uniform.

    Same arguments and return as :func:`dawid_skene`; ``confusions[a]`` is
    ``s_a`` on the diagonal and ``(1 - s_a) / (K - 1)`` off it (clipped to ``[EPS, 1 - EPS]``,
    as crowd-kit's ``OneCoinDawidSkene``), ``skills`` holds ``s_a``. Jit-safe.
    """
    k, num_iters = _check(table, num_classes, num_iters)
    _, _, mv = _setup(table, k)
    eye = jnp.eye(k, dtype=mv.dtype)

    def m_step(post):
        s = _skills(table, post)
        conf = s[:, None, None] * eye + ((1.0 - s) / (k - 1))[:, None, None] * (1.0 - eye)
        return jnp.clip(conf, EPS, 1.0 - EPS), s

    def log_rows(conf):
        return jnp.log(conf[table.annotator_id, :, table.label])

    def body(_, carry):
        _, priors, conf, _ = carry
        post = _e_step(table, log_rows(conf), priors)
        return (post, jnp.mean(post, axis=0), *m_step(post))

    init = (mv, jnp.mean(mv, axis=0), *m_step(mv))
    post, priors, conf, skills = jax.lax.fori_loop(0, num_iters, body, init)
    labels = jnp.argmax(post, axis=1).astype(jnp.int32)
    return DawidSkeneResult(post, conf, priors, labels, skills)
