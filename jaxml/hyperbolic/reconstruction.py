"""Reconstruction quality of an embedding: mean rank and mean average precision (MAP).

Nickel & Kiela (2017), Sec. 4.1 ("reconstruction"): for every node ``u`` and every ``v`` with
``(u, v)`` in the relation set, rank ``d(u, v)`` among the distances from ``u`` to the nodes
``v'`` with ``(u, v')`` not in the set and ``v' != u``. This is the directed protocol of the
reference code: each node's ancestors are ranked among all its non-ancestors except itself.

* rank of ``(u, v)`` = ``1 + #{negatives v' : d(u, v') < d(u, v)}``; mean rank averages over all
  relations (1 is perfect);
* ``AP(u) = mean_v precision at v``, with precision at ``v`` = (positives at distance <= d(u, v))
  / (those + negatives closer than ``v``); MAP averages ``AP(u)`` over the nodes that have at
  least one relation.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxml._validation import check_int
from jaxml.hyperbolic import poincare
from jaxml.hyperbolic._checks import check_point_set
from jaxml.hyperbolic.embeddings import check_edges

__all__ = ["ReconstructionMetrics", "reconstruction_metrics"]


class ReconstructionMetrics(NamedTuple):
    """Mean rank (>= 1, lower is better) and MAP (in (0, 1], higher is better)."""

    mean_rank: jax.Array
    map: jax.Array


def _padded_neighbors(edges: np.ndarray, num_nodes: int) -> np.ndarray:
    """``[n, max_degree]`` positive ids per node, padded with ``num_nodes`` (out of range)."""
    edges = np.unique(edges, axis=0)
    counts = np.bincount(edges[:, 0], minlength=num_nodes)
    width = max(1, int(counts.max(initial=0)))
    out = np.full((num_nodes, width), num_nodes, dtype=np.int32)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    col = np.arange(edges.shape[0]) - np.repeat(starts, counts)
    out[edges[:, 0], col] = edges[:, 1]
    return out


def reconstruction_metrics(
    embeddings: ArrayLike, edges: ArrayLike, c: float = 1.0, *, chunk_size: int = 256
) -> ReconstructionMetrics:
    """Mean rank and MAP of the relations ``edges`` reconstructed from Poincare distances.

    Memory is ``O(chunk_size * n)``: rows are processed ``chunk_size`` at a time with
    ``lax.map``; each row sorts its ``n`` distances (``O(n^2 log n)`` in total).

    Args:
        embeddings: ``[n, d]`` points in the ball.
        edges: int ``[m, 2]`` relations ``(u, v)`` (``v`` an ancestor of ``u``).
        c: curvature magnitude.
        chunk_size: rows per block.

    Returns:
        :class:`ReconstructionMetrics` of scalars.
    """
    n, _ = check_point_set(embeddings, "embeddings", c)
    edges_np = check_edges(edges, n)
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    x = jnp.asarray(embeddings)
    positives = jnp.asarray(_padded_neighbors(edges_np, n))  # [n, w]
    num_chunks = math.ceil(n / chunk_size)
    rows = jnp.arange(num_chunks * chunk_size, dtype=jnp.int32).reshape(num_chunks, chunk_size)

    def one_row(u):
        valid_row = u < n
        u = jnp.minimum(u, n - 1)
        d = poincare.distance(x[u][None, :], x, c)  # [n]
        pos = positives[u]  # [w], n = padding
        is_pos = pos < n
        d_pos = jnp.where(is_pos, d[jnp.minimum(pos, n - 1)], jnp.inf)
        d_neg = d.at[pos].set(jnp.inf, mode="drop").at[u].set(jnp.inf)
        neg_sorted = jnp.sort(d_neg)
        pos_sorted = jnp.sort(d_pos)
        neg_before = jnp.searchsorted(neg_sorted, d_pos, side="left")
        pos_upto = jnp.searchsorted(pos_sorted, d_pos, side="right")
        precision = pos_upto / (pos_upto + neg_before)
        count = jnp.sum(is_pos) * valid_row
        rank_sum = jnp.sum(jnp.where(is_pos, 1.0 + neg_before, 0.0)) * valid_row
        ap = jnp.sum(jnp.where(is_pos, precision, 0.0)) / jnp.maximum(count, 1)
        return rank_sum, count, jnp.where(count > 0, ap, 0.0), count > 0

    rank_sum, count, ap, has = jax.lax.map(jax.vmap(one_row), rows)
    mean_rank = jnp.sum(rank_sum) / jnp.sum(count)
    mean_ap = jnp.sum(ap) / jnp.sum(has)
    return ReconstructionMetrics(mean_rank=mean_rank, map=mean_ap)
