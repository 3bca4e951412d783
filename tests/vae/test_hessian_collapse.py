"""Hessians at stationary points (saddle vs maximum) and the collapse metrics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.vae import (
    active_units,
    collapsed_dims,
    covariance_eigh,
    elbo_decoder_hessian,
    hessian_eigenvalues,
    ppca_decoder_hessian,
    ppca_log_likelihood_from_cov,
    ppca_stationary_point,
    sample_covariance,
)

# Jitted once per shape (the sigma^2 values are traced): eager hessians dispatch op by op.
_ppca_hessian = jax.jit(ppca_decoder_hessian)
_elbo_hessian = jax.jit(elbo_decoder_hessian)


def _cov_data():
    rng = np.random.default_rng(0)
    scales = np.array([3.0, 2.0, 1.2, 0.7, 0.4])
    x = rng.normal(size=(3000, 5)) * scales @ np.linalg.qr(rng.normal(size=(5, 5)))[0]
    _, cov = sample_covariance(x)
    _, evals, _ = covariance_eigh(x)
    return x, cov, np.asarray(evals)


def test_hessian_matches_finite_differences(x64):
    x, cov, evals = _cov_data()
    w = ppca_stationary_point(x, 2, (0, 2), 0.5)
    h = np.asarray(_ppca_hessian(cov, w, 0.5))
    rng = np.random.default_rng(1)
    u = rng.normal(size=w.size)
    f = lambda flat: float(ppca_log_likelihood_from_cov(cov, flat.reshape(w.shape), 0.5))
    eps = 1e-4
    w0 = np.asarray(w).reshape(-1)
    fd = (f(w0 + eps * u) - 2 * f(w0) + f(w0 - eps * u)) / eps**2
    np.testing.assert_allclose(u @ h @ u, fd, rtol=1e-4)


def test_left_out_direction_is_a_saddle_below_and_a_maximum_above(x64):
    """k = 1 using the 2nd eigenvector: ascent toward the 1st exists iff sigma2 < lambda_1."""
    x, cov, evals = _cov_data()
    for s2, saddle in [
        (0.5 * evals[1], True),
        (0.5 * (evals[0] + evals[1]), True),
        (1.5 * evals[0], False),
    ]:
        w = ppca_stationary_point(x, 1, (1,), s2)
        top = float(hessian_eigenvalues(_ppca_hessian(cov, w, s2))[-1])
        assert (top > 1e-8) == saddle, (s2, top)
        top_elbo = float(hessian_eigenvalues(_elbo_hessian(cov, w, s2))[-1])
        assert (top_elbo > 1e-8) == saddle, (s2, top_elbo)


def test_global_maximum_has_no_ascent_direction(x64):
    x, cov, evals = _cov_data()
    s2 = float(np.mean(evals[2:]))
    w = ppca_stationary_point(x, 2, (0, 1), s2)
    ev = np.asarray(hessian_eigenvalues(_ppca_hessian(cov, w, s2)))
    assert ev[-1] < 1e-8
    # The rotation symmetry W -> W R leaves one (k(k-1)/2 = 1) zero direction for pPCA;
    # the ELBO's diagonal encoder breaks it (Lucas et al. 2019, Theorem 1).
    assert abs(ev[-1]) < 1e-8 and ev[-2] < -1e-6
    ev_elbo = np.asarray(hessian_eigenvalues(_elbo_hessian(cov, w, s2)))
    assert ev_elbo[-1] < -1e-8


def test_hessian_refuses_large_problems():
    with pytest.raises(ValueError, match="MAX_HESSIAN_PARAMS"):
        ppca_decoder_hessian(jnp.eye(1000), jnp.zeros((1000, 5)), 1.0)
    with pytest.raises(ValueError, match=r"hessian must be square"):
        hessian_eigenvalues(jnp.zeros((2, 3)))


def test_collapsed_dims_counts_the_fraction_of_examples():
    kl = np.zeros((100, 3))
    kl[:, 0] = 1.0  # active everywhere
    kl[:1, 1] = 1.0  # active on 1% of examples: still collapsed with delta = 0.01
    kl[:2, 2] = 1.0  # active on 2%: not collapsed
    np.testing.assert_array_equal(np.asarray(collapsed_dims(kl, 0.01, 0.01)), [False, True, False])
    np.testing.assert_array_equal(np.asarray(collapsed_dims(kl, 0.01, 0.05)), [False, True, True])
    np.testing.assert_array_equal(np.asarray(jax.jit(collapsed_dims)(kl)), [False, True, False])
    with pytest.raises(ValueError, match="eps must be > 0"):
        collapsed_dims(kl, 0.0)
    with pytest.raises(ValueError, match="delta must be >= 0 and < 1"):
        collapsed_dims(kl, 0.1, 1.0)
    with pytest.raises(ValueError, match="kl_per_dim must be a 2-D array"):
        collapsed_dims(kl[0])


def test_active_units_uses_variance_of_means():
    rng = np.random.default_rng(0)
    z = np.stack([rng.normal(size=500), 0.01 * rng.normal(size=500), np.zeros(500)], axis=1)
    assert int(active_units(z)) == 1
