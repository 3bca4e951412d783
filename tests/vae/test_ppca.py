"""pPCA closed forms against independent computations (scipy, numpy, perturbations)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from jaxml.data import linear_gaussian
from jaxml.vae import (
    covariance_eigh,
    ppca_log_likelihood,
    ppca_log_likelihood_from_cov,
    ppca_mle,
    ppca_posterior,
    ppca_stationary_point,
    sample_covariance,
)


def _data(n=4000, d=6, k=2, sigma2=0.25, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(d, k)) * np.array([2.0, 1.0])[:k]
    mu = rng.normal(size=d)
    x = rng.normal(size=(n, k)) @ w.T + mu + np.sqrt(sigma2) * rng.normal(size=(n, d))
    return x, w, mu, sigma2


def test_mle_recovers_the_generating_model(x64):
    sample = linear_gaussian(jax.random.key(0), 20000, 5, 2, sigma2=0.1)
    w, mu, sigma2 = ppca_mle(sample.x, 2)
    true_cov = np.asarray(sample.w @ sample.w.T + sample.sigma2 * np.eye(5))
    fit_cov = np.asarray(w @ w.T + sigma2 * np.eye(5))
    np.testing.assert_allclose(fit_cov, true_cov, atol=0.08 * np.abs(true_cov).max())
    np.testing.assert_allclose(float(sigma2), float(sample.sigma2), rtol=0.05)
    np.testing.assert_allclose(np.asarray(mu), np.asarray(sample.mu), atol=0.05)
    # Columns orthogonal (rotation R = I) and in decreasing norm.
    gram = np.asarray(w.T @ w)
    assert abs(gram[0, 1]) < 1e-8 * gram.max() and gram[0, 0] >= gram[1, 1]


def test_log_likelihood_equals_scipy_density(x64):
    x, w, mu, s2 = _data(n=300)
    expected = multivariate_normal(mu, w @ w.T + s2 * np.eye(6)).logpdf(x).mean()
    got = ppca_log_likelihood(x, w, mu, s2)
    np.testing.assert_allclose(float(got), expected, rtol=1e-12)
    np.testing.assert_allclose(
        float(jax.jit(ppca_log_likelihood)(x, w, mu, s2)), expected, rtol=1e-12
    )
    m, cov = sample_covariance(x)
    np.testing.assert_allclose(
        float(ppca_log_likelihood_from_cov(cov, w, s2, mean_offset=m - mu)), expected, rtol=1e-10
    )


def test_mle_beats_perturbations_and_other_stationary_points(x64):
    x, *_ = _data(n=2000)
    w, mu, s2 = ppca_mle(x, 2)
    best = float(ppca_log_likelihood(x, w, mu, s2))
    rng = np.random.default_rng(1)
    for _ in range(20):
        dw = 1e-2 * rng.normal(size=w.shape)
        dmu = 1e-2 * rng.normal(size=mu.shape)
        ds = 1e-2 * rng.normal()
        assert float(ppca_log_likelihood(x, w + dw, mu + dmu, s2 * np.exp(ds))) < best
    # Every other choice of 2 eigen-directions, with its own best sigma2, is worse.
    _, evals, _ = covariance_eigh(x)
    for idx in itertools.combinations(range(6), 2):
        if idx == (0, 1):
            continue
        rest = [i for i in range(6) if i not in idx]
        s2_idx = float(np.mean(np.asarray(evals)[rest]))
        w_idx = ppca_stationary_point(x, 2, idx, s2_idx)
        assert float(ppca_log_likelihood(x, w_idx, mu, s2_idx)) < best - 1e-6, idx


def test_stationary_points_have_zero_gradient_and_collapse(x64):
    x, *_ = _data(n=1000)
    mu, cov = sample_covariance(x)
    _, evals, _ = covariance_eigh(x)
    s2 = float(evals[2] + evals[3]) / 2  # between the 3rd and 4th eigenvalues
    for idx in [(0, 1), (1, 3), (0, 4), (2,)]:
        w = ppca_stationary_point(x, 2, idx, s2)
        g = jax.grad(lambda ww: ppca_log_likelihood_from_cov(cov, ww, s2))(w)
        np.testing.assert_allclose(np.asarray(g), 0.0, atol=1e-9)
        for j, i in enumerate(idx):  # eigenvalue below sigma2 -> zero column
            assert (np.linalg.norm(np.asarray(w[:, j])) == 0) == (float(evals[i]) <= s2)


def test_posterior_matches_bayes_rule(x64):
    x, w, mu, s2 = _data(n=5)
    mean, cov = ppca_posterior(x, w, mu, s2)
    # Independent: joint Gaussian conditioning, z | x ~ N(W^T C^-1 (x - mu), I - W^T C^-1 W).
    c = w @ w.T + s2 * np.eye(6)
    np.testing.assert_allclose(
        np.asarray(mean), (w.T @ np.linalg.solve(c, (x - mu).T)).T, rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(
        np.asarray(cov), np.eye(2) - w.T @ np.linalg.solve(c, w), rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("k", [0, 6, 7, -1])
def test_mle_rejects_latent_dim_out_of_range(k):
    with pytest.raises(ValueError, match="latent_dim must be an int >= 1 and <= "):
        ppca_mle(np.ones((10, 6)) * np.arange(6), k)


def test_bad_inputs_are_named():
    x = np.random.default_rng(0).normal(size=(20, 4))
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="x must be finite"):
        ppca_mle(bad, 2)
    with pytest.raises(ValueError, match=r"x must be a 2-D array"):
        ppca_mle(x[0], 2)
    w, mu, s2 = ppca_mle(x, 2)
    with pytest.raises(ValueError, match="sigma2 must be > 0"):
        ppca_log_likelihood(x, w, mu, 0.0)
    with pytest.raises(ValueError, match=r"w must be \[4, k\]"):
        ppca_log_likelihood(x, w[:3], mu, s2)
    with pytest.raises(ValueError, match=r"mu must have shape \[4\]"):
        ppca_log_likelihood(x, w, mu[:2], s2)
    with pytest.raises(ValueError, match="eigen_indices must be distinct"):
        ppca_stationary_point(x, 2, [0, 0], 0.1)
    with pytest.raises(ValueError, match="at most latent_dim=2"):
        ppca_stationary_point(x, 2, [0, 1, 2], 0.1)
    with pytest.raises(TypeError, match="latent_dim must be an int"):
        ppca_mle(x, 2.0)


def test_float32_likelihood_is_stable_in_high_dimension():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 400)).astype(np.float32)  # n < d: singular sample covariance
    w, mu, s2 = ppca_mle(x, 5)
    ll = ppca_log_likelihood(x, w, mu, s2)
    assert np.isfinite(float(ll)) and jnp.asarray(ll).dtype == jnp.float32
