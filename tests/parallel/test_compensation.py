"""Delay compensation (DC-ASGD): the formula against NumPy, and that it helps on a quadratic."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.parallel import adaptive_lambda, delay_compensation


def _tree(rng, scale=1.0):
    return {"a": scale * rng.normal(size=(3, 4)), "b": scale * rng.normal(size=(5,))}


@pytest.mark.parametrize("jit", [False, True])
def test_formula_matches_numpy(x64, jit):
    rng = np.random.default_rng(0)
    g, w, w_old = _tree(rng), _tree(rng), _tree(rng)
    fn = jax.jit(delay_compensation) if jit else delay_compensation
    got = fn(g, w, w_old, 0.3)
    for k in g:
        expected = g[k] + 0.3 * g[k] * g[k] * (w[k] - w_old[k])
        np.testing.assert_allclose(np.asarray(got[k]), expected, rtol=1e-14, atol=1e-14)
    # Per-leaf strengths (the adaptive variant), and the two invariants.
    lam = {"a": 0.1, "b": jnp.full((5,), 2.0)}
    got = fn(g, w, w_old, lam)
    np.testing.assert_allclose(
        np.asarray(got["b"]), g["b"] + 2.0 * g["b"] ** 2 * (w["b"] - w_old["b"]), rtol=1e-14
    )
    for k in g:
        np.testing.assert_array_equal(np.asarray(fn(g, w, w_old, 0.0)[k]), g[k])
        np.testing.assert_array_equal(np.asarray(fn(g, w, w, 5.0)[k]), g[k])


def test_adaptive_lambda_matches_numpy(x64):
    v = {"a": np.array([0.0, 1e-4, 4.0])}
    got = jax.jit(lambda v: adaptive_lambda(2.0, v, 1e-7))(v)
    np.testing.assert_allclose(np.asarray(got["a"]), 2.0 / np.sqrt(v["a"] + 1e-7), rtol=1e-14)


def test_compensation_lowers_error_of_stale_gradient_on_a_quadratic(x64):
    """On f(w) = 1/2 sum_i a_i (w_i - c_i)^2, run stale SGD (tau = 4) and, at every step, compare
    the stale gradient and its compensation against the true gradient at the current weights.

    Per coordinate the compensated error is |a_i - lam g_i^2| |dw_i| against a_i |dw_i|: smaller
    whenever 0 < lam g_i^2 < 2 a_i. We pick lam inside that range along the whole trajectory and
    check the error drops at every step; a lam far outside it must make things worse (so the
    test can fail, e.g. on a sign error in w_t - w_{t-tau}).
    """
    rng = np.random.default_rng(1)
    d, tau, eta, steps = 20, 4, 0.05, 24
    a = rng.uniform(0.5, 2.0, size=d)
    c = rng.normal(size=d)
    grad = lambda w: a * (w - c)
    w = c + 3.0 * rng.normal(size=d)
    history = [w.copy()]
    for t in range(steps):
        stale = history[max(0, t - tau)]
        w = w - eta * grad(stale)
        history.append(w.copy())
    gmax = max(np.max(np.abs(grad(h))) for h in history)
    lam_ok = 0.9 * a.min() / gmax**2  # lam g^2 <= 0.9 a_min < 2 a_i everywhere
    lam_bad = 50.0 * 2 * a.max() / min(np.min(np.abs(grad(h))) for h in history) ** 2
    compensate = jax.jit(delay_compensation)
    ratios, bad = [], []
    for t in range(tau, steps):
        w_t, w_old = history[t], history[t - tau]
        g_old = grad(w_old)
        true = grad(w_t)
        err_stale = np.linalg.norm(g_old - true)
        err_dc = np.linalg.norm(np.asarray(compensate(g_old, w_t, w_old, lam_ok)) - true)
        err_bad = np.linalg.norm(np.asarray(compensate(g_old, w_t, w_old, lam_bad)) - true)
        ratios.append(err_dc / err_stale)
        bad.append(err_bad / err_stale)
    ratios = np.array(ratios)
    assert np.all(ratios < 1.0), ratios
    assert ratios[0] < 0.85 and ratios.mean() < 0.97  # a real improvement, not rounding
    assert np.all(np.array(bad) > 1.0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"lam": -0.1}, "lam must be >= 0"),
        ({"params": {"a": np.zeros((3, 4))}}, "params must have the pytree structure"),
        ({"stale_params": {"a": np.zeros((3, 3)), "b": np.zeros(5)}}, "stale_params leaves"),
        ({"lam": np.ones(2)}, "lam must be a scalar or a pytree"),
    ],
)
def test_bad_input_is_named(kwargs, match):
    rng = np.random.default_rng(0)
    args = {"stale_grads": _tree(rng), "params": _tree(rng), "stale_params": _tree(rng), "lam": 0.1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        delay_compensation(**args)
