"""hierarchy_orbit_sizes against brute-force automorphism orbits of small trees and DAGs."""

import itertools

import numpy as np
import pytest

from jaxml.hyperbolic import hierarchy_orbit_sizes, synthetic_hierarchy, tree_orbit_sizes


def _brute_orbits(parent_edges, n):
    """Orbit sizes by enumerating every permutation that preserves the edge set."""
    edges = {tuple(e) for e in np.asarray(parent_edges).tolist()}
    orbit = [{v} for v in range(n)]
    for perm in itertools.permutations(range(n)):
        if all((perm[a], perm[b]) in edges for a, b in edges):
            for v in range(n):
                orbit[v].add(perm[v])
    return np.asarray([len(o) for o in orbit])


def _random_dag(rng, n, extra):
    """Node 0 is the root; each node picks a parent among earlier nodes, plus ``extra`` more
    (child, earlier node) edges (multi-parent nodes)."""
    edges = {(v, int(rng.integers(v))) for v in range(1, n)}
    for _ in range(extra):
        v = int(rng.integers(2, n))
        edges.add((v, int(rng.integers(v))))
    return np.asarray(sorted(edges), np.int64)


@pytest.mark.parametrize("seed", range(8))
def test_orbits_match_brute_force_on_small_trees(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 7))
    pe = _random_dag(rng, n, 0)
    brute = _brute_orbits(pe, n)
    out = hierarchy_orbit_sizes(pe, n)
    assert out.exact
    np.testing.assert_array_equal(out.lower, brute)
    np.testing.assert_array_equal(out.upper, brute)
    np.testing.assert_array_equal(tree_orbit_sizes(pe, n), brute)
    assert out.p_at_1_bound() == pytest.approx(np.mean(1.0 / brute), abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_orbits_bracket_brute_force_on_small_dags(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(4, 7))
    pe = _random_dag(rng, n, 3)
    brute = _brute_orbits(pe, n)
    out = hierarchy_orbit_sizes(pe, n)
    assert np.all(out.lower <= brute) and np.all(brute <= out.upper)
    if out.exact:
        np.testing.assert_array_equal(out.lower, brute)
    # The bound uses the subgroup's (smaller) orbits: never below the true best P@1.
    assert out.p_at_1_bound() >= np.mean(1.0 / brute) - 1e-12


def test_non_pendant_symmetry_is_bracketed_not_claimed():
    # root 0 -> a=1, b=2; c=3 and d=4 each have parents {1, 2}: swapping a, b is an automorphism
    # the pendant-subtree subgroup cannot generate, so the result is not exact.
    pe = np.asarray([[1, 0], [2, 0], [3, 1], [3, 2], [4, 1], [4, 2]])
    brute = _brute_orbits(pe, 5)
    out = hierarchy_orbit_sizes(pe, 5)
    np.testing.assert_array_equal(brute, [1, 2, 2, 2, 2])
    np.testing.assert_array_equal(out.lower, [1, 1, 1, 2, 2])
    np.testing.assert_array_equal(out.upper, brute)
    assert not out.exact


def test_orbits_equal_the_tree_function_on_a_larger_tree():
    tree = synthetic_hierarchy(3, num_nodes=120)
    out = hierarchy_orbit_sizes(tree.parent_edges, 120)
    assert out.exact
    np.testing.assert_array_equal(out.lower, tree_orbit_sizes(tree.parent_edges, 120))


@pytest.mark.parametrize(
    ("edges", "n", "match"),
    [
        ([[1, 0], [0, 1]], 2, "exactly one root"),
        ([[1, 0], [2, 3]], 4, "exactly one root"),
        ([[1, 0], [2, 1], [1, 2]], 3, "connected DAG"),
        ([[1, 1]], 2, "self-loop"),
        ([[1, 0], [2, 5]], 3, "parent_edges"),
    ],
)
def test_orbits_reject_bad_hierarchies(edges, n, match):
    with pytest.raises(ValueError, match=match):
        hierarchy_orbit_sizes(np.asarray(edges), n)
