"""Bad input to the pPCA / linear-VAE / deep-VAE functions: a ValueError/TypeError naming the
argument, raised before any tracing (table-driven)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.vae import (
    GaussianVAE,
    active_units,
    collapsed_dims,
    deep_vae_elbo,
    init_vae_state,
    linear_vae_from_decoder,
    linear_vae_init,
    linear_vae_optimal_encoder,
    linear_vae_posterior_error,
    ppca_log_likelihood_from_cov,
    ppca_posterior,
    sample_covariance,
)

_RNG = np.random.default_rng(0)
X = _RNG.normal(size=(20, 5))
W = _RNG.normal(size=(5, 2))
MU = _RNG.normal(size=5)
COV = np.cov(X.T, bias=True)


def _nan(a, index):
    a = np.array(a, dtype=np.float64)
    a[index] = np.nan
    return a


def _asym(c):
    c = np.array(c)
    c[0, 1] += 0.5
    return c


MODEL = GaussianVAE(data_dim=5, latent_dim=2, hidden=(8,))
OPT = optax.adam(1e-3)
PARAMS = MODEL.init(jax.random.key(0), jnp.zeros((1, 5)))


CASES = {
    # ppca_posterior(x, w, mu, sigma2)
    "posterior sigma2 = 0": (lambda: ppca_posterior(X, W, MU, 0.0), ValueError, "sigma2"),
    "posterior sigma2 < 0": (lambda: ppca_posterior(X, W, MU, -0.1), ValueError, "sigma2"),
    "posterior sigma2 array < 0": (
        lambda: ppca_posterior(X, W, MU, jnp.asarray(-0.1)),
        ValueError,
        r"sigma2 must be (finite and )?> 0",
    ),
    "posterior sigma2 not scalar": (
        lambda: ppca_posterior(X, W, MU, np.ones(2)),
        ValueError,
        "sigma2 must be a scalar",
    ),
    "posterior x 1-D": (lambda: ppca_posterior(X[0], W, MU, 0.1), ValueError, r"x must be a 2-D"),
    "posterior w rows != d": (
        lambda: ppca_posterior(X, W[:4], MU, 0.1),
        ValueError,
        r"w must be \[5, k\]",
    ),
    "posterior w 1-D": (lambda: ppca_posterior(X, W[:, 0], MU, 0.1), ValueError, "w must be"),
    "posterior mu length": (lambda: ppca_posterior(X, W, MU[:4], 0.1), ValueError, "mu must"),
    "posterior x NaN": (
        lambda: ppca_posterior(_nan(X, (2, 3)), W, MU, 0.1),
        ValueError,
        "x must be finite",
    ),
    "posterior w NaN": (
        lambda: ppca_posterior(X, _nan(W, (0, 0)), MU, 0.1),
        ValueError,
        "w must be finite",
    ),
    "posterior mu NaN": (
        lambda: ppca_posterior(X, W, _nan(MU, 1), 0.1),
        ValueError,
        "mu must be finite",
    ),
    # linear_vae_optimal_encoder(w, sigma2)
    "encoder sigma2 = 0": (lambda: linear_vae_optimal_encoder(W, 0.0), ValueError, "sigma2"),
    "encoder sigma2 < 0": (lambda: linear_vae_optimal_encoder(W, -1.0), ValueError, "sigma2"),
    "encoder w 1-D": (
        lambda: linear_vae_optimal_encoder(W[:, 0], 0.1),
        ValueError,
        "w must be a 2-D array",
    ),
    "encoder w NaN": (
        lambda: linear_vae_optimal_encoder(_nan(W, (1, 1)), 0.1),
        ValueError,
        "w must be finite",
    ),
    # ppca_log_likelihood_from_cov(cov, w, sigma2, mean_offset=...)
    "from_cov sigma2 = 0": (
        lambda: ppca_log_likelihood_from_cov(COV, W, 0.0),
        ValueError,
        r"sigma2 must be (finite and )?> 0",
    ),
    "from_cov sigma2 < 0": (
        lambda: ppca_log_likelihood_from_cov(COV, W, -0.2),
        ValueError,
        r"sigma2 must be (finite and )?> 0",
    ),
    "from_cov non-square cov": (
        lambda: ppca_log_likelihood_from_cov(COV[:4], W, 0.1),
        ValueError,
        r"cov must be a square \[d, d\]",
    ),
    "from_cov non-symmetric cov": (
        lambda: ppca_log_likelihood_from_cov(_asym(COV), W, 0.1),
        ValueError,
        "cov must be symmetric",
    ),
    "from_cov cov NaN": (
        lambda: ppca_log_likelihood_from_cov(_nan(COV, (2, 2)), W, 0.1),
        ValueError,
        "cov must be finite",
    ),
    "from_cov w NaN": (
        lambda: ppca_log_likelihood_from_cov(COV, _nan(W, (0, 1)), 0.1),
        ValueError,
        "w must be finite",
    ),
    "from_cov w rows != d": (
        lambda: ppca_log_likelihood_from_cov(COV, W[:3], 0.1),
        ValueError,
        r"w must be \[5, k\]",
    ),
    "from_cov mean_offset length": (
        lambda: ppca_log_likelihood_from_cov(COV, W, 0.1, mean_offset=MU[:2]),
        ValueError,
        "mean_offset must have shape",
    ),
    # deep VAE: init_vae_state(model, optimizer, key, sigma2, learn_sigma2), deep_vae_elbo(...)
    "init sigma2 = 0 (float)": (
        lambda: init_vae_state(MODEL, OPT, jax.random.key(0), 0.0, False),
        ValueError,
        r"sigma2 must be (finite and )?> 0",
    ),
    "init sigma2 < 0 (concrete array)": (
        lambda: init_vae_state(MODEL, OPT, jax.random.key(0), jnp.asarray(-0.5), False),
        ValueError,
        r"sigma2 must be (finite and )?> 0",
    ),
    "init sigma2 < 0 (numpy array)": (
        lambda: init_vae_state(MODEL, OPT, jax.random.key(0), np.float32(-0.5), False),
        ValueError,
        r"sigma2 must be (finite and )?> 0",
    ),
    "init sigma2 NaN": (
        lambda: init_vae_state(MODEL, OPT, jax.random.key(0), jnp.asarray(np.nan), False),
        ValueError,
        r"sigma2 must be (finite and )?> 0",
    ),
    "init sigma2 not scalar": (
        lambda: init_vae_state(MODEL, OPT, jax.random.key(0), jnp.ones(3), False),
        ValueError,
        "sigma2 must be a scalar",
    ),
    "init learn_sigma2 not scalar": (
        lambda: init_vae_state(MODEL, OPT, jax.random.key(0), 0.1, jnp.ones(2)),
        ValueError,
        "learn_sigma2 must be a scalar",
    ),
    "elbo x wrong width": (
        lambda: deep_vae_elbo(MODEL, PARAMS, jnp.log(0.1), jnp.ones((4, 6)), jax.random.key(0)),
        ValueError,
        r"x must be \[n, data_dim\] = \[n, 5\]",
    ),
    "elbo x 1-D": (
        lambda: deep_vae_elbo(MODEL, PARAMS, jnp.log(0.1), jnp.ones(5), jax.random.key(0)),
        ValueError,
        "x must be a 2-D array",
    ),
    "elbo log_sigma2 not scalar": (
        lambda: deep_vae_elbo(MODEL, PARAMS, jnp.zeros(2), jnp.ones((4, 5)), jax.random.key(0)),
        ValueError,
        "log_sigma2 must be a scalar",
    ),
    "elbo log_sigma2 = log(0)": (
        lambda: deep_vae_elbo(
            MODEL, PARAMS, jnp.log(jnp.asarray(0.0)), jnp.ones((4, 5)), jax.random.key(0)
        ),
        ValueError,
        "log_sigma2 must be finite",
    ),
    "elbo num_samples = 0": (
        lambda: deep_vae_elbo(MODEL, PARAMS, 0.0, jnp.ones((4, 5)), jax.random.key(0), 0),
        ValueError,
        "num_samples must be an int >= 1",
    ),
    "elbo num_samples float": (
        lambda: deep_vae_elbo(MODEL, PARAMS, 0.0, jnp.ones((4, 5)), jax.random.key(0), 2.0),
        TypeError,
        "num_samples must be an int",
    ),
    # collapse metrics with negative thresholds
    "collapsed_dims eps < 0": (
        lambda: collapsed_dims(np.ones((4, 2)), eps=-0.01),
        ValueError,
        "eps must be > 0",
    ),
    "collapsed_dims delta < 0": (
        lambda: collapsed_dims(np.ones((4, 2)), delta=-0.01),
        ValueError,
        "delta must be >= 0 and < 1",
    ),
    "active_units threshold < 0": (
        lambda: active_units(np.ones((4, 2)), threshold=-0.01),
        ValueError,
        r"threshold must be (finite and )?>= 0",
    ),
    "active_units threshold NaN": (
        lambda: active_units(np.ones((4, 2)), threshold=float("nan")),
        ValueError,
        r"threshold must be (finite and )?>= 0",
    ),
    # sample_covariance on one row
    "sample_covariance one row": (
        lambda: sample_covariance(X[:1]),
        ValueError,
        r"x must be \[n, d\] with n >= 2 examples",
    ),
    "sample_covariance 1-D": (
        lambda: sample_covariance(X[0]),
        ValueError,
        "x must be a 2-D array",
    ),
    "sample_covariance NaN": (
        lambda: sample_covariance(_nan(X, (0, 0))),
        ValueError,
        "x must be finite",
    ),
    # mu of the wrong length
    "linear_vae_init mu length": (
        lambda: linear_vae_init(jax.random.key(0), 5, 2, mu=np.zeros(4)),
        ValueError,
        r"mu must have shape \[5\]",
    ),
    "linear_vae_init mu NaN": (
        lambda: linear_vae_init(jax.random.key(0), 5, 2, mu=_nan(MU, 0)),
        ValueError,
        "mu must be finite",
    ),
    "from_decoder mu length": (
        lambda: linear_vae_from_decoder(W, MU[:3], 0.1),
        ValueError,
        r"mu must have shape \[5\]",
    ),
    "from_decoder sigma2 < 0": (
        lambda: linear_vae_from_decoder(W, MU, -0.1),
        ValueError,
        r"sigma2 must be (finite and )?> 0",
    ),
    "posterior_error x width": (
        lambda: linear_vae_posterior_error(linear_vae_from_decoder(W, MU, 0.1), X[:, :4]),
        ValueError,
        r"x must have d = 5 columns",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_named(name):
    call, error, message = CASES[name]
    with pytest.raises(error, match=message):
        call()


def test_tracers_pass_value_checks_unchanged():
    """Under jit / vmap the value checks are skipped (shapes still checked) and results agree."""
    x = jnp.asarray(X, jnp.float32)
    w = jnp.asarray(W, jnp.float32)
    mu = jnp.asarray(MU, jnp.float32)
    eager = ppca_posterior(x, w, mu, 0.3)
    jitted = jax.jit(ppca_posterior)(x, w, mu, jnp.float32(0.3))
    for a, b in zip(eager, jitted, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    v, log_d = jax.jit(linear_vae_optimal_encoder)(w, jnp.float32(0.3))
    v2, log_d2 = linear_vae_optimal_encoder(w, 0.3)
    np.testing.assert_allclose(np.asarray(v), np.asarray(v2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(log_d), np.asarray(log_d2), rtol=1e-5, atol=1e-6)
    states = jax.vmap(lambda s2: init_vae_state(MODEL, OPT, jax.random.key(0), s2, 0.0))(
        jnp.asarray([0.1, 0.2])
    )
    np.testing.assert_allclose(np.exp(np.asarray(states.log_sigma2)), [0.1, 0.2], rtol=1e-6)
    cov = jnp.asarray(COV, jnp.float32)
    ll = jax.jit(lambda ww: ppca_log_likelihood_from_cov(cov, ww, 0.3))(w)
    np.testing.assert_allclose(
        float(ll), float(ppca_log_likelihood_from_cov(cov, w, 0.3)), rtol=1e-5
    )


def test_valid_boundary_inputs_are_accepted():
    assert int(active_units(np.ones((4, 2)), threshold=0.0)) == 0  # zero variance, not > 0
    mu, cov = sample_covariance(X[:2])
    assert cov.shape == (5, 5) and mu.shape == (5,)
    p = linear_vae_init(jax.random.key(0), 5, 2, mu=MU)
    np.testing.assert_allclose(np.asarray(p.mu), MU.astype(np.float32), rtol=1e-6)
    mean, pcov = ppca_posterior(X[:1], W, MU, 0.1)  # one example is a valid query
    assert mean.shape == (1, 2) and pcov.shape == (2, 2)
