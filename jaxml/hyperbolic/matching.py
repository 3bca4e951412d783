"""Evaluation of a hierarchy matching: precision@k and ground-truth builders.

Alvarez-Melis et al. (2020) score a matching by precision@k: the fraction of source items whose
true counterpart is among the ``k`` highest-scoring target items (a transport plan's row, or a
similarity). Ties are counted pessimistically: an item is a hit at ``k`` only if fewer than ``k``
other candidates score at least as high as the true one, so a row of equal scores (e.g. an
underflowed plan) is never a lucky hit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxml._validation import check_bool, check_int

__all__ = [
    "match_by_keys",
    "match_by_lemmas",
    "precision_at_k",
    "true_match_from_permutation",
]


def precision_at_k(scores_or_plan: ArrayLike, true_match: ArrayLike, k: int = 1) -> jax.Array:
    """Fraction of rows whose true column is within the top ``k`` scores of that row.

    Args:
        scores_or_plan: ``[n, m]`` scores, higher = more likely (a transport plan, a log-plan,
            or negative distances).
        true_match: int ``[n]``, the true column of each row, or ``-1`` for rows without a
            counterpart (excluded from the average).
        k: ``1 <= k``; ``k >= m`` gives 1.

    Returns:
        Scalar in ``[0, 1]``: ``mean_i [#{j != t_i : s_ij >= s_{i t_i}} < k]`` over matched rows.

        Under ``jit`` (traced scores) a matched row with a NaN or inf score gives NaN.

    Raises:
        ValueError: ``k < 1``, shapes that disagree, true columns outside ``[-1, m)``, no
            matched row, or (concrete inputs) a NaN or inf score anywhere in a matched row
            (the message names the first rows and their count). Rows with ``true_match = -1``
            are not inspected.
    """
    k = check_int(k, "k", minimum=1)
    shape = np.shape(scores_or_plan)
    if len(shape) != 2:
        raise ValueError(f"scores_or_plan must be 2-D [n, m]; got shape {shape}")
    n, m = shape
    if n < 1 or m < 1:
        raise ValueError(f"scores_or_plan is empty (shape {shape})")
    if np.shape(true_match) != (n,):
        raise ValueError(
            f"true_match must have shape [n] = ({n},) (one column per row of scores_or_plan); "
            f"got {np.shape(true_match)}"
        )
    if not isinstance(true_match, jax.core.Tracer):
        t = np.asarray(true_match)
        if not np.issubdtype(t.dtype, np.integer):
            raise ValueError(f"true_match must hold integer column ids; got dtype {t.dtype}")
        if t.min() < -1 or t.max() >= m:
            raise ValueError(
                f"true_match values must be in [-1, m) = [-1, {m}); got {t.min()}..{t.max()}"
            )
        if not np.any(t >= 0):
            raise ValueError("true_match has no matched row (all -1): precision is undefined")
        if not isinstance(scores_or_plan, jax.core.Tracer):
            finite = np.all(np.isfinite(np.asarray(scores_or_plan)), axis=1)
            bad = np.flatnonzero((t >= 0) & ~finite)
            if bad.size:
                raise ValueError(
                    f"scores_or_plan has NaN or inf scores in {bad.size} matched row(s) (rows "
                    f"{str(bad[:5].tolist())[:-1]}{', ...' if bad.size > 5 else ''}]); a "
                    "diverged plan "
                    "cannot be scored (a NaN true score would otherwise count as a hit)"
                )
    s = jnp.asarray(scores_or_plan)
    t = jnp.asarray(true_match)
    matched = t >= 0
    t_safe = jnp.where(matched, t, 0)
    true_score = jnp.take_along_axis(s, t_safe[:, None], axis=1)  # [n, 1]
    at_least = jnp.sum(s >= true_score, axis=1) - 1  # others scoring >= the true one
    hits = (at_least < k) & matched
    bad = jnp.any(matched & ~jnp.all(jnp.isfinite(s), axis=1))
    return jnp.where(bad, jnp.nan, jnp.sum(hits) / jnp.sum(matched))


def true_match_from_permutation(perm: ArrayLike) -> np.ndarray:
    """Ground truth when ``y`` is ``x`` relabelled by ``perm`` (old ``i`` -> new ``perm[i]``).

    Args:
        perm: int ``[n]`` permutation.

    Returns:
        int ``[n]``: ``true_match[i] = perm[i]``.
    """
    p = np.asarray(perm)
    if p.ndim != 1 or not np.array_equal(np.sort(p), np.arange(p.shape[0])):
        raise ValueError(f"perm must be a permutation of 0..n-1; got shape {p.shape}")
    return p.astype(np.int32)


def _check_sequence(value, name: str, *, of_str: bool = False) -> None:
    """A list/tuple (not a string); with ``of_str``, of lists/tuples of strings."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a sequence (list or tuple); got {type(value).__name__}")
    if of_str:
        for item in value:
            if isinstance(item, str) or not all(isinstance(w, str) for w in item):
                raise TypeError(
                    f"{name} must be a sequence of lemma-name sequences (e.g. [('dog',)]); got "
                    f"an item {item!r}"
                )


def match_by_keys(keys_x: Sequence[Hashable], keys_y: Sequence[Hashable]) -> np.ndarray:
    """Matches items with equal keys, where the key is unique on both sides.

    Args:
        keys_x: ``n`` hashable keys (e.g. names).
        keys_y: ``m`` hashable keys.

    Returns:
        int ``[n]``: the index in ``y`` of the item with the same key, or ``-1`` when the key is
        absent from ``y`` or repeated on either side (ambiguous).
    """
    _check_sequence(keys_x, "keys_x")
    _check_sequence(keys_y, "keys_y")
    if len(keys_x) == 0 or len(keys_y) == 0:
        raise ValueError(f"keys_x and keys_y must be non-empty; got {len(keys_x)}, {len(keys_y)}")
    pos_y: dict[Hashable, list[int]] = defaultdict(list)
    for j, key in enumerate(keys_y):
        pos_y[key].append(j)
    count_x: dict[Hashable, int] = defaultdict(int)
    for key in keys_x:
        count_x[key] += 1
    out = np.full(len(keys_x), -1, dtype=np.int32)
    for i, key in enumerate(keys_x):
        js = pos_y.get(key, [])
        if len(js) == 1 and count_x[key] == 1:
            out[i] = js[0]
    return out


def match_by_lemmas(
    lemmas_x: Sequence[Sequence[str]], lemmas_y: Sequence[Sequence[str]], *, overlap: bool = True
) -> np.ndarray:
    """Ground truth between two versions of a lexicon from the synsets' lemma names.

    Pass 1 matches synsets whose lemma *sets* are identical (and unique on both sides). Pass 2
    (``overlap=True``) matches the remaining synsets that share at least one lemma name when that
    relation is one-to-one among the unmatched ones (catches e.g. a lemma added or a Latin name
    corrected between WordNet 3.0 and 3.3, the other lemmas identical). Ambiguous synsets stay
    unmatched (``-1``).

    Args:
        lemmas_x: per synset of ``x``, its lemma names.
        lemmas_y: per synset of ``y``, its lemma names.
        overlap: run pass 2.

    Returns:
        int ``[n]`` index in ``y`` or ``-1``.
    """
    _check_sequence(lemmas_x, "lemmas_x", of_str=True)
    _check_sequence(lemmas_y, "lemmas_y", of_str=True)
    check_bool(overlap, "overlap")
    keys_x = [frozenset(w.lower() for w in ls) for ls in lemmas_x]
    keys_y = [frozenset(w.lower() for w in ls) for ls in lemmas_y]
    out = match_by_keys(keys_x, keys_y)
    if not overlap:
        return out
    taken = set(out[out >= 0].tolist())
    free_x = [i for i in range(len(keys_x)) if out[i] < 0]
    free_y = [j for j in range(len(keys_y)) if j not in taken]
    by_lemma: dict[str, set[int]] = defaultdict(set)
    for j in free_y:
        for w in keys_y[j]:
            by_lemma[w].add(j)
    candidates = {i: set().union(*(by_lemma.get(w, set()) for w in keys_x[i])) for i in free_x}
    back: dict[int, set[int]] = defaultdict(set)
    for i, js in candidates.items():
        for j in js:
            back[j].add(i)
    for i, js in candidates.items():
        if len(js) == 1:
            (j,) = js
            if back[j] == {i}:
                out[i] = j
    return out
