"""The Poincare ball's geometry: axioms, inverses, identities, NumPy agreement, float32 safety."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxml.hyperbolic import poincare as P
from jaxml.hyperbolic.isometry import (
    apply_isometry,
    compose_isometries,
    invert_isometry,
    random_isometry,
)

SETTINGS = settings(max_examples=20, deadline=None)


def _points(seed, n, d, max_norm=0.99, dtype=np.float64):
    """``n`` points with norms spread over ``[0, max_norm]`` (many near the boundary)."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, d))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    r = max_norm * (1.0 - rng.random(n) ** 3)
    return (v * r[:, None]).astype(dtype)


def _np_distance(x, y):
    """Nickel & Kiela's formula, independently in NumPy float64."""
    sq = np.sum((x - y) ** 2, -1)
    return np.arccosh(1.0 + 2.0 * sq / ((1.0 - np.sum(x * x, -1)) * (1.0 - np.sum(y * y, -1))))


def _np_mobius_add(x, y):
    xy, x2, y2 = (
        np.sum(x * y, -1, keepdims=True),
        np.sum(x * x, -1, keepdims=True),
        np.sum(y * y, -1, keepdims=True),
    )
    return ((1 + 2 * xy + y2) * x + (1 - x2) * y) / (1 + 2 * xy + x2 * y2)


seeds = st.integers(0, 2**31 - 1)
dims = st.sampled_from([1, 2, 5])  # few distinct shapes: each new one compiles


@SETTINGS
@given(seed=seeds, d=dims)
def test_metric_axioms(seed, d):
    with jax.enable_x64(True):
        x, y, z = (_points(seed + i, 8, d) for i in range(3))
        dxy, dyx = np.asarray(P.distance(x, y)), np.asarray(P.distance(y, x))
        np.testing.assert_allclose(dxy, dyx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.asarray(P.distance(x, x)), 0.0, atol=1e-12)
        assert np.all(dxy >= 0)
        assert np.all(dxy[np.any(x != y, axis=1)] > 0)
        dxz, dzy = np.asarray(P.distance(x, z)), np.asarray(P.distance(z, y))
        assert np.all(dxy <= dxz + dzy + 1e-9 * (1 + dxy))


@SETTINGS
@given(seed=seeds, d=dims)
def test_distance_matches_numpy_formula(seed, d):
    with jax.enable_x64(True):
        x, y = _points(seed, 16, d, 0.999), _points(seed + 1, 16, d, 0.999)
        np.testing.assert_allclose(np.asarray(P.distance(x, y)), _np_distance(x, y), rtol=1e-9)
        # 2 artanh |(-x) (+) y| is the same distance (Ganea et al. 2018).
        np.testing.assert_allclose(
            np.asarray(P.distance(x, y)),
            2 * np.arctanh(np.linalg.norm(_np_mobius_add(-x, y), axis=-1)),
            rtol=1e-7,
        )
        np.testing.assert_allclose(
            np.asarray(P.mobius_add(x, y)), _np_mobius_add(x, y), rtol=1e-10, atol=1e-12
        )


@SETTINGS
@given(seed=seeds, d=dims, c=st.sampled_from([0.5, 1.0, 2.0]))
def test_exp_log_inverses(seed, d, c):
    with jax.enable_x64(True):
        x = _points(seed, 8, d, 0.9) / np.sqrt(c)
        y = _points(seed + 1, 8, d, 0.9) / np.sqrt(c)
        v = 0.3 * np.random.default_rng(seed).normal(size=(8, d))
        np.testing.assert_allclose(
            np.asarray(P.logmap(x, P.expmap(x, v, c), c)), v, rtol=1e-6, atol=1e-8
        )
        np.testing.assert_allclose(
            np.asarray(P.expmap(x, P.logmap(x, y, c), c)), y, rtol=1e-8, atol=1e-10
        )
        np.testing.assert_allclose(
            np.asarray(P.logmap0(P.expmap0(v, c), c)), v, rtol=1e-6, atol=1e-8
        )
        np.testing.assert_allclose(
            np.asarray(P.expmap0(P.logmap0(y, c), c)), y, rtol=1e-9, atol=1e-12
        )
        # d(x, exp_x(v)) = lambda_x |v| and lambda_0 |log_0 y| = 2 |log_0 y| = d(0, y).
        np.testing.assert_allclose(
            np.asarray(P.distance(x, P.expmap(x, 0.1 * v, c), c)),
            np.asarray(P.conformal_factor(x, c)) * np.linalg.norm(0.1 * v, axis=-1),
            rtol=1e-8,
        )
        np.testing.assert_allclose(
            2 * np.linalg.norm(np.asarray(P.logmap0(y, c)), axis=-1),
            np.asarray(P.distance(np.zeros_like(y), y, c)),
            rtol=1e-9,
        )


@SETTINGS
@given(seed=seeds, d=dims)
def test_mobius_identities(seed, d):
    with jax.enable_x64(True):
        a, x = _points(seed, 8, d, 0.95), _points(seed + 1, 8, d, 0.95)
        zero = np.zeros_like(x)
        np.testing.assert_allclose(
            np.asarray(P.mobius_add(-a, P.mobius_add(a, x))), x, rtol=1e-8, atol=1e-10
        )  # left cancellation
        np.testing.assert_allclose(np.asarray(P.mobius_add(zero, x)), x, atol=1e-14)
        np.testing.assert_allclose(np.asarray(P.mobius_add(x, zero)), x, atol=1e-14)
        np.testing.assert_allclose(np.asarray(P.mobius_add(-x, x)), 0.0, atol=1e-12)
        # Left translations are isometries.
        np.testing.assert_allclose(
            np.asarray(P.distance(P.mobius_add(a, x), P.mobius_add(a, a))),
            np.asarray(P.distance(x, a)),
            rtol=1e-7,
        )
        # r (x) x scales the distance to 0; (r + s) (x) x = (r (x) x) (+) (s (x) x).
        np.testing.assert_allclose(
            np.asarray(P.distance(zero, P.mobius_scalar_mul(0.5, x))),
            0.5 * np.asarray(P.distance(zero, x)),
            rtol=1e-9,
        )
        np.testing.assert_allclose(
            np.asarray(P.mobius_scalar_mul(0.7, x)),
            np.asarray(P.mobius_add(P.mobius_scalar_mul(0.3, x), P.mobius_scalar_mul(0.4, x))),
            rtol=1e-8,
            atol=1e-10,
        )


@settings(max_examples=10, deadline=None)
@given(seed=seeds, d=dims, t=st.floats(0.0, 0.95))
def test_distance_invariant_under_random_isometry(seed, d, t):
    with jax.enable_x64(True):
        iso = random_isometry(jax.random.key(seed), d, t)
        x, y = _points(seed, 10, d, 0.99), _points(seed + 1, 10, d, 0.99)
        gx, gy = apply_isometry(iso, x), apply_isometry(iso, y)
        np.testing.assert_allclose(
            np.asarray(P.distance(gx, gy)), np.asarray(P.distance(x, y)), rtol=1e-6, atol=1e-9
        )
        back = apply_isometry(invert_isometry(iso), gx)
        np.testing.assert_allclose(np.asarray(back), x, rtol=1e-6, atol=1e-8)
        # The centroid is isometry-equivariant.
        np.testing.assert_allclose(
            np.asarray(P.centroid(gx)),
            np.asarray(apply_isometry(iso, P.centroid(x))),
            rtol=1e-7,
            atol=1e-9,
        )


def test_compose_isometries(x64):
    d = 3
    g1 = random_isometry(jax.random.key(0), d, 0.6)
    g2 = random_isometry(jax.random.key(1), d, 0.8)
    x = _points(3, 20, d, 0.99)
    both = compose_isometries(g2, g1)
    np.testing.assert_allclose(
        np.asarray(apply_isometry(both, x)),
        np.asarray(apply_isometry(g2, apply_isometry(g1, x))),
        rtol=1e-7,
        atol=1e-9,
    )
    np.testing.assert_allclose(np.asarray(both.rotation @ both.rotation.T), np.eye(d), atol=1e-10)


def test_mobius_matvec_matches_ganea_formula(x64):
    rng = np.random.default_rng(0)
    m = rng.normal(size=(4, 3))
    x = _points(1, 10, 3, 0.95)
    mx = x @ m.T
    nx, nmx = np.linalg.norm(x, axis=1, keepdims=True), np.linalg.norm(mx, axis=1, keepdims=True)
    expected = np.tanh(nmx / nx * np.arctanh(nx)) * mx / nmx
    np.testing.assert_allclose(np.asarray(P.mobius_matvec(m, x)), expected, rtol=1e-9)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    np.testing.assert_allclose(np.asarray(P.mobius_matvec(q, x)), x @ q.T, rtol=1e-9, atol=1e-12)
    assert np.all(np.asarray(P.mobius_matvec(np.zeros((2, 3)), x)) == 0.0)


def test_hyperboloid_round_trip_and_curvature_scaling(x64):
    x, y = _points(0, 10, 4, 0.99), _points(1, 10, 4, 0.99)
    h = np.asarray(P.to_hyperboloid(x))
    np.testing.assert_allclose(-(h[:, 0] ** 2) + np.sum(h[:, 1:] ** 2, 1), -1.0, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(P.from_hyperboloid(h)), x, rtol=1e-9, atol=1e-12)
    c = 2.5
    np.testing.assert_allclose(
        np.asarray(P.distance(x / np.sqrt(c), y / np.sqrt(c), c)),
        np.asarray(P.distance(x, y)) / np.sqrt(c),
        rtol=1e-9,
    )


def test_project():
    x = jnp.array([[3.0, 4.0], [0.1, 0.2], [0.0, 0.0]])
    p = np.asarray(P.project(x, 1e-3))
    np.testing.assert_allclose(np.linalg.norm(p[0]), 1 - 1e-3, rtol=1e-6)
    np.testing.assert_allclose(p[1:], np.asarray(x[1:]))
    with pytest.raises(ValueError, match="eps"):
        P.project(x, 1.5)


def test_float32_stable_near_boundary_and_at_identical_points():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(64, 5))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    x = jnp.asarray(v * (1 - 1e-7), jnp.float32)
    y = jnp.asarray(np.roll(v, 1, axis=0) * (1 - 1e-7), jnp.float32)
    assert float(jnp.max(jnp.linalg.norm(x, axis=1))) < 1.0
    for fn in (P.distance, P.mobius_add, P.logmap, lambda a, b: P.mobius_add(a, -b)):
        assert np.all(np.isfinite(np.asarray(fn(x, y))))
        assert np.all(np.isfinite(np.asarray(fn(x, x))))
    assert np.all(np.isfinite(np.asarray(P.logmap0(x))))
    assert np.all(np.isfinite(np.asarray(P.expmap0(1e4 * x))))
    assert np.all(np.asarray(P.distance(x, x)) == 0.0)
    assert np.all(np.isfinite(np.asarray(P.distance(x, y))))

    def total(a, b):
        return (
            jnp.sum(P.distance(a, b))
            + jnp.sum(P.logmap(a, b))
            + jnp.sum(P.mobius_add(a, b))
            + jnp.sum(P.expmap0(P.logmap0(a)))
            + jnp.sum(P.mobius_matvec(jnp.eye(5), a))
        )

    grad = jax.jit(jax.grad(total, argnums=(0, 1)))
    for a, b in ((x, y), (x, x), (jnp.zeros_like(x), jnp.zeros_like(x))):
        ga, gb = grad(a, b)
        assert np.all(np.isfinite(np.asarray(ga))) and np.all(np.isfinite(np.asarray(gb)))
    g_same = jax.grad(lambda a: jnp.sum(P.distance(a, x)))(x)
    assert np.all(np.asarray(g_same) == 0.0)


def test_jit_matches_eager():
    x = jnp.asarray(_points(0, 6, 3, 0.99, np.float32))
    y = jnp.asarray(_points(1, 6, 3, 0.99, np.float32))
    m = jnp.asarray(np.random.default_rng(2).normal(size=(2, 3)), jnp.float32)
    cases = {
        "distance": (P.distance, (x, y)),
        "pairwise_distance": (P.pairwise_distance, (x, y)),
        "mobius_add": (P.mobius_add, (x, y)),
        "expmap": (P.expmap, (x, y)),
        "logmap": (P.logmap, (x, y)),
        "expmap0": (P.expmap0, (y,)),
        "logmap0": (P.logmap0, (y,)),
        "mobius_matvec": (P.mobius_matvec, (m, x)),
        "mobius_scalar_mul": (P.mobius_scalar_mul, (0.3, x)),
        "project": (P.project, (3 * x,)),
        "conformal_factor": (P.conformal_factor, (x,)),
        "centroid": (P.centroid, (x,)),
        "to_hyperboloid": (P.to_hyperboloid, (x,)),
    }
    # One compiled program for all of them (compiles dominate the suite's time).
    jitted = jax.jit(lambda: {name: fn(*args) for name, (fn, args) in cases.items()})()
    for name, (fn, args) in cases.items():
        np.testing.assert_allclose(
            np.asarray(jitted[name]), np.asarray(fn(*args)), rtol=2e-5, atol=1e-6, err_msg=name
        )


def test_bad_input_is_rejected():
    inside = jnp.array([[0.1, 0.2]])
    outside = jnp.array([[0.9, 0.9]])
    with pytest.raises(ValueError, match="x has 1 point.*outside"):
        P.distance(outside, inside)
    with pytest.raises(ValueError, match="y has 1 point.*outside"):
        P.mobius_add(inside, outside)
    with pytest.raises(ValueError, match="same last dimension"):
        P.distance(inside, jnp.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        P.logmap0(jnp.array([[jnp.nan, 0.0]]))
    with pytest.raises(ValueError, match="curvature"):
        P.distance(inside, inside, c=-1.0)
    with pytest.raises(ValueError, match="m must have shape"):
        P.mobius_matvec(jnp.eye(3), inside)
    with pytest.raises(ValueError, match="x has 1 point"):
        P.distance(inside * 2, inside * 2, c=20.0)  # radius 1/sqrt(20) < |x|
    with pytest.raises(ValueError, match="empty"):
        P.centroid(jnp.zeros((0, 2)))


_ON = np.array([[np.sqrt(2.0), 1.0, 0.0]])  # -2 + 1 = -1: on the upper sheet (c = 1)


@pytest.mark.parametrize(
    ("h", "c", "match"),
    [
        (np.array([[1.0, 0.0, 0.0]]) * 2.0, 1.0, r"1 point\(s\) off the hyperboloid"),
        (_ON * 1.01, 1.0, r"off the hyperboloid.*tolerance"),  # Minkowski norm -1.02
        (_ON, 2.0, r"off the hyperboloid.*c = 2"),  # right sheet for c = 1, not for c = 2
        (-_ON, 1.0, r"1 point\(s\) on the lower sheet \(X_0 < 0"),
        (np.array([[-1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]]), 1.0, r"2 point\(s\) on the lower"),
        (np.array([[np.nan, 0.0, 0.0]]), 1.0, "h contains NaN or inf"),
        (np.array([[np.inf, 1.0, 0.0]]), 1.0, "h contains NaN or inf"),
        (np.zeros((2, 1)), 1.0, r"h must have shape \[\.\.\., d \+ 1\]"),
    ],
)
def test_from_hyperboloid_rejects_points_off_the_upper_sheet(h, c, match):
    with pytest.raises(ValueError, match=match):
        P.from_hyperboloid(h, c)


def test_from_hyperboloid_tolerance_accepts_rounding_and_tracers():
    # Inside the stated tolerance |c<X,X>_L + 1| <= 1e-4 (1 + c|X|^2): a 2e-5 relative error.
    np.testing.assert_allclose(
        np.asarray(P.from_hyperboloid(_ON * (1 + 1e-5))), [[1 / (1 + np.sqrt(2)), 0.0]], atol=1e-5
    )
    # float32 round trip very near the boundary, where X_0 ~ 1e5 and the terms cancel.
    v = np.random.default_rng(0).normal(size=(16, 4))
    x = jnp.asarray(v / np.linalg.norm(v, axis=1, keepdims=True) * (1 - 1e-5), jnp.float32)
    for c in (1.0, 3.0):
        xc = x / np.sqrt(c)
        np.testing.assert_allclose(
            np.asarray(P.from_hyperboloid(P.to_hyperboloid(xc, c), c)), np.asarray(xc), atol=1e-5
        )
    # Traced values are not checked (an off-sheet point passes through jit unchanged).
    out = jax.jit(P.from_hyperboloid)(jnp.asarray(-_ON, jnp.float32))
    assert out.shape == (1, 2)


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        (np.array([1.0, -0.5, 1.0]), r"weights must be finite and >= 0.*weights\[1\] = -0.5"),
        (np.array([1.0, 1.0, np.nan]), r"weights must be finite and >= 0.*weights\[2\] = nan"),
        (np.array([np.inf, 1.0, 1.0]), r"weights must be finite and >= 0.*weights\[0\] = inf"),
        (np.zeros(3), "weights must have a positive sum"),
        (np.ones(2), r"weights must have shape \[n\] = \(3,\)"),
    ],
)
def test_centroid_rejects_bad_weights(weights, match):
    x = jnp.array([[0.1, 0.2], [-0.3, 0.1], [0.0, -0.4]])
    with pytest.raises(ValueError, match=match):
        P.centroid(x, weights)


def test_centroid_weights_accept_zeros_and_tracers(x64):
    x = jnp.array([[0.1, 0.2], [-0.3, 0.1], [0.0, -0.4]])
    # A zero weight drops the point: same as the centroid of the other two.
    np.testing.assert_allclose(
        np.asarray(P.centroid(x, jnp.array([1.0, 0.0, 1.0]))),
        np.asarray(P.centroid(x[jnp.array([0, 2])])),
        rtol=1e-12,
    )
    # One point with all the weight is its own centroid.
    np.testing.assert_allclose(
        np.asarray(P.centroid(x, jnp.array([0.0, 2.0, 0.0]))), np.asarray(x[1]), rtol=1e-12
    )
    # Traced weights are not value-checked (jit compiles and runs).
    w = jnp.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(
        np.asarray(jax.jit(P.centroid)(x, w)), np.asarray(P.centroid(x, w)), rtol=1e-12
    )
