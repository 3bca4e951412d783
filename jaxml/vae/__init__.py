"""Linear VAE / pPCA analysis of posterior collapse (Lucas et al., NeurIPS 2019)."""

from jaxml.vae.collapse import active_units, collapsed_dims
from jaxml.vae.deep_vae import (
    GaussianVAE,
    VAETrainState,
    deep_vae_elbo,
    gaussian_kl_per_dim,
    init_vae_state,
    make_vae_train_step,
)
from jaxml.vae.hessian import (
    MAX_HESSIAN_PARAMS,
    elbo_decoder_hessian,
    hessian_eigenvalues,
    ppca_decoder_hessian,
)
from jaxml.vae.linear_vae import (
    LinearVAEParams,
    linear_vae_elbo,
    linear_vae_elbo_from_cov,
    linear_vae_elbo_mc,
    linear_vae_elbo_per_example,
    linear_vae_from_decoder,
    linear_vae_init,
    linear_vae_kl_per_dim,
    linear_vae_optimal_encoder,
    linear_vae_posterior_error,
)
from jaxml.vae.ppca import (
    PPCAFit,
    covariance_eigh,
    ppca_log_likelihood,
    ppca_log_likelihood_from_cov,
    ppca_log_likelihood_per_example,
    ppca_mle,
    ppca_posterior,
    ppca_stationary_point,
    sample_covariance,
)

__all__ = [
    "GaussianVAE",
    "LinearVAEParams",
    "MAX_HESSIAN_PARAMS",
    "PPCAFit",
    "VAETrainState",
    "active_units",
    "collapsed_dims",
    "covariance_eigh",
    "deep_vae_elbo",
    "elbo_decoder_hessian",
    "gaussian_kl_per_dim",
    "hessian_eigenvalues",
    "init_vae_state",
    "linear_vae_elbo",
    "linear_vae_elbo_from_cov",
    "linear_vae_elbo_mc",
    "linear_vae_elbo_per_example",
    "linear_vae_from_decoder",
    "linear_vae_init",
    "linear_vae_kl_per_dim",
    "linear_vae_optimal_encoder",
    "linear_vae_posterior_error",
    "make_vae_train_step",
    "ppca_decoder_hessian",
    "ppca_log_likelihood",
    "ppca_log_likelihood_from_cov",
    "ppca_log_likelihood_per_example",
    "ppca_mle",
    "ppca_posterior",
    "ppca_stationary_point",
    "sample_covariance",
]
