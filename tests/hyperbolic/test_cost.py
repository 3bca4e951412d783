"""PoincareCost inside ott: PointCloud, Sinkhorn and Gromov-Wasserstein work unchanged."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ott.geometry import geometry, pointcloud
from ott.problems.linear import linear_problem
from ott.problems.quadratic import quadratic_problem
from ott.solvers.linear import sinkhorn
from ott.solvers.quadratic import gromov_wasserstein

from jaxml.hyperbolic import PoincareCost, precision_at_k
from jaxml.hyperbolic import poincare as P


def _cloud(seed, n, d=3):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, d))
    return jnp.asarray(0.97 * v / (1.0 + np.linalg.norm(v, axis=1, keepdims=True)), jnp.float32)


def test_cost_matrix_and_pointwise_call():
    x, y = _cloud(0, 7), _cloud(1, 5)
    cost = PoincareCost(power=2.0)
    expected = np.asarray(P.pairwise_distance(x, y)) ** 2
    np.testing.assert_allclose(np.asarray(cost.all_pairs(x, y)), expected, rtol=1e-5)
    np.testing.assert_allclose(float(cost(x[0], y[0])), expected[0, 0], rtol=1e-5)
    geom = pointcloud.PointCloud(x, y, cost_fn=cost)
    np.testing.assert_allclose(np.asarray(geom.cost_matrix), expected, rtol=1e-5)
    # Pytree round trip keeps the static parameters, and jit through the geometry works.
    leaves, tree = jax.tree_util.tree_flatten(cost)
    assert jax.tree_util.tree_unflatten(tree, leaves) == cost
    jitted = jax.jit(lambda a, b: pointcloud.PointCloud(a, b, cost_fn=cost).cost_matrix)(x, y)
    np.testing.assert_allclose(np.asarray(jitted), expected, rtol=1e-5)


def test_sinkhorn_with_poincare_cost_equals_precomputed_matrix():
    # (ott 0.6's online mode, PointCloud(batch_size=...), calls an API removed in jax 0.10, so
    # only the materialized cost is exercised here.)
    x, y = _cloud(2, 12), _cloud(3, 9)
    cost = PoincareCost()
    solver = sinkhorn.Sinkhorn(threshold=1e-6, max_iterations=5000)
    solve = jax.jit(lambda geom: solver(linear_problem.LinearProblem(geom)).matrix)
    plan_cloud = solve(pointcloud.PointCloud(x, y, cost_fn=cost, epsilon=0.05))
    matrix = np.asarray(P.pairwise_distance(x, y))
    plan_matrix = solve(geometry.Geometry(cost_matrix=jnp.asarray(matrix), epsilon=0.05))
    np.testing.assert_allclose(np.asarray(plan_cloud), np.asarray(plan_matrix), atol=1e-6)
    np.testing.assert_allclose(np.asarray(plan_cloud).sum(1), 1 / 12, rtol=1e-4)


def test_gromov_wasserstein_recovers_a_relabelling_on_poincare_geometries():
    """10 generic points (distinct pairwise distances) and the same set relabelled: the GW
    plan's argmax must give the permutation back (P@1 >= 0.9, at most one of 10 wrong)."""
    x = _cloud(4, 10)
    perm = np.array([1, 4, 7, 0, 3, 6, 9, 2, 5, 8])  # 3 i + 1 mod 10: no fixed point
    y = x[perm]  # y[j] = x[perm[j]], so x[i] is y[argsort(perm)[i]]
    truth = np.argsort(perm)
    prob = quadratic_problem.QuadraticProblem(
        pointcloud.PointCloud(x, x, cost_fn=PoincareCost()),
        pointcloud.PointCloud(y, y, cost_fn=PoincareCost()),
    )
    solver = gromov_wasserstein.GromovWasserstein(
        linear_solver=sinkhorn.Sinkhorn(), epsilon=1e-3, max_iterations=30
    )
    plan = np.asarray(jax.jit(solver)(prob).matrix)
    np.testing.assert_allclose(plan.sum(), 1.0, rtol=1e-3)
    assert float(precision_at_k(plan, truth, 1)) >= 0.9
    # The bar can fail: the identity (no fixed point of perm) scores low.
    assert float(precision_at_k(plan, np.arange(10), 1)) <= 0.1


def test_bad_parameters_and_points():
    with pytest.raises(ValueError, match="power"):
        PoincareCost(power=0.0)
    with pytest.raises(ValueError, match="curvature"):
        PoincareCost(c=0.0)
    with pytest.raises(ValueError, match="outside"):
        PoincareCost().all_pairs(jnp.array([[1.5, 0.0]]), jnp.array([[0.1, 0.0]]))
    with pytest.raises(ValueError, match="same last dimension"):
        PoincareCost().all_pairs(jnp.zeros((2, 2)), jnp.zeros((2, 3)))
