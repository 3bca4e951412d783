"""jaxml.hyperbolic.entropic_gw against ott's GromovWasserstein and a NumPy float64 loop, and the
warm start of jaxml.hyperbolic.sinkhorn_fast.sinkhorn_stabilized."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ott.geometry import geometry
from ott.problems.quadratic import quadratic_problem
from ott.solvers.linear import sinkhorn
from ott.solvers.quadratic import gromov_wasserstein

from jaxml.hyperbolic import entropic_gw
from jaxml.hyperbolic import poincare as P
from jaxml.hyperbolic.sinkhorn_fast import sinkhorn_stabilized

EPS = 0.05  # relative to each linearization's std
SETTINGS = {
    "max_iterations": 30,
    "min_iterations": 5,
    "threshold": 1e-6,
    "sinkhorn_threshold": 1e-9,
    "sinkhorn_max_iterations": 5000,
}


def _distances(n, seed):
    pts = np.random.default_rng(seed).normal(size=(n, 2))
    return np.linalg.norm(pts[:, None] - pts[None], axis=-1)


def _numpy_gw(dx, dy, eps_rel, max_iterations, min_iterations, threshold, sk_threshold):
    """The same iteration in plain NumPy float64: Peyre et al. 2016's linearization of the square
    loss from a b^T, eps = eps_rel * std(C), warm-started kernel Sinkhorn (u then v, error
    ||v * K^T u - b||_1 after the u update, checked every 10), ott's outer stopping rule."""
    n, m = len(dx), len(dy)
    a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)

    def linearize(plan):
        p, q = plan.sum(1), plan.sum(0)
        return (dx**2 @ p)[:, None] + (dy**2 @ q)[None, :] - 2.0 * dx @ plan @ dy

    def solve(cost, g0):
        eps = eps_rel * cost.std()
        kernel = np.exp(-cost / eps)
        v = np.exp(g0 / eps)
        err = np.inf
        while err > sk_threshold:
            for i in range(10):
                u = a / (kernel @ v)
                w = kernel.T @ u
                if i == 9:
                    err = np.abs(v * w - b).sum()
                v = b / w
        f, g = eps * np.log(u), eps * np.log(v)
        plan = u[:, None] * kernel * v[None, :]
        reg = a @ (f - eps * np.log(a)) + b @ (g - eps * np.log(b)) + eps * (1 - plan.sum())
        return plan, g, reg

    plan, g, _ = solve(linearize(np.outer(a, b)), np.zeros(m))
    costs = []
    while len(costs) < max_iterations:
        k = len(costs)
        done = k > 2 and (
            not np.isfinite(costs[-1]) or np.isclose(costs[-2], costs[-1], rtol=threshold, atol=0)
        )
        if k >= min_iterations and done:
            break
        plan, g, reg = solve(linearize(plan), g)
        costs.append(reg)
    return plan, np.sum(linearize(plan) * plan), len(costs)


@pytest.fixture(scope="module")
def solved():
    """Two problems solved by entropic_gw (jit of vmap: one compiled program), ott and NumPy."""
    with jax.enable_x64(True):
        dxs = np.stack([_distances(14, 0), _distances(14, 1)])
        dys = np.stack([_distances(11, 2), 1.3 * _distances(11, 3)])
        ours = jax.jit(jax.vmap(lambda dx, dy: entropic_gw(dx, dy, EPS, **SETTINGS)))(dxs, dys)
        ott_solver = gromov_wasserstein.GromovWasserstein(
            linear_solver=sinkhorn.Sinkhorn(
                threshold=SETTINGS["sinkhorn_threshold"],
                max_iterations=SETTINGS["sinkhorn_max_iterations"],
            ),
            epsilon=EPS,
            relative_epsilon="std",
            max_iterations=SETTINGS["max_iterations"],
            min_iterations=SETTINGS["min_iterations"],
            threshold=SETTINGS["threshold"],
            warm_start=True,
        )
        run_ott = jax.jit(
            lambda dx, dy: ott_solver(
                quadratic_problem.QuadraticProblem(
                    geometry.Geometry(cost_matrix=dx), geometry.Geometry(cost_matrix=dy)
                )
            )
        )
        refs = []
        for i in range(2):
            out = run_ott(jnp.asarray(dxs[i]), jnp.asarray(dys[i]))
            refs.append(
                (np.asarray(out.matrix), float(out.primal_cost), int(jnp.sum(out.costs != -1)))
            )
        vals = list(SETTINGS.values())
        numpy_ref = _numpy_gw(dxs[0], dys[0], EPS, *vals[:4])
        return dxs, dys, jax.tree.map(np.asarray, ours), refs, numpy_ref


def test_matches_ott_gromov_wasserstein(solved):
    _, _, ours, refs, _ = solved
    assert ours.plan.dtype == np.float64
    for i, (plan, cost, iterations) in enumerate(refs):
        # Same linearizations, same stopping rule: same number of outer iterations.
        assert int(ours.iterations[i]) == iterations
        assert bool(ours.converged[i])
        # Both inner solves stop at an L1 marginal error of 1e-9 (the marginals differ at
        # that level: ott's iteration ends on the rows, ours on the columns).
        np.testing.assert_allclose(ours.plan[i], plan, rtol=0, atol=1e-9)
        np.testing.assert_allclose(ours.cost[i], cost, rtol=1e-8)
    # the two problems differ, and so do their solutions
    assert np.abs(ours.plan[0] - ours.plan[1]).max() > 1e-3


def test_matches_numpy_float64_loop_and_invariants(solved):
    dxs, dys, ours, _, (plan, cost, iterations) = solved
    eager = jax.tree.map(lambda v: v[0], ours)  # the first problem
    assert int(eager.iterations) == iterations
    np.testing.assert_allclose(np.asarray(eager.plan), plan, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(float(eager.cost), cost, rtol=1e-10)
    # log_plan is the log of plan; the marginals are a and b; cost is the GW objective
    np.testing.assert_allclose(np.exp(np.asarray(eager.log_plan)), np.asarray(eager.plan), 1e-10)
    np.testing.assert_allclose(np.asarray(eager.plan).sum(0), 1 / 11, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(eager.plan).sum(1), 1 / 14, atol=1e-9)
    dx, dy, p = dxs[0], dys[0], np.asarray(eager.plan)
    objective = np.sum((dx[:, None, :, None] - dy[None, :, None, :]) ** 2 * p[:, :, None, None] * p)
    np.testing.assert_allclose(float(eager.cost), objective, rtol=1e-10)
    costs = np.asarray(eager.reg_ot_costs)
    assert np.all(np.isfinite(costs[:iterations])) and np.all(np.isnan(costs[iterations:]))


def test_sinkhorn_warm_start_same_plan_fewer_iterations(x64):
    rng = np.random.default_rng(4)
    x = np.tanh(rng.normal(size=(40, 3))) * 0.45
    y = np.tanh(rng.normal(size=(30, 3))) * 0.45
    c1 = np.asarray(P.pairwise_distance(x, y), np.float64)
    c2 = c1 + 0.02 * rng.random(c1.shape)  # the next linearization: a nearby cost
    eps = 0.05 * c1.std()
    run = jax.jit(
        lambda c, e, init: sinkhorn_stabilized(
            c, e, num_iterations=5000, threshold=1e-10, init=init
        )
    )
    first = run(c1, eps, (jnp.zeros(40), jnp.zeros(30)))
    cold = run(c2, eps, (jnp.zeros(40), jnp.zeros(30)))
    warm = run(c2, eps, (first.f, first.g))
    np.testing.assert_allclose(warm.plan, cold.plan, rtol=1e-7, atol=1e-12)
    assert int(warm.iterations) < int(cold.iterations)
    assert float(warm.error) <= 1e-10 and float(cold.error) <= 1e-10
    # init = (0, 0) is the cold start (today's initialization; un-jitted here: to rounding)
    plain = sinkhorn_stabilized(c2, eps, num_iterations=5000, threshold=1e-10)
    assert int(plain.iterations) == int(cold.iterations)
    np.testing.assert_allclose(np.asarray(plain.plan), np.asarray(cold.plan), rtol=1e-12)
    # one read of the kernel per iteration (what align's GW runs): the same warm-started solve
    one = sinkhorn_stabilized(
        c2, eps, num_iterations=5000, threshold=1e-10, init=(first.f, first.g), one_pass=True
    )
    assert int(one.iterations) == int(warm.iterations)
    np.testing.assert_allclose(np.asarray(one.plan), np.asarray(warm.plan), rtol=1e-9, atol=1e-15)
    # a solution is a fixed point: the first check already stops
    assert int(run(c2, eps, (cold.f, cold.g)).iterations) == 10
    # a tiny epsilon (exp(-C / eps) underflows even in float64) from another cost's
    # potentials: every row and column of the stabilized kernel holds a 1, no 0 / 0
    small = 0.0005 * c1.std()
    assert np.any(np.exp(-c2 / small).sum(0) == 0.0)
    tiny = run(c2, small, (first.f, first.g))
    plan = np.asarray(tiny.plan)
    assert np.all(np.isfinite(plan)) and int(tiny.absorptions) >= 1
    np.testing.assert_allclose(plan.sum(0), 1 / 30, rtol=1e-10)
    np.testing.assert_allclose(plan.sum(1), 1 / 40, rtol=2e-2)


def test_bad_inputs():
    d = np.ones((3, 3))
    for bad, name, err in (
        ({"dx": np.ones(3)}, "dx", ValueError),
        ({"dx": np.ones((3, 2))}, "dx", ValueError),
        ({"dy": "dy"}, "dy", TypeError),
        ({"epsilon": 0.0}, "epsilon", ValueError),
        ({"a": np.ones(2) / 2}, "a", ValueError),
        ({"b": -np.ones(3)}, "b", ValueError),
        ({"max_iterations": 0}, "max_iterations", ValueError),
        ({"min_iterations": 1.5}, "min_iterations", TypeError),
        ({"threshold": 0.0}, "threshold", ValueError),
        ({"sinkhorn_max_iterations": 0}, "sinkhorn_max_iterations", ValueError),
        ({"warm_start": "yes"}, "warm_start", TypeError),
    ):
        kw = {"dx": d, "dy": d, "epsilon": 0.1, **bad}
        with pytest.raises(err, match=name):
            entropic_gw(kw.pop("dx"), kw.pop("dy"), kw.pop("epsilon"), **kw)
    with pytest.raises(TypeError, match="init"):
        sinkhorn_stabilized(jnp.ones((3, 2)), 0.1, init=jnp.zeros(2))
    with pytest.raises(ValueError, match="init"):
        sinkhorn_stabilized(jnp.ones((3, 2)), 0.1, init=(jnp.zeros(3), jnp.zeros(3)))
