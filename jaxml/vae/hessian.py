"""Curvature at stationary points: Hessians of the pPCA log-likelihood and of the linear-VAE ELBO
with respect to the decoder W (Lucas et al. 2019, sec. 4; for small d, the Hessian is
``[d k, d k]`` and materialized).

A positive Hessian eigenvalue at a stationary point is an ascent direction: the point is a saddle
of the (maximized) objective. All eigenvalues <= 0 (up to the zero directions of the rotation
symmetry ``W -> W R``) make it a local maximum.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxml import _validation as v
from jaxml.vae.linear_vae import (
    LinearVAEParams,
    linear_vae_elbo_from_cov,
    linear_vae_optimal_encoder,
)
from jaxml.vae.ppca import _check_cov, _check_decoder, ppca_log_likelihood_from_cov

MAX_HESSIAN_PARAMS = 4096


def _check_inputs(cov, w, sigma2) -> None:
    """Checked before ``jax.hessian`` traces ``w`` (inside it a NaN would pass unnoticed)."""
    d = _check_cov(cov)
    _check_decoder(w, d, against="cov")
    v.check_positive(sigma2, "sigma2")
    size = int(np.prod(np.shape(w)))
    if size > MAX_HESSIAN_PARAMS:
        raise ValueError(
            f"w has {size} entries; the materialized Hessian is limited to "
            f"MAX_HESSIAN_PARAMS={MAX_HESSIAN_PARAMS} (use Hessian-vector products instead)"
        )


def ppca_decoder_hessian(cov: ArrayLike, w: ArrayLike, sigma2: ArrayLike) -> jax.Array:
    """Hessian ``[d k, d k]`` of the mean pPCA log-likelihood w.r.t. ``vec(W)`` (row-major).

    Args:
        cov: the data's sample covariance ``[d, d]`` (the likelihood depends on data only
            through it when mu is the data mean).
        w: decoder ``[d, k]``, e.g. from :func:`ppca_stationary_point`.
        sigma2: the fixed noise variance.
    """
    _check_inputs(cov, w, sigma2)
    w = jnp.asarray(w)
    f = lambda flat: ppca_log_likelihood_from_cov(cov, flat.reshape(w.shape), sigma2)
    return jax.hessian(f)(w.reshape(-1))


def elbo_decoder_hessian(
    cov: ArrayLike, w: ArrayLike, sigma2: ArrayLike, *, profile_encoder: bool = True
) -> jax.Array:
    """Hessian ``[d k, d k]`` of the linear-VAE ELBO w.r.t. ``vec(W)``.

    With ``profile_encoder`` (default) the encoder is the optimal one for each W
    (:func:`linear_vae_optimal_encoder`), so this is the curvature of ``max_{V,D} ELBO(W)``; else
    the encoder is held at its optimum for the given ``w``.
    """
    _check_inputs(cov, w, sigma2)
    profile_encoder = v.check_bool(profile_encoder, "profile_encoder")
    w = jnp.asarray(w)
    cov = jnp.asarray(cov)
    d, _ = w.shape
    mu = jnp.zeros((d,), w.dtype)  # cov form: mu is the data mean by construction
    log_sigma2 = jnp.log(jnp.asarray(sigma2, w.dtype))
    fixed_v, fixed_log_d = linear_vae_optimal_encoder(w, sigma2)

    def f(flat):
        ww = flat.reshape(w.shape)
        v, log_d = (
            linear_vae_optimal_encoder(ww, sigma2) if profile_encoder else (fixed_v, fixed_log_d)
        )
        return linear_vae_elbo_from_cov(LinearVAEParams(v, log_d, ww, mu, log_sigma2), cov)

    return jax.hessian(f)(w.reshape(-1))


def hessian_eigenvalues(hessian: ArrayLike) -> jax.Array:
    """Eigenvalues (ascending) of the symmetrized Hessian ``[p, p]``."""
    shape = v.check_array(hessian, "hessian", ndim=2)
    if shape[0] != shape[1]:
        raise ValueError(f"hessian must be square [p, p]; got shape {shape}")
    h = jnp.asarray(hessian)
    return jnp.linalg.eigvalsh(0.5 * (h + h.T))
