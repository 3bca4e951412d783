"""Mobius layers and Riemannian Adam against independent NumPy formulas (x64), with gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.hyperbolic.nn import (
    HyperbolicMLP,
    MobiusLinear,
    ball_param_labels,
    mobius_linear,
    mobius_pointwise,
)
from jaxml.hyperbolic.radam import gyration, parallel_transport, riemannian_adam

C = 0.7  # a non-unit curvature catches a missing sqrt(c)


def np_add(x, y, c=C):
    xy, x2, y2 = x @ y, x @ x, y @ y
    return ((1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y) / (1 + 2 * c * xy + c * c * x2 * y2)


def np_matvec(m, x, c=C):
    """Ganea et al. (2018) Eq. 26, written out (not via exp/log maps)."""
    mx, nx = m @ x, np.linalg.norm(x)
    r = np.tanh(np.linalg.norm(mx) / nx * np.arctanh(np.sqrt(c) * nx))
    return r * mx / (np.sqrt(c) * np.linalg.norm(mx))


def np_exp0(v, c=C):
    n = np.linalg.norm(v)
    return np.tanh(np.sqrt(c) * n) * v / (np.sqrt(c) * n)


def np_log0(y, c=C):
    n = np.linalg.norm(y)
    return np.arctanh(np.sqrt(c) * n) * y / (np.sqrt(c) * n)


def np_expmap(x, v, c=C):
    """Ganea et al. (2018) Lemma 2."""
    lam, n = 2 / (1 - c * x @ x), np.linalg.norm(v)
    return np_add(x, np.tanh(np.sqrt(c) * lam * n / 2) * v / (np.sqrt(c) * n), c)


def np_layer(x, kernel, bias):
    return np_add(bias, np_matvec(kernel.T, x))


def np_tanh_layer(x):
    return np_exp0(np.tanh(np_log0(x)))


def num_grad(fn, a, h=1e-6):
    g = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[idx] = h
        g[idx] = (fn(a + e) - fn(a - e)) / (2 * h)
    return g


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3)) * 0.35
    kernel = rng.normal(size=(3, 5)) * 0.6
    bias = rng.normal(size=5) * 0.2
    probe = rng.normal(size=(4, 5))
    return x, kernel, bias, probe


def test_mobius_linear_and_pointwise_match_numpy_with_gradients(case, x64):
    x, kernel, bias, probe = case
    want = np.stack([np_layer(xi, kernel, bias) for xi in x])
    got = mobius_linear(jnp.asarray(x), jnp.asarray(kernel), jnp.asarray(bias), C)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(
        np.asarray(mobius_linear(jnp.asarray(x), jnp.asarray(kernel), None, C)),
        np.stack([np_matvec(kernel.T, xi) for xi in x]),
        rtol=1e-12,
    )
    act = mobius_pointwise(jnp.tanh, jnp.asarray(x), C)
    np.testing.assert_allclose(np.asarray(act), np.stack([np_tanh_layer(xi) for xi in x]), 1e-12)

    def f_np(k, b, xs):
        return float(np.sum(probe * np.stack([np_layer(xi, k, b) for xi in xs])))

    def f_jax(k, b, xs):
        return jnp.sum(probe * mobius_linear(xs, k, b, C))

    gk, gb, gx = jax.grad(f_jax, argnums=(0, 1, 2))(*map(jnp.asarray, (kernel, bias, x)))
    np.testing.assert_allclose(gk, num_grad(lambda k: f_np(k, bias, x), kernel), rtol=1e-6)
    np.testing.assert_allclose(gb, num_grad(lambda b: f_np(kernel, b, x), bias), rtol=1e-6)
    np.testing.assert_allclose(gx, num_grad(lambda xs: f_np(kernel, bias, xs), x), rtol=1e-6)


def test_flax_modules_compose_the_formulas(case, x64):
    x, kernel, bias, _ = case
    layer = MobiusLinear(5, c=C)
    params = {"params": {"kernel": jnp.asarray(kernel), "bias": jnp.asarray(bias)}}
    np.testing.assert_allclose(
        np.asarray(layer.apply(params, jnp.asarray(x))),
        np.stack([np_layer(xi, kernel, bias) for xi in x]),
        rtol=1e-12,
    )
    mlp = HyperbolicMLP((5, 3), c=C)
    variables = mlp.init(jax.random.key(0), jnp.asarray(x))
    p = jax.tree.map(np.asarray, variables["params"])
    want = [
        np_layer(
            np_tanh_layer(np_layer(xi, p["layer_0"]["kernel"], p["layer_0"]["bias"])),
            p["layer_1"]["kernel"],
            p["layer_1"]["bias"],
        )
        for xi in x
    ]
    np.testing.assert_allclose(np.asarray(mlp.apply(variables, jnp.asarray(x))), want, rtol=1e-11)
    labels = ball_param_labels(variables)["params"]
    assert labels["layer_0"] == {"bias": "ball", "kernel": "euclidean"}


def np_gyr(u, v, w, c=C):
    """gyr[u, v] w = -(u + v) + (u + (v + w)) (definition), for w inside the ball."""
    return np_add(-np_add(u, v, c), np_add(u, np_add(v, w, c), c), c)


def test_gyration_and_transport_match_the_definition(x64):
    rng = np.random.default_rng(1)
    u, v, w = rng.normal(size=(3, 3)) * 0.3
    np.testing.assert_allclose(
        np.asarray(gyration(jnp.asarray(u), jnp.asarray(v), jnp.asarray(w), C)),
        np_gyr(u, v, w),
        rtol=1e-10,
    )
    # Transport preserves the Riemannian norm lambda_x |v|.
    x, y, t = rng.normal(size=(3, 3)) * 0.4
    moved = np.asarray(parallel_transport(jnp.asarray(x), jnp.asarray(y), jnp.asarray(t), C))
    lam = lambda p: 2 / (1 - C * p @ p)  # noqa: E731
    np.testing.assert_allclose(lam(y) * np.linalg.norm(moved), lam(x) * np.linalg.norm(t), 1e-10)


def test_riemannian_adam_matches_two_hand_computed_steps(x64):
    rng = np.random.default_rng(2)
    p0 = rng.normal(size=(2, 3)) * 0.25
    grads = [rng.normal(size=(2, 3)), rng.normal(size=(2, 3))]
    lr, b1, b2, eps = 0.05, 0.9, 0.99, 1e-8
    opt = riemannian_adam(lr, b1, b2, eps, c=C)
    params = jnp.asarray(p0)
    state = opt.init(params)
    got = []
    for g in grads:
        upd, state = opt.update(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, upd)
        got.append(np.asarray(params))
    # By hand, each row its own factor.
    for i in range(2):
        p, m, v = p0[i], np.zeros(3), 0.0
        for t, g in enumerate(grads, start=1):
            lam = 2 / (1 - C * p @ p)
            r = g[i] / lam**2
            m = b1 * m + (1 - b1) * r
            v = b2 * v + (1 - b2) * lam**2 * (r @ r)
            step = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
            new = np_expmap(p, -lr * step)
            m = (lam / (2 / (1 - C * new @ new))) * np_gyr(new, -p, m * 1e-3) * 1e3  # linear in m
            p = new
            np.testing.assert_allclose(got[t - 1][i], p, rtol=1e-10, atol=1e-12)
