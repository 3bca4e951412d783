"""sync_sgd and dc_s3gd against closed forms: K workers simulated with ``jax.vmap(axis_name=...)``.

The workers' losses are quadratics ``f_k(w) = 1/2 (w - c_k)^T A (w - c_k)`` with gradients
``A (w - c_k)`` known in closed form, so a NumPy re-implementation of the update rules (written
from the paper's equations, independently of the library) gives the exact trajectory.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.parallel import DCS3GDState, dc_s3gd, sync_sgd

K, D = 4, 6
AXIS = "workers"


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(D, D))
    a = q @ q.T / D + 0.5 * np.eye(D)
    c = rng.normal(size=(K, D))
    w0 = rng.normal(size=D)
    return a, c, w0


def _split(w):  # params as a two-leaf pytree, to exercise tree handling
    return {"w": w[..., :4], "b": w[..., 4:]}


def _join(p):
    return jnp.concatenate([p["w"], p["b"]], axis=-1)


def _run_library(opt, a, c, w0, steps, *, jit):
    """Runs ``steps`` updates on K vmapped workers; returns the weights [steps + 1, K, D]."""
    a, c = jnp.asarray(a), jnp.asarray(c)

    def worker_step(params, opt_state, c_k):
        grads = _split(a @ (_join(params) - c_k))
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    step = jax.vmap(worker_step, axis_name=AXIS)
    if jit:
        step = jax.jit(step)
    params = _split(jnp.broadcast_to(jnp.asarray(w0), (K, D)))
    opt_state = jax.vmap(opt.init)(params)
    out = [np.asarray(_join(params))]
    for _ in range(steps):
        params, opt_state = step(params, opt_state, c)
        out.append(np.asarray(_join(params)))
    return np.stack(out)


def _run_numpy(a, c, w0, steps, *, eta, lam, tau, mu, variant, sync=False):
    """The paper's rules, per worker, with explicit dicts of what was issued at each step."""
    w = np.tile(w0, (K, 1))
    m = np.zeros((K, D))
    issued, issued_at, local_at = {}, {}, {}
    out = [w.copy()]
    for t in range(steps):
        g = (a @ (w - c).T).T  # [K, D] local gradients at each worker's weights
        avg = g.mean(0)
        new_w = np.empty_like(w)
        for k in range(K):
            if sync or tau == 0:
                d = avg
            elif t >= tau:
                g_old, w_old = issued[t - tau], issued_at[t - tau][k]
                comp = g_old + lam * g_old * g_old * (w[k] - w_old)
                d = comp if variant == "stale" else g[k] + comp - local_at[t - tau][k]
            else:
                d = np.zeros(D) if variant == "stale" else g[k]
            m[k] = d + mu * m[k]
            new_w[k] = w[k] - eta * m[k]
        issued[t], issued_at[t], local_at[t] = avg, w.copy(), g
        w = new_w
        out.append(w.copy())
    return np.stack(out)


@pytest.mark.parametrize("mu", [0.0, 0.9])
def test_dc_s3gd_without_staleness_equals_sync_sgd(x64, mu):
    a, c, w0 = _problem()
    schedule = optax.exponential_decay(0.2, transition_steps=3, decay_rate=0.7)
    # With tau = 0, w_t - w_{t-tau} = 0: lam has no effect.
    for lr, lam in ((0.15, 0.0), (schedule, 0.7)):
        sync = _run_library(sync_sgd(lr, mu, axis_name=AXIS), a, c, w0, 12, jit=True)
        dc = _run_library(
            dc_s3gd(lr, lam, staleness=0, momentum=mu, axis_name=AXIS), a, c, w0, 12, jit=True
        )
        np.testing.assert_allclose(dc, sync, rtol=1e-14, atol=1e-14)
    ref = _run_numpy(a, c, w0, 12, eta=0.15, lam=0.0, tau=0, mu=mu, variant="stale", sync=True)
    np.testing.assert_allclose(
        _run_library(sync_sgd(0.15, mu, axis_name=AXIS), a, c, w0, 12, jit=True), ref, rtol=1e-12
    )
    unjitted = _run_library(dc_s3gd(0.15, 0.0, 0, mu, axis_name=AXIS), a, c, w0, 3, jit=False)
    np.testing.assert_allclose(unjitted, ref[:4], rtol=1e-12, atol=1e-12)
    assert np.abs(ref[-1] - ref[0]).max() > 0.1  # it moved


def test_sync_matches_in_float32():
    a, c, w0 = _problem(1)
    sync = _run_library(sync_sgd(0.1, 0.5, axis_name=AXIS), a, c, w0, 8, jit=True)
    dc = _run_library(dc_s3gd(0.1, 0.0, 0, 0.5, axis_name=AXIS), a, c, w0, 8, jit=True)
    assert sync.dtype == np.float32
    np.testing.assert_allclose(dc, sync, rtol=1e-6, atol=1e-6)
    # All-reducing one raveled vector or leaf by leaf: the same numbers.
    per_leaf = _run_library(
        sync_sgd(0.1, 0.5, axis_name=AXIS, flatten=False), a, c, w0, 8, jit=True
    )
    np.testing.assert_allclose(per_leaf, sync, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "variant,tau,lam,mu,flatten",
    [
        ("stale", 1, 0.0, 0.0, True),
        ("local", 2, 0.5, 0.0, False),
        ("stale", 4, 0.3, 0.5, False),
        ("local", 3, 0.2, 0.9, True),
    ],
)
def test_trajectory_matches_the_paper_rules(x64, variant, tau, lam, mu, flatten):
    a, c, w0 = _problem(2)
    steps, eta = 12, 0.1
    ref = _run_numpy(a, c, w0, steps, eta=eta, lam=lam, tau=tau, mu=mu, variant=variant)
    opt = dc_s3gd(
        eta, lam, staleness=tau, momentum=mu, variant=variant, axis_name=AXIS, flatten=flatten
    )
    got = _run_library(opt, a, c, w0, steps, jit=True)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    if variant == "stale":
        np.testing.assert_array_equal(got[: tau + 1], np.broadcast_to(w0, (tau + 1, K, D)))
        assert np.all(got.std(axis=1) < 1e-14)  # replicas stay identical
    else:
        assert got[-1].std(axis=0).max() > 1e-3  # replicas differ by the in-flight gradients
    # A wrong delay gives a different trajectory: the check can fail.
    wrong = _run_numpy(a, c, w0, steps, eta=eta, lam=lam, tau=tau + 1, mu=mu, variant=variant)
    assert np.abs(wrong - ref).max() > 1e-3


def test_trajectory_unjitted(x64):
    a, c, w0 = _problem(3)
    ref = _run_numpy(a, c, w0, 4, eta=0.1, lam=0.4, tau=2, mu=0.5, variant="local")
    opt = dc_s3gd(0.1, 0.4, staleness=2, momentum=0.5, variant="local", axis_name=AXIS)
    np.testing.assert_allclose(_run_library(opt, a, c, w0, 4, jit=False), ref, rtol=1e-12)


@pytest.mark.parametrize("tau", [1, 3])
def test_update_at_step_t_uses_the_average_issued_at_t_minus_tau(x64, tau):
    """Feed gradients g_t^k = (t + 1) * v + k * u (no model): with lam = 0 the update at step t
    must be -eta * mean_k g_{t-tau}^k = -eta * ((t - tau + 1) * v + 1.5 * u), and 0 before."""
    eta, steps = 0.5, 9
    v, u = jnp.array([1.0, -2.0]), jnp.array([0.25, 0.5])
    opt = dc_s3gd(eta, 0.0, staleness=tau, axis_name=AXIS, flatten=False)

    def one(state, t, k):
        grads = {"p": (t + 1.0) * v + k * u}
        updates, state = opt.update(grads, state, {"p": jnp.zeros(2)})
        return state, updates["p"]

    step = jax.jit(jax.vmap(one, axis_name=AXIS, in_axes=(0, None, 0)))
    state = jax.vmap(opt.init)({"p": jnp.zeros((K, 2))})
    assert isinstance(state, DCS3GDState) and state.grads["p"].shape == (K, tau, 2)
    ks = jnp.arange(K, dtype=jnp.float64)
    for t in range(steps):
        state, upd = step(state, t, ks)
        expected = np.zeros(2) if t < tau else -eta * ((t - tau + 1) * v + ks.mean() * u)
        np.testing.assert_allclose(np.asarray(upd), np.broadcast_to(expected, (K, 2)), rtol=1e-14)
        assert int(state.count[0]) == t + 1


def test_adaptive_lambda_variant_matches_numpy(x64):
    a, c, w0 = _problem(4)
    lam0, decay, eps, eta, tau = 2.0, 0.9, 1e-7, 0.05, 2
    opt = dc_s3gd(eta, lam0, tau, axis_name=AXIS, mean_square_decay=decay, eps=eps)
    got = _run_library(opt, a, c, w0, 10, jit=True)
    w = w0.copy()
    v = np.zeros(D)
    issued, at = {}, {}
    for t in range(10):
        avg = (a @ (w - c).T).T.mean(0)
        d = np.zeros(D)
        if t >= tau:
            g_old = issued[t - tau]
            v = decay * v + (1 - decay) * g_old**2
            d = g_old + lam0 / np.sqrt(v + eps) * g_old**2 * (w - at[t - tau])
        issued[t], at[t] = avg, w.copy()
        w = w - eta * d
        np.testing.assert_allclose(got[t + 1, 0], w, rtol=1e-12)


def test_composes_with_optax_chain():
    opt = optax.chain(optax.clip_by_global_norm(1.0), dc_s3gd(0.1, 0.04, 1, 0.9))
    params = {"w": jnp.ones(3)}
    state = opt.init(params)
    updates, state = jax.jit(opt.update)({"w": jnp.full(3, 10.0)}, state, params)
    assert updates["w"].shape == (3,)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"staleness": -1}, ValueError, "staleness must be an int >= 0; got -1"),
        ({"staleness": 1.5}, TypeError, "staleness must be an int >= 0; got"),
        ({"variant": "eager"}, ValueError, "variant must be one of"),
        ({"lam": -0.5}, ValueError, "lam must be >= 0; got -0.5"),
        ({"lam": "0.1"}, TypeError, "lam must be a real number"),
        ({"momentum": 1.0}, ValueError, "momentum must be >= 0 and < 1; got 1"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate must be > 0"),
        ({"learning_rate": float("nan")}, ValueError, "learning_rate must be finite"),
        ({"mean_square_decay": 1.0}, ValueError, "mean_square_decay must be >= 0 and < 1"),
        ({"eps": 0.0}, ValueError, "eps must be > 0"),
        ({"flatten": "yes"}, TypeError, "flatten must be a bool"),
        ({"axis_name": []}, ValueError, "axis_name must be a name or a non-empty tuple"),
    ],
)
def test_bad_arguments_are_named(kwargs, exc, match):
    args = {"learning_rate": 0.1, "lam": 0.04}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        dc_s3gd(**args)


def test_update_without_params_is_an_error():
    opt = dc_s3gd(0.1, 0.04)
    state = opt.init({"w": jnp.ones(2)})
    with pytest.raises(ValueError, match="params is required: dc_s3gd needs params"):
        opt.update({"w": jnp.ones(2)}, state)
    with pytest.raises(ValueError, match="momentum must be"):
        sync_sgd(0.1, momentum=-0.1)
