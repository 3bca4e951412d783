"""Bad calls to jaxml.vae (see tests/bad_inputs/audit.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml import vae
from jaxml.testing import bad_calls

F = "jaxml.vae."
_RNG = np.random.default_rng(0)
_X = _RNG.normal(size=(20, 5)).astype(np.float32)
_W = _RNG.normal(size=(5, 2)).astype(np.float32)
_MU = _RNG.normal(size=5).astype(np.float32)
_COV = np.cov(_X.T, bias=True).astype(np.float32)
_KEY = jax.random.key(0)
_P = vae.linear_vae_init(_KEY, 5, 2)
_MODEL = vae.GaussianVAE(data_dim=5, latent_dim=2, hidden=(4,))
_OPT = optax.adam(1e-3)
_NET = _MODEL.init(_KEY, jnp.zeros((1, 5)))
_KL = np.abs(_RNG.normal(size=(6, 2))).astype(np.float32)
_STATES = vae.init_vae_sweep(_MODEL, _OPT, _KEY, [0.1, 1.0], [False, True])
_EV = np.linspace(1.0, 0.1, 5)
_SWEEP_EV = {
    n: np.ones((2, 2)) if n == "kl_per_dim" else np.ones(2)
    for n in ("sigma2", "collapsed", "active", "elbo", "recon", "kl", "kl_per_dim")
}
_SWEEP_STEP = vae.make_vae_sweep_step(_MODEL, _OPT, _KEY, num_train=20, batch_size=4)


def _nan(a, index=0):
    a = np.array(a, dtype=np.float32)
    a.flat[index] = np.nan
    return a


def _inf(a, index=0):
    a = np.array(a, dtype=np.float32)
    a.flat[index] = np.inf
    return a


def _cases(name, arg, items):
    return bad_calls(F + name, arg, items)


CASES = [
    # --- pPCA -------------------------------------------------------------------------------
    *_cases(
        "sample_covariance",
        "x",
        [
            ("1-D x", lambda: vae.sample_covariance(_X[0])),
            ("one row", lambda: vae.sample_covariance(_X[:1])),
            ("NaN in x", lambda: vae.sample_covariance(_nan(_X))),
            ("a string", lambda: vae.sample_covariance("x")),
            ("None", lambda: vae.sample_covariance(None)),
        ],
    ),
    *_cases(
        "covariance_eigh",
        "x",
        [
            ("3-D x", lambda: vae.covariance_eigh(_X[None])),
            ("inf in x", lambda: vae.covariance_eigh(_inf(_X, 7))),
        ],
    ),
    *_cases(
        "ppca_mle",
        "x",
        [
            ("1-D x", lambda: vae.ppca_mle(_X[0], 2)),
            ("NaN in x", lambda: vae.ppca_mle(_nan(_X, 3), 2)),
        ],
    ),
    *_cases(
        "ppca_mle",
        "latent_dim",
        [
            ("latent_dim = 0", lambda: vae.ppca_mle(_X, 0)),
            ("latent_dim = d", lambda: vae.ppca_mle(_X, 5)),
            ("float latent_dim", lambda: vae.ppca_mle(_X, 2.0)),
            ("None", lambda: vae.ppca_mle(_X, None)),
        ],
    ),
    *_cases(
        "ppca_log_likelihood",
        "sigma2",
        [
            ("sigma2 = 0", lambda: vae.ppca_log_likelihood(_X, _W, _MU, 0.0)),
            ("sigma2 NaN", lambda: vae.ppca_log_likelihood(_X, _W, _MU, float("nan"))),
            ("sigma2 a string", lambda: vae.ppca_log_likelihood(_X, _W, _MU, "0.1")),
        ],
    ),
    *_cases(
        "ppca_log_likelihood",
        "w",
        [
            ("w rows != d", lambda: vae.ppca_log_likelihood(_X, _W[:4], _MU, 0.1)),
            ("NaN in w", lambda: vae.ppca_log_likelihood(_X, _nan(_W), _MU, 0.1)),
        ],
    ),
    *_cases(
        "ppca_log_likelihood",
        "mu",
        [
            ("mu length 4", lambda: vae.ppca_log_likelihood(_X, _W, _MU[:4], 0.1)),
            ("NaN in mu", lambda: vae.ppca_log_likelihood(_X, _W, _nan(_MU), 0.1)),
        ],
    ),
    *_cases(
        "ppca_log_likelihood_per_example",
        "x",
        [
            ("NaN in x", lambda: vae.ppca_log_likelihood_per_example(_nan(_X), _W, _MU, 0.1)),
            (
                "x columns != w rows",
                lambda: vae.ppca_log_likelihood_per_example(_X[:, :4], _W, _MU, 0.1),
            ),
        ],
    ),
    *_cases(
        "ppca_log_likelihood_per_example",
        "sigma2",
        [("sigma2 < 0", lambda: vae.ppca_log_likelihood_per_example(_X, _W, _MU, -1.0))],
    ),
    *_cases(
        "ppca_log_likelihood_from_cov",
        "cov",
        [
            ("not square", lambda: vae.ppca_log_likelihood_from_cov(_COV[:4], _W, 0.1)),
            ("NaN in cov", lambda: vae.ppca_log_likelihood_from_cov(_nan(_COV), _W, 0.1)),
            (
                "not symmetric",
                lambda: vae.ppca_log_likelihood_from_cov(
                    _COV + np.triu(np.ones((5, 5)), 1), _W, 0.1
                ),
            ),
        ],
    ),
    *_cases(
        "ppca_log_likelihood_from_cov",
        "w",
        [("w rows != d", lambda: vae.ppca_log_likelihood_from_cov(_COV, _W[:3], 0.1))],
    ),
    *_cases(
        "ppca_log_likelihood_from_cov",
        "mean_offset",
        [
            (
                "length 3",
                lambda: vae.ppca_log_likelihood_from_cov(_COV, _W, 0.1, mean_offset=_MU[:3]),
            ),
            ("NaN", lambda: vae.ppca_log_likelihood_from_cov(_COV, _W, 0.1, mean_offset=_nan(_MU))),
        ],
    ),
    *_cases(
        "ppca_log_likelihood_from_cov",
        "sigma2",
        [("sigma2 inf", lambda: vae.ppca_log_likelihood_from_cov(_COV, _W, float("inf")))],
    ),
    *_cases(
        "ppca_stationary_point",
        "eigen_indices",
        [
            ("index 5 of d = 5", lambda: vae.ppca_stationary_point(_X, 2, (0, 5), 0.1)),
            ("repeated index", lambda: vae.ppca_stationary_point(_X, 2, (1, 1), 0.1)),
            ("too many indices", lambda: vae.ppca_stationary_point(_X, 2, (0, 1, 2), 0.1)),
            ("a string", lambda: vae.ppca_stationary_point(_X, 2, "01", 0.1)),
            ("float indices", lambda: vae.ppca_stationary_point(_X, 2, (0.5, 1.0), 0.1)),
            ("negative index", lambda: vae.ppca_stationary_point(_X, 2, (-1,), 0.1)),
        ],
    ),
    *_cases(
        "ppca_stationary_point",
        "sigma2",
        [("sigma2 = 0", lambda: vae.ppca_stationary_point(_X, 2, (0, 1), 0.0))],
    ),
    *_cases(
        "ppca_stationary_point",
        "latent_dim",
        [("latent_dim = -1", lambda: vae.ppca_stationary_point(_X, -1, (), 0.1))],
    ),
    *_cases(
        "ppca_posterior",
        "x",
        [
            ("1-D x", lambda: vae.ppca_posterior(_X[0], _W, _MU, 0.1)),
            ("NaN in x", lambda: vae.ppca_posterior(_nan(_X), _W, _MU, 0.1)),
        ],
    ),
    *_cases(
        "ppca_posterior",
        "w",
        [
            ("1-D w", lambda: vae.ppca_posterior(_X, _W[:, 0], _MU, 0.1)),
            ("inf in w", lambda: vae.ppca_posterior(_X, _inf(_W), _MU, 0.1)),
        ],
    ),
    *_cases(
        "ppca_posterior",
        "sigma2",
        [("sigma2 shape [2]", lambda: vae.ppca_posterior(_X, _W, _MU, np.ones(2)))],
    ),
    # --- linear VAE -------------------------------------------------------------------------
    *_cases(
        "linear_vae_init",
        "data_dim",
        [
            ("data_dim = 1", lambda: vae.linear_vae_init(_KEY, 1, 1)),
            ("float data_dim", lambda: vae.linear_vae_init(_KEY, 5.0, 2)),
        ],
    ),
    *_cases(
        "linear_vae_init",
        "latent_dim",
        [
            ("latent_dim = data_dim", lambda: vae.linear_vae_init(_KEY, 5, 5)),
            ("string latent_dim", lambda: vae.linear_vae_init(_KEY, 5, "2")),
        ],
    ),
    *_cases(
        "linear_vae_init",
        "sigma2",
        [
            ("sigma2 = 0", lambda: vae.linear_vae_init(_KEY, 5, 2, sigma2=0.0)),
            ("sigma2 NaN", lambda: vae.linear_vae_init(_KEY, 5, 2, sigma2=float("nan"))),
        ],
    ),
    *_cases(
        "linear_vae_init",
        "scale",
        [
            ("scale = -1", lambda: vae.linear_vae_init(_KEY, 5, 2, scale=-1.0)),
            ("scale NaN", lambda: vae.linear_vae_init(_KEY, 5, 2, scale=float("nan"))),
        ],
    ),
    *_cases(
        "linear_vae_init",
        "key",
        [
            ("an int seed", lambda: vae.linear_vae_init(0, 5, 2)),
            ("None", lambda: vae.linear_vae_init(None, 5, 2)),
        ],
    ),
    *_cases(
        "linear_vae_init",
        "mu",
        [("mu length 4", lambda: vae.linear_vae_init(_KEY, 5, 2, mu=_MU[:4]))],
    ),
    *_cases(
        "linear_vae_elbo",
        "x",
        [
            ("x width != d", lambda: vae.linear_vae_elbo(_P, _X[:, :4])),
            ("NaN in x", lambda: vae.linear_vae_elbo(_P, _nan(_X))),
            ("1-D x", lambda: vae.linear_vae_elbo(_P, _X[0])),
        ],
    ),
    *_cases(
        "linear_vae_elbo",
        "params",
        [
            ("a tuple", lambda: vae.linear_vae_elbo(tuple(_P), _X)),
            ("NaN in w", lambda: vae.linear_vae_elbo(_P._replace(w=_nan(_P.w)), _X)),
            (
                "log_d of the wrong length",
                lambda: vae.linear_vae_elbo(_P._replace(log_d=jnp.zeros(3)), _X),
            ),
        ],
    ),
    *_cases(
        "linear_vae_elbo_per_example",
        "params",
        [("inf in mu", lambda: vae.linear_vae_elbo_per_example(_P._replace(mu=_inf(_P.mu)), _X))],
    ),
    *_cases(
        "linear_vae_elbo_per_example",
        "x",
        [("a string", lambda: vae.linear_vae_elbo_per_example(_P, "x"))],
    ),
    *_cases(
        "linear_vae_kl_per_dim",
        "params",
        [
            (
                "NaN in log_d",
                lambda: vae.linear_vae_kl_per_dim(_P._replace(log_d=_nan(_P.log_d)), _X),
            )
        ],
    ),
    *_cases(
        "linear_vae_kl_per_dim",
        "x",
        [("x width != d", lambda: vae.linear_vae_kl_per_dim(_P, _X[:, :3]))],
    ),
    *_cases(
        "linear_vae_elbo_mc",
        "num_samples",
        [
            ("num_samples = 0", lambda: vae.linear_vae_elbo_mc(_P, _X, _KEY, 0)),
            ("float num_samples", lambda: vae.linear_vae_elbo_mc(_P, _X, _KEY, 2.0)),
        ],
    ),
    *_cases(
        "linear_vae_elbo_mc",
        "key",
        [("an int seed", lambda: vae.linear_vae_elbo_mc(_P, _X, 0))],
    ),
    *_cases(
        "linear_vae_elbo_mc",
        "x",
        [("NaN in x", lambda: vae.linear_vae_elbo_mc(_P, _nan(_X), _KEY))],
    ),
    *_cases(
        "linear_vae_elbo_mc",
        "analytic_kl",
        [("a string", lambda: vae.linear_vae_elbo_mc(_P, _X, _KEY, analytic_kl="yes"))],
    ),
    *_cases(
        "linear_vae_optimal_encoder",
        "w",
        [
            ("1-D w", lambda: vae.linear_vae_optimal_encoder(_W[:, 0], 0.1)),
            ("NaN in w", lambda: vae.linear_vae_optimal_encoder(_nan(_W), 0.1)),
        ],
    ),
    *_cases(
        "linear_vae_optimal_encoder",
        "sigma2",
        [
            ("sigma2 = -1", lambda: vae.linear_vae_optimal_encoder(_W, -1.0)),
            ("None", lambda: vae.linear_vae_optimal_encoder(_W, None)),
        ],
    ),
    *_cases(
        "linear_vae_from_decoder",
        "mu",
        [("mu length 4", lambda: vae.linear_vae_from_decoder(_W, _MU[:4], 0.1))],
    ),
    *_cases(
        "linear_vae_from_decoder",
        "sigma2",
        [("sigma2 = 0", lambda: vae.linear_vae_from_decoder(_W, _MU, 0.0))],
    ),
    *_cases(
        "linear_vae_elbo_from_cov",
        "cov",
        [
            ("not square", lambda: vae.linear_vae_elbo_from_cov(_P, _COV[:3])),
            ("NaN in cov", lambda: vae.linear_vae_elbo_from_cov(_P, _nan(_COV))),
            ("1-D cov", lambda: vae.linear_vae_elbo_from_cov(_P, _MU)),
        ],
    ),
    *_cases(
        "linear_vae_elbo_from_cov",
        "params",
        [("a dict", lambda: vae.linear_vae_elbo_from_cov(dict(_P._asdict()), _COV))],
    ),
    *_cases(
        "linear_vae_posterior_error",
        "x",
        [("NaN in x", lambda: vae.linear_vae_posterior_error(_P, _nan(_X)))],
    ),
    *_cases(
        "linear_vae_posterior_error",
        "params",
        [
            (
                "w of the wrong shape",
                lambda: vae.linear_vae_posterior_error(_P._replace(w=_W[:4]), _X),
            )
        ],
    ),
    # --- collapse metrics -------------------------------------------------------------------
    *_cases(
        "collapsed_dims",
        "kl_per_dim",
        [
            ("1-D", lambda: vae.collapsed_dims(_KL[0])),
            ("NaN", lambda: vae.collapsed_dims(_nan(_KL))),
            ("negative KL", lambda: vae.collapsed_dims(-_KL)),
            ("a string", lambda: vae.collapsed_dims("kl")),
        ],
    ),
    *_cases(
        "collapsed_dims",
        "eps",
        [
            ("eps = 0", lambda: vae.collapsed_dims(_KL, 0.0)),
            ("eps a string", lambda: vae.collapsed_dims(_KL, "0.01")),
            ("eps NaN", lambda: vae.collapsed_dims(_KL, float("nan"))),
        ],
    ),
    *_cases(
        "collapsed_dims",
        "delta",
        [
            ("delta = 1", lambda: vae.collapsed_dims(_KL, 0.01, 1.0)),
            ("delta = -0.1", lambda: vae.collapsed_dims(_KL, 0.01, -0.1)),
            ("delta None", lambda: vae.collapsed_dims(_KL, 0.01, None)),
        ],
    ),
    *_cases(
        "active_units",
        "mean_z",
        [
            ("1-D", lambda: vae.active_units(_KL[0])),
            ("NaN", lambda: vae.active_units(_nan(_KL))),
        ],
    ),
    *_cases(
        "active_units",
        "threshold",
        [
            ("threshold < 0", lambda: vae.active_units(_KL, -0.1)),
            ("threshold a string", lambda: vae.active_units(_KL, "0.01")),
        ],
    ),
    # --- Hessians ---------------------------------------------------------------------------
    *_cases(
        "ppca_decoder_hessian",
        "w",
        [
            ("NaN in w", lambda: vae.ppca_decoder_hessian(_COV, _nan(_W), 0.1)),
            ("w rows != d", lambda: vae.ppca_decoder_hessian(_COV, _W[:4], 0.1)),
            ("too large", lambda: vae.ppca_decoder_hessian(_COV, np.ones((5, 1000)), 0.1)),
        ],
    ),
    *_cases(
        "ppca_decoder_hessian",
        "sigma2",
        [("sigma2 = 0", lambda: vae.ppca_decoder_hessian(_COV, _W, 0.0))],
    ),
    *_cases(
        "ppca_decoder_hessian",
        "cov",
        [("NaN in cov", lambda: vae.ppca_decoder_hessian(_nan(_COV), _W, 0.1))],
    ),
    *_cases(
        "elbo_decoder_hessian",
        "w",
        [
            ("NaN in w", lambda: vae.elbo_decoder_hessian(_COV, _nan(_W), 0.1)),
            ("1-D w", lambda: vae.elbo_decoder_hessian(_COV, _W[:, 0], 0.1)),
        ],
    ),
    *_cases(
        "elbo_decoder_hessian",
        "cov",
        [
            ("cov rows != w rows", lambda: vae.elbo_decoder_hessian(_COV[:4, :4], _W, 0.1)),
            ("NaN in cov", lambda: vae.elbo_decoder_hessian(_nan(_COV), _W, 0.1)),
        ],
    ),
    *_cases(
        "elbo_decoder_hessian",
        "sigma2",
        [("sigma2 < 0", lambda: vae.elbo_decoder_hessian(_COV, _W, -0.1))],
    ),
    *_cases(
        "elbo_decoder_hessian",
        "profile_encoder",
        [("a string", lambda: vae.elbo_decoder_hessian(_COV, _W, 0.1, profile_encoder="no"))],
    ),
    *_cases(
        "hessian_eigenvalues",
        "hessian",
        [
            ("not square", lambda: vae.hessian_eigenvalues(np.ones((3, 4)))),
            ("NaN", lambda: vae.hessian_eigenvalues(_nan(np.eye(3)))),
            ("a string", lambda: vae.hessian_eigenvalues("h")),
        ],
    ),
    # --- deep VAE ---------------------------------------------------------------------------
    *_cases(
        "GaussianVAE",
        "latent_dim",
        [
            ("latent_dim = 0", lambda: vae.GaussianVAE(data_dim=5, latent_dim=0)),
            ("float latent_dim", lambda: vae.GaussianVAE(data_dim=5, latent_dim=2.0)),
        ],
    ),
    *_cases(
        "GaussianVAE",
        "data_dim",
        [("data_dim = -1", lambda: vae.GaussianVAE(data_dim=-1, latent_dim=2))],
    ),
    *_cases(
        "GaussianVAE",
        "hidden",
        [
            ("a width of 0", lambda: vae.GaussianVAE(data_dim=5, latent_dim=2, hidden=(0,))),
            ("an int, not a tuple", lambda: vae.GaussianVAE(data_dim=5, latent_dim=2, hidden=8)),
        ],
    ),
    *_cases(
        "GaussianVAE",
        "x",
        [("x width 4 for data_dim 5", lambda: _MODEL.apply(_NET, jnp.ones((3, 4))))],
    ),
    *_cases(
        "gaussian_kl_per_dim",
        "log_var",
        [
            ("shape mismatch", lambda: vae.gaussian_kl_per_dim(jnp.ones((3, 2)), jnp.ones((3, 4)))),
            ("NaN", lambda: vae.gaussian_kl_per_dim(jnp.ones((3, 2)), _nan(np.ones((3, 2))))),
        ],
    ),
    *_cases(
        "gaussian_kl_per_dim",
        "mean",
        [("a string", lambda: vae.gaussian_kl_per_dim("m", jnp.ones((3, 2))))],
    ),
    *_cases(
        "deep_vae_elbo",
        "x",
        [
            ("x width 4", lambda: vae.deep_vae_elbo(_MODEL, _NET, 0.0, jnp.ones((3, 4)), _KEY)),
            ("NaN in x", lambda: vae.deep_vae_elbo(_MODEL, _NET, 0.0, _nan(_X), _KEY)),
        ],
    ),
    *_cases(
        "deep_vae_elbo",
        "log_sigma2",
        [
            ("log_sigma2 NaN", lambda: vae.deep_vae_elbo(_MODEL, _NET, float("nan"), _X, _KEY)),
            ("shape [2]", lambda: vae.deep_vae_elbo(_MODEL, _NET, jnp.zeros(2), _X, _KEY)),
        ],
    ),
    *_cases(
        "deep_vae_elbo",
        "num_samples",
        [
            ("num_samples = 0", lambda: vae.deep_vae_elbo(_MODEL, _NET, 0.0, _X, _KEY, 0)),
            ("float", lambda: vae.deep_vae_elbo(_MODEL, _NET, 0.0, _X, _KEY, 1.5)),
        ],
    ),
    *_cases(
        "deep_vae_elbo",
        "key",
        [("an int seed", lambda: vae.deep_vae_elbo(_MODEL, _NET, 0.0, _X, 0))],
    ),
    *_cases(
        "deep_vae_elbo",
        "model",
        [("a string", lambda: vae.deep_vae_elbo("vae", _NET, 0.0, _X, _KEY))],
    ),
    *_cases(
        "deep_vae_elbo",
        "params",
        [
            (
                "NaN params",
                lambda: vae.deep_vae_elbo(_MODEL, jax.tree.map(_nan, _NET), 0.0, _X, _KEY),
            )
        ],
    ),
    *_cases(
        "init_vae_state",
        "sigma2",
        [
            ("sigma2 = 0", lambda: vae.init_vae_state(_MODEL, _OPT, _KEY, 0.0, True)),
            ("sigma2 a string", lambda: vae.init_vae_state(_MODEL, _OPT, _KEY, "1", True)),
        ],
    ),
    *_cases(
        "init_vae_state",
        "learn_sigma2",
        [
            ("shape [2]", lambda: vae.init_vae_state(_MODEL, _OPT, _KEY, 1.0, jnp.ones(2))),
            ("a string", lambda: vae.init_vae_state(_MODEL, _OPT, _KEY, 1.0, "yes")),
            ("0.5", lambda: vae.init_vae_state(_MODEL, _OPT, _KEY, 1.0, 0.5)),
        ],
    ),
    *_cases(
        "init_vae_state",
        "optimizer",
        [("a string", lambda: vae.init_vae_state(_MODEL, "adam", _KEY, 1.0, True))],
    ),
    *_cases(
        "init_vae_state",
        "key",
        [("an int seed", lambda: vae.init_vae_state(_MODEL, _OPT, 0, 1.0, True))],
    ),
    *_cases(
        "make_vae_train_step",
        "optimizer",
        [("None", lambda: vae.make_vae_train_step(_MODEL, None))],
    ),
    *_cases(
        "make_vae_train_step",
        "model",
        [("a flax Dense", lambda: vae.make_vae_train_step(jax.numpy.ones(3), _OPT))],
    ),
    # --- linear-model predictions and diagnostics --------------------------------------------
    *_cases(
        "linear_collapse_prediction",
        "eigenvalues",
        [
            ("2-D", lambda: vae.linear_collapse_prediction(np.ones((2, 2)), 0.1, 1)),
            ("NaN", lambda: vae.linear_collapse_prediction(_nan(np.ones(4)), 0.1, 2)),
        ],
    ),
    *_cases(
        "linear_collapse_prediction",
        "sigma2",
        [("sigma2 = 0", lambda: vae.linear_collapse_prediction(np.ones(4), 0.0, 2))],
    ),
    *_cases(
        "linear_collapse_prediction",
        "latent_dim",
        [
            ("latent_dim > d", lambda: vae.linear_collapse_prediction(np.ones(4), 0.1, 5)),
            ("float latent_dim", lambda: vae.linear_collapse_prediction(np.ones(4), 0.1, 2.0)),
        ],
    ),
    *_cases(
        "linear_band",
        "steps",
        [
            ("steps = -1", lambda: vae.linear_band([0.0, 0.5], -1)),
            ("float steps", lambda: vae.linear_band([0.0, 0.5], 1.0)),
        ],
    ),
    *_cases(
        "linear_band",
        "linear",
        [
            ("empty", lambda: vae.linear_band([], 1)),
            ("NaN", lambda: vae.linear_band([0.0, float("nan")], 1)),
        ],
    ),
    *_cases(
        "ppca_predicted_saddle",
        "eigen_indices",
        [
            ("index out of range", lambda: vae.ppca_predicted_saddle((0, 9), 2, np.ones(4), 0.1)),
            ("a string", lambda: vae.ppca_predicted_saddle("01", 2, np.ones(4), 0.1)),
        ],
    ),
    *_cases(
        "ppca_predicted_saddle",
        "sigma2",
        [("sigma2 < 0", lambda: vae.ppca_predicted_saddle((0,), 2, np.ones(4), -0.1))],
    ),
    *_cases(
        "ppca_predicted_saddle",
        "eigenvalues",
        [("NaN", lambda: vae.ppca_predicted_saddle((0,), 2, _nan(np.ones(4)), 0.1))],
    ),
    *_cases(
        "principal_angles_deg",
        "u",
        [
            ("rows != w rows", lambda: vae.principal_angles_deg(_W, np.eye(4)[:, :2])),
            ("NaN", lambda: vae.principal_angles_deg(_W, _nan(np.eye(5)[:, :2]))),
        ],
    ),
    *_cases(
        "principal_angles_deg",
        "w",
        [("1-D", lambda: vae.principal_angles_deg(_W[:, 0], np.eye(5)[:, :2]))],
    ),
    *_cases(
        "decoder_column_cosines",
        "w",
        [
            (
                "a zero column",
                lambda: vae.decoder_column_cosines(_W * [1.0, 0.0], np.eye(5)[:, :2]),
            ),
            ("NaN", lambda: vae.decoder_column_cosines(_nan(_W), np.eye(5)[:, :2])),
        ],
    ),
    *_cases(
        "decoder_column_cosines",
        "u",
        [("3 columns for k = 2", lambda: vae.decoder_column_cosines(_W, np.eye(5)[:, :3]))],
    ),
    *_cases(
        "linear_vae_encoder_mismatch",
        "params",
        [
            ("a tuple", lambda: vae.linear_vae_encoder_mismatch(tuple(_P))),
            ("NaN in v", lambda: vae.linear_vae_encoder_mismatch(_P._replace(v=_nan(_P.v)))),
        ],
    ),
    # --- the sigma^2 sweep ------------------------------------------------------------------
    *_cases(
        "init_vae_sweep",
        "sigma2s",
        [
            ("a zero sigma2", lambda: vae.init_vae_sweep(_MODEL, _OPT, _KEY, [0.1, 0.0], [0, 1])),
            ("2-D", lambda: vae.init_vae_sweep(_MODEL, _OPT, _KEY, [[0.1]], [0])),
            ("NaN", lambda: vae.init_vae_sweep(_MODEL, _OPT, _KEY, [float("nan")], [0])),
        ],
    ),
    *_cases(
        "init_vae_sweep",
        "learn_sigma2",
        [
            ("length mismatch", lambda: vae.init_vae_sweep(_MODEL, _OPT, _KEY, [0.1, 0.2], [1])),
            ("0.5", lambda: vae.init_vae_sweep(_MODEL, _OPT, _KEY, [0.1], [0.5])),
        ],
    ),
    *_cases(
        "init_vae_sweep",
        "model",
        [("None", lambda: vae.init_vae_sweep(None, _OPT, _KEY, [0.1], [0]))],
    ),
    *_cases(
        "make_vae_sweep_step",
        "batch_size",
        [
            (
                "batch_size > num_train",
                lambda: vae.make_vae_sweep_step(_MODEL, _OPT, _KEY, num_train=10, batch_size=11),
            ),
            (
                "float batch_size",
                lambda: vae.make_vae_sweep_step(_MODEL, _OPT, _KEY, num_train=10, batch_size=4.0),
            ),
        ],
    ),
    *_cases(
        "make_vae_sweep_step",
        "num_train",
        [
            (
                "num_train = 0",
                lambda: vae.make_vae_sweep_step(_MODEL, _OPT, _KEY, num_train=0, batch_size=1),
            )
        ],
    ),
    *_cases(
        "make_vae_sweep_step",
        "key",
        [
            (
                "an int seed",
                lambda: vae.make_vae_sweep_step(_MODEL, _OPT, 3, num_train=10, batch_size=4),
            )
        ],
    ),
    *_cases(
        "make_vae_sweep_step",
        "x_train",
        [("rows != num_train", lambda: _SWEEP_STEP(_STATES, 0, _X[:10]))],
    ),
    *_cases(
        "make_vae_sweep_eval",
        "delta",
        [("delta = 1", lambda: vae.make_vae_sweep_eval(_MODEL, delta=1.0))],
    ),
    *_cases(
        "make_vae_sweep_eval",
        "num_samples",
        [("num_samples = 0", lambda: vae.make_vae_sweep_eval(_MODEL, num_samples=0))],
    ),
    *_cases(
        "make_vae_sweep_eval",
        "x",
        [("x width 4", lambda: vae.make_vae_sweep_eval(_MODEL)(_STATES, jnp.ones((3, 4)), _KEY))],
    ),
    *_cases(
        "sweep_collapse_records",
        "evaluation",
        [("a missing key", lambda: vae.sweep_collapse_records({"elbo": [0.0]}, [0.1], [0], _EV))],
    ),
    *_cases(
        "sweep_collapse_records",
        "learn_sigma2",
        [
            (
                "length 1 for 2 configs",
                lambda: vae.sweep_collapse_records(_SWEEP_EV, [0.1, 1.0], [0], _EV),
            )
        ],
    ),
    *_cases(
        "sweep_collapse_records",
        "weak_kl",
        [
            (
                "weak_kl < 0",
                lambda: vae.sweep_collapse_records(
                    _SWEEP_EV, [0.1, 1.0], [0, 1], _EV, weak_kl=-1.0
                ),
            )
        ],
    ),
    # --- jaxml.vae.hyper (issue 19, composition ift_vae) -------------------------------------
    *_cases(
        "linear_vae_sigma2_loss",
        "log_sigma2",
        [
            ("[2] log_sigma2", lambda: vae.linear_vae_sigma2_loss(_P, np.zeros(2), _X)),
            ("NaN log_sigma2", lambda: vae.linear_vae_sigma2_loss(_P, np.float32(np.nan), _X)),
            ("a string", lambda: vae.linear_vae_sigma2_loss(_P, "1", _X)),
        ],
    ),
    *_cases(
        "linear_vae_sigma2_loss",
        "params",
        [("a tuple", lambda: vae.linear_vae_sigma2_loss(tuple(_P), 0.0, _X))],
    ),
    *_cases(
        "linear_vae_sigma2_loss",
        "x",
        [
            ("1-D x", lambda: vae.linear_vae_sigma2_loss(_P, 0.0, _X[0])),
            ("d=4 for d=5 params", lambda: vae.linear_vae_sigma2_loss(_P, 0.0, _X[:, :4])),
            ("NaN in x", lambda: vae.linear_vae_sigma2_loss(_P, 0.0, _nan(_X))),
        ],
    ),
    *_cases(
        "linear_vae_heldout",
        "x",
        [
            ("inf in x", lambda: vae.linear_vae_heldout(_P, _inf(_X, 2))),
            ("d=4 for d=5 params", lambda: vae.linear_vae_heldout(_P, _X[:, :4])),
        ],
    ),
    *_cases(
        "linear_vae_heldout",
        "params",
        [("None", lambda: vae.linear_vae_heldout(None, _X))],
    ),
    *_cases(
        "linear_vae_heldout",
        "eps",
        [("eps = 0", lambda: vae.linear_vae_heldout(_P, _X, eps=0.0))],
    ),
    *_cases(
        "linear_vae_heldout",
        "delta",
        [("delta = 1", lambda: vae.linear_vae_heldout(_P, _X, delta=1.0))],
    ),
]

EXEMPT = {
    F + "LinearVAEParams": "a NamedTuple container; every linear_vae_* function checks its fields",
    F + "PPCAFit": "a NamedTuple container returned by ppca_mle",
    F + "VAETrainState": "a NamedTuple container; the train step's state, built by init_vae_state",
}
