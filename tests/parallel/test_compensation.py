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
        (
            {"params": {"a": np.zeros((3, 4))}},
            "params must have the same tree structure as stale_grads",
        ),
        (
            {"stale_params": {"a": np.zeros((3, 3)), "b": np.zeros(5)}},
            "stale_params must have the leaf shapes of stale_grads",
        ),
        ({"lam": np.ones(2)}, "lam must be a scalar or a pytree"),
    ],
)
def test_bad_input_is_named(kwargs, match):
    rng = np.random.default_rng(0)
    args = {"stale_grads": _tree(rng), "params": _tree(rng), "stale_params": _tree(rng), "lam": 0.1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        delay_compensation(**args)


def _args(lam):
    rng = np.random.default_rng(0)
    return {"stale_grads": _tree(rng), "params": _tree(rng), "stale_params": _tree(rng), "lam": lam}


NEGATIVE_STRENGTHS = [
    # (lam, exception, message): concrete values of every kind are checked by value.
    (-0.1, ValueError, r"lam must be >= 0; got -0.1"),
    (-1, ValueError, r"lam must be >= 0; got -1"),
    (np.float32(-0.5), ValueError, r"lam must be >= 0; got -0.5"),
    (np.array(-0.5), ValueError, r"lam must be >= 0; got -0.5"),
    (jnp.array(-0.5), ValueError, r"lam must be >= 0; got -0.5"),
    (jnp.array(-1e-8), ValueError, r"lam must be >= 0"),
    (jnp.array(float("nan")), ValueError, r"lam must be finite"),
    (np.array(np.inf), ValueError, r"lam must be finite"),
    ({"a": 0.1, "b": jnp.array([1.0, 2.0, -3.0, 0.0, 1.0])}, ValueError, r"lam\['b'\] must have"),
    ({"a": jnp.array(-2.0), "b": 0.1}, ValueError, r"lam\['a'\] must be >= 0; got -2"),
    ({"a": 0.1, "b": np.array([1.0, np.nan, 0, 0, 0])}, ValueError, r"lam\['b'\] must be finite"),
    (True, TypeError, r"lam must be a real number"),
    (jnp.array(1 + 1j), TypeError, r"lam must be a real number"),
    ({"a": 0.1, "b": np.ones(5, bool)}, TypeError, r"lam\['b'\] must be a real array"),
    ("0.1", TypeError, r"lam must be"),
]


@pytest.mark.parametrize("lam,exc,match", NEGATIVE_STRENGTHS)
def test_delay_compensation_rejects_bad_concrete_strengths(lam, exc, match):
    with pytest.raises(exc, match=match):
        delay_compensation(**_args(lam))


@pytest.mark.parametrize(
    "lam0,exc,match",
    [
        (-2.0, ValueError, r"lam0 must be >= 0; got -2"),
        (np.float64(-2.0), ValueError, r"lam0 must be >= 0; got -2"),
        (jnp.array(-2.0), ValueError, r"lam0 must be >= 0; got -2"),
        (jnp.array([2.0, -2.0]), ValueError, r"lam0 must have every element >= 0"),
        (jnp.array(float("nan")), ValueError, r"lam0 must be finite"),
        (False, TypeError, r"lam0 must be a real number"),
    ],
)
def test_adaptive_lambda_rejects_bad_concrete_strengths(lam0, exc, match):
    with pytest.raises(exc, match=match):
        adaptive_lambda(lam0, {"a": np.ones(2)})


@pytest.mark.parametrize(
    "lam",
    [0.0, 0, 0.3, np.float32(0.3), np.array(0.3), jnp.array(0.3), jnp.array(0.0)],
)
def test_valid_concrete_strengths_give_the_formula(x64, lam):
    args = _args(lam)
    got = delay_compensation(**args)
    value = float(np.asarray(lam))
    for k in args["stale_grads"]:
        g, w, w_old = args["stale_grads"][k], args["params"][k], args["stale_params"][k]
        np.testing.assert_allclose(
            np.asarray(got[k]), g + value * g * g * (w - w_old), rtol=1e-14, atol=1e-14
        )


def test_traced_strengths_still_work_under_jit_and_vmap(x64):
    # A traced lam has no value before tracing: it is not checked and the formula runs (the
    # check cannot see a negative traced value; that is the documented limit).
    args = _args(0.0)
    g, w, w_old = args["stale_grads"], args["params"], args["stale_params"]
    jitted = jax.jit(delay_compensation)
    for value in (0.3, -0.3):
        got = jitted(g, w, w_old, jnp.array(value))
        np.testing.assert_allclose(
            np.asarray(got["a"]), g["a"] + value * g["a"] ** 2 * (w["a"] - w_old["a"]), rtol=1e-14
        )
    lams = jnp.array([0.0, 0.5, 2.0])
    swept = jax.vmap(lambda lam: delay_compensation(g, w, w_old, lam))(lams)
    for i, value in enumerate([0.0, 0.5, 2.0]):
        np.testing.assert_allclose(
            np.asarray(swept["b"][i]),
            g["b"] + value * g["b"] ** 2 * (w["b"] - w_old["b"]),
            rtol=1e-14,
        )
    v = {"a": np.array([1e-4, 4.0])}
    got = jax.jit(adaptive_lambda)(jnp.array(2.0), v)
    np.testing.assert_allclose(np.asarray(got["a"]), 2.0 / np.sqrt(v["a"] + 1e-7), rtol=1e-14)
    # A per-leaf adaptive strength computed inside jit (traced leaves) is accepted too.
    per_leaf = jax.jit(
        lambda g, w, w_old, v: delay_compensation(g, w, w_old, adaptive_lambda(2.0, v))
    )(g, w, w_old, jax.tree.map(lambda a: a * a, g))
    lam_a = 2.0 / np.sqrt(g["a"] ** 2 + 1e-7)
    np.testing.assert_allclose(
        np.asarray(per_leaf["a"]), g["a"] + lam_a * g["a"] ** 2 * (w["a"] - w_old["a"]), rtol=1e-12
    )
