"""jaxml.hyperbolic.sinkhorn_fast against a plain NumPy float64 Sinkhorn loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.hyperbolic import poincare as P
from jaxml.hyperbolic.sinkhorn_fast import sinkhorn_restarts, sinkhorn_stabilized


def _numpy_sinkhorn(cost, eps, its):
    kernel = np.exp(-cost / eps)
    a = np.full(cost.shape[0], 1.0 / cost.shape[0])
    b = np.full(cost.shape[1], 1.0 / cost.shape[1])
    v = np.ones_like(b)
    for _ in range(its):
        u = a / (kernel @ v)
        v = b / (kernel.T @ u)
    return u[:, None] * kernel * v[None, :]


def _cost(n, m, seed):
    rng = np.random.default_rng(seed)
    x = np.tanh(rng.normal(size=(n, 4))) * 0.45
    y = np.tanh(rng.normal(size=(m, 4))) * 0.45
    return np.asarray(P.pairwise_distance(x, y), np.float64)


def test_plans_match_numpy_and_stabilization_kicks_in_only_when_needed(x64):
    cost = _cost(40, 30, 0)
    eps = 0.05 * cost.std()
    ref = _numpy_sinkhorn(cost, eps, 200)
    fn = jax.jit(lambda c: sinkhorn_stabilized(c, eps, num_iterations=200, check_every=10))
    out = fn(jnp.asarray(cost))
    assert int(out.iterations) == 200
    np.testing.assert_allclose(np.asarray(out.plan), ref, rtol=1e-8, atol=1e-12 * ref.max())
    # One pass over K~ per iteration, in row blocks (7 does not divide 40: padded rows).
    for rows in (None, 7):
        one = sinkhorn_stabilized(
            jnp.asarray(cost), eps, num_iterations=200, one_pass=True, block_rows=rows
        )
        np.testing.assert_allclose(np.asarray(one.plan), ref, rtol=1e-8, atol=1e-12 * ref.max())
    # A tiny epsilon: exp(-C/eps) underflows in NumPy, the stabilized loop still converges.
    small = 0.002 * cost.std()
    assert np.any(np.exp(-cost / small).sum(1) == 0.0)
    for one_pass in (False, True):
        tiny = sinkhorn_stabilized(
            jnp.asarray(cost, jnp.float32), small, num_iterations=2000, one_pass=one_pass
        )
        plan = np.asarray(tiny.plan, np.float64)
        assert np.all(np.isfinite(plan)) and int(tiny.absorptions) >= 1
        np.testing.assert_allclose(plan.sum(0), 1 / 30, rtol=1e-3)
    # Early stop on the marginal error; vmap over restarts equals the loop.
    early = sinkhorn_stabilized(jnp.asarray(cost), eps, num_iterations=5000, threshold=1e-9)
    assert int(early.iterations) < 5000 and float(early.error) <= 1e-9
    costs = jnp.stack([jnp.asarray(cost), jnp.asarray(cost) * 1.1])
    batched = jax.vmap(lambda c: sinkhorn_stabilized(c, eps, num_iterations=50).plan)(costs)
    single = sinkhorn_stabilized(costs[1], eps, num_iterations=50).plan
    np.testing.assert_allclose(batched[1], single, rtol=1e-10)
    # Restarts one after another (lax.map, also in pairs): the vmapped solves, per-problem eps.
    for bs in (1, 2):
        eps2 = jnp.asarray([eps, 2 * eps])
        seq = sinkhorn_restarts(costs, eps2, num_iterations=50, batch_size=bs)
        single2 = sinkhorn_stabilized(costs[1], 2 * eps, num_iterations=50).plan
        np.testing.assert_allclose(seq.plan[1], single2, rtol=1e-10)
        np.testing.assert_allclose(seq.plan[0], batched[0], rtol=1e-10)
    assert seq.plan.shape == (2, 40, 30) and seq.iterations.shape == (2,)
    # and it is differentiable like the single solve
    grad = jax.grad(lambda c: sinkhorn_restarts(c, eps, num_iterations=20).plan[:, 0, 0].sum())
    assert np.all(np.isfinite(np.asarray(grad(costs))))
    with pytest.raises(ValueError, match="epsilon"):
        sinkhorn_restarts(costs, jnp.asarray([eps, 0.0]))
    with pytest.raises(ValueError, match="cost"):
        sinkhorn_stabilized(jnp.ones(3), 0.1)
    with pytest.raises(ValueError, match="epsilon"):
        sinkhorn_stabilized(jnp.ones((3, 3)), 0.0)
    with pytest.raises(ValueError, match="b"):
        sinkhorn_stabilized(jnp.ones((3, 3)), 0.1, b=jnp.ones(4) / 4)
