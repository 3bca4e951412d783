"""Linear-VAE ELBO: closed form vs Monte Carlo, vs the log marginal, gradients vs finite diffs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.vae import (
    LinearVAEParams,
    linear_vae_elbo,
    linear_vae_elbo_from_cov,
    linear_vae_elbo_mc,
    linear_vae_from_decoder,
    linear_vae_init,
    linear_vae_kl_per_dim,
    linear_vae_posterior_error,
    ppca_log_likelihood,
    ppca_mle,
    sample_covariance,
)


def _data(n=400, d=5, k=2, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(d, k))
    return rng.normal(size=(n, k)) @ w.T + 0.5 + 0.3 * rng.normal(size=(n, d))


def _random_params(key, d=5, k=2):
    p = linear_vae_init(key, d, k, scale=0.5, sigma2=0.7)
    k1, k2, k3 = jax.random.split(jax.random.fold_in(key, 1), 3)
    return p._replace(
        log_d=0.3 * jax.random.normal(k1, (k,)),
        mu=0.5 + 0.1 * jax.random.normal(k2, (d,)),
        log_sigma2=p.log_sigma2 + 0.2 * jax.random.normal(k3, ()),
    )


def test_mc_estimate_is_unbiased(x64):
    x = _data(n=50)
    p = _random_params(jax.random.key(0))
    exact = float(linear_vae_elbo(p, x))
    estimates = np.array(
        [float(linear_vae_elbo_mc(p, x, jax.random.key(s), 200)) for s in range(10)]
    )
    # 10 independent estimates of 50 x 200 draws each: their mean within 4 standard errors.
    se = estimates.std(ddof=1) / np.sqrt(len(estimates))
    assert abs(estimates.mean() - exact) < 4 * se + 1e-9
    assert se < 0.05 * abs(exact)
    est_kl = float(linear_vae_elbo_mc(p, x, jax.random.key(99), 2000, analytic_kl=True))
    assert abs(est_kl - exact) < 0.01 * abs(exact)


def test_elbo_is_a_lower_bound_and_tight_at_the_optimal_encoder(x64):
    x = _data()
    w, mu, s2 = ppca_mle(x, 2)
    for seed in range(5):  # anywhere: ELBO <= log p(x) under the same decoder
        p = _random_params(jax.random.key(seed))
        ll = float(ppca_log_likelihood(x, p.w, p.mu, jnp.exp(p.log_sigma2)))
        assert float(linear_vae_elbo(p, x)) <= ll + 1e-10
    opt = linear_vae_from_decoder(w, mu, s2)
    np.testing.assert_allclose(
        float(linear_vae_elbo(opt, x)), float(ppca_log_likelihood(x, w, mu, s2)), rtol=1e-12
    )
    # A non-orthogonal decoder: the diagonal encoder can no longer be the exact posterior.
    rot = jnp.array([[1.0, 0.4], [0.0, 1.0]])
    skew = linear_vae_from_decoder(w @ rot, mu, s2)
    assert float(linear_vae_elbo(skew, x)) < float(ppca_log_likelihood(x, w @ rot, mu, s2)) - 1e-6


def test_cov_form_equals_data_form(x64):
    x = _data()
    m, cov = sample_covariance(x)
    p = _random_params(jax.random.key(3))._replace(mu=m)
    np.testing.assert_allclose(
        float(linear_vae_elbo_from_cov(p, cov)), float(linear_vae_elbo(p, x)), rtol=1e-12
    )


def test_gradients_match_central_finite_differences(x64):
    x = _data(n=100)
    p = _random_params(jax.random.key(1))
    f = lambda q: linear_vae_elbo(q, x)
    g = jax.grad(f)(p)
    rng = np.random.default_rng(0)
    direction = jax.tree.map(lambda a: jnp.asarray(rng.normal(size=a.shape)), p)
    h = 1e-5
    plus = jax.tree.map(lambda a, b: a + h * b, p, direction)
    minus = jax.tree.map(lambda a, b: a - h * b, p, direction)
    fd = (float(f(plus)) - float(f(minus))) / (2 * h)
    analytic = sum(
        float(jnp.vdot(a, b))
        for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(direction), strict=True)
    )
    np.testing.assert_allclose(analytic, fd, rtol=1e-6)


def test_jit_and_eager_agree():
    x = _data().astype(np.float32)
    p = _random_params(jax.random.key(2))
    np.testing.assert_allclose(
        float(jax.jit(linear_vae_elbo)(p, x)), float(linear_vae_elbo(p, x)), rtol=1e-5
    )
    key = jax.random.key(0)
    mc = jax.jit(linear_vae_elbo_mc, static_argnums=3)
    np.testing.assert_allclose(
        float(mc(p, x, key, 4)), float(linear_vae_elbo_mc(p, x, key, 4)), rtol=1e-5
    )


def test_kl_per_dim_matches_closed_form_kl(x64):
    x = _data(n=30)
    p = _random_params(jax.random.key(4))
    kl = np.asarray(linear_vae_kl_per_dim(p, x))
    m = (x - np.asarray(p.mu)) @ np.asarray(p.v).T
    var = np.exp(np.asarray(p.log_d))
    expected = 0.5 * (var + m**2 - 1 - np.log(var))
    np.testing.assert_allclose(kl, expected, rtol=1e-12)
    assert kl.shape == (30, 2) and (kl >= 0).all()


def test_posterior_error_against_numpy(x64):
    x = _data()
    w, mu, s2 = ppca_mle(x, 2)
    # At the optimum (orthogonal W, optimal encoder) the encoder IS the exact posterior.
    exact = linear_vae_posterior_error(linear_vae_from_decoder(w, mu, s2), x)
    for name, value in exact.items():
        assert float(value) < 1e-10, name
    # A perturbed encoder on a skewed decoder: independent numpy computation via Bayes' rule.
    p = _random_params(jax.random.key(5))
    got = {k: float(v) for k, v in linear_vae_posterior_error(p, x).items()}
    wn, mun, vn = np.asarray(p.w), np.asarray(p.mu), np.asarray(p.v)
    s2n, dn = float(np.exp(p.log_sigma2)), np.exp(np.asarray(p.log_d))
    c = wn @ wn.T + s2n * np.eye(5)
    post_mean = (wn.T @ np.linalg.solve(c, (x - mun).T)).T  # z | x ~ N(W^T C^-1 r, I - W^T C^-1 W)
    post_cov = np.eye(2) - wn.T @ np.linalg.solve(c, wn)
    q_mean = (x - mun) @ vn.T
    np.testing.assert_allclose(
        got["mean_rel_err"],
        np.linalg.norm(q_mean - post_mean) / np.linalg.norm(post_mean),
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        got["cov_rel_err"],
        np.linalg.norm(np.diag(dn) - post_cov) / np.linalg.norm(post_cov),
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        got["var_max_rel_err"], np.max(np.abs(dn / np.diag(post_cov) - 1)), rtol=1e-10
    )
    assert got["mean_rel_err"] > 0.1 and got["cov_rel_err"] > 0.1  # far from the posterior
    # Encoder directions where the data never vary are not identifiable and do not count.
    x0 = np.concatenate([x, np.zeros((x.shape[0], 1))], axis=1)  # a constant 6th coordinate
    opt6 = linear_vae_from_decoder(
        np.concatenate([np.asarray(w), np.zeros((1, 2))]), np.append(np.asarray(mu), 0.0), s2
    )
    moved = opt6._replace(v=opt6.v.at[:, 5].set(3.0))
    assert float(linear_vae_posterior_error(moved, x0)["mean_rel_err"]) < 1e-10
    jitted = jax.jit(linear_vae_posterior_error)(p, x)
    for name, value in jitted.items():
        np.testing.assert_allclose(float(value), got[name], rtol=1e-10)


def test_bad_inputs_are_named():
    p = linear_vae_init(jax.random.key(0), 5, 2)
    with pytest.raises(ValueError, match=r"params.w must have shape \(5, 2\)"):
        linear_vae_elbo(p._replace(w=jnp.zeros((4, 2))), np.ones((3, 5)))
    with pytest.raises(ValueError, match="x must be finite"):
        linear_vae_elbo(p, np.full((3, 5), np.nan))
    with pytest.raises(ValueError, match="num_samples must be an int >= 1"):
        linear_vae_elbo_mc(p, np.ones((3, 5)), jax.random.key(0), 0)
    with pytest.raises(TypeError, match="params must be a LinearVAEParams"):
        linear_vae_elbo(tuple(p), np.ones((3, 5)))
    with pytest.raises(ValueError, match="sigma2 must be > 0"):
        linear_vae_init(jax.random.key(0), 5, 2, sigma2=0.0)
    with pytest.raises(ValueError, match="latent_dim must be an int >= 1 and <= "):
        linear_vae_init(jax.random.key(0), 5, 5)
    assert isinstance(p, LinearVAEParams)
