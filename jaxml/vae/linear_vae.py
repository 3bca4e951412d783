"""The linear VAE of Lucas et al. (2019), sec. 3: closed-form and Monte-Carlo ELBO.

Encoder ``q(z | x) = N(V (x - mu), D)`` with D diagonal; decoder ``p(x | z) = N(W z + mu,
sigma^2 I)``; prior ``p(z) = N(0, I)``. With ``r = x - mu`` and ``m = V r`` the ELBO of one x is

    E_q[log p(x|z)] - KL(q || p)
      = -d/2 log(2 pi sigma^2) - (||r - W m||^2 + tr(W D W^T)) / (2 sigma^2)
        - 1/2 sum_j (D_j + m_j^2 - 1 - log D_j).

Theorem 1 of the paper: every stationary point of this ELBO is one of pPCA's log-likelihood, and
at the global optimum (``V = M^{-1} W^T``, ``D = sigma^2 / diag(M)``, ``M = W^T W + sigma^2 I``,
W with orthogonal columns) the ELBO equals the log marginal likelihood.

Every function checks ``params`` (a :class:`LinearVAEParams` whose shapes agree with the data) and
the data at entry; NaN/inf in concrete inputs raises, while under ``jit``/``grad`` (the training
hot path) the values are tracers and NaN passes through to the loss.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxml import _validation as v
from jaxml.vae.ppca import _check_data, _check_decoder, _check_latent_dim

_LOG_2PI = float(np.log(2.0 * np.pi))


class LinearVAEParams(NamedTuple):
    """Parameters of the linear VAE (a pytree).

    Attributes:
        v: encoder matrix ``[k, d]``.
        log_d: log of the encoder's diagonal variances ``[k]``.
        w: decoder matrix ``[d, k]``.
        mu: shared mean ``[d]``.
        log_sigma2: log of the decoder's observation variance, scalar.
    """

    v: jax.Array
    log_d: jax.Array
    w: jax.Array
    mu: jax.Array
    log_sigma2: jax.Array


def linear_vae_init(
    key: jax.Array,
    data_dim: int,
    latent_dim: int,
    *,
    scale: float = 0.1,
    sigma2: float = 1.0,
    mu: ArrayLike | None = None,
) -> LinearVAEParams:
    """Random small encoder/decoder (entries ``N(0, scale^2)``), ``D = I``, given ``sigma2``.

    Args:
        key: PRNG key.
        data_dim: d >= 2.
        latent_dim: k in ``1..d-1``.
        scale: standard deviation of the entries of V and W, finite and >= 0.
        sigma2: initial observation variance, > 0.
        mu: initial mean ``[d]`` (zeros when None), finite.
    """
    v.check_key(key)
    data_dim = v.check_int(data_dim, "data_dim", minimum=2)
    k = _check_latent_dim(latent_dim, data_dim)
    v.check_nonnegative(scale, "scale")
    v.check_positive(sigma2, "sigma2")
    if mu is not None:
        v.check_array(mu, "mu", shape=(data_dim,))
    kv, kw = jax.random.split(key)
    dtype = jnp.zeros(()).dtype
    return LinearVAEParams(
        v=scale * jax.random.normal(kv, (k, data_dim), dtype),
        log_d=jnp.zeros((k,), dtype),
        w=scale * jax.random.normal(kw, (data_dim, k), dtype),
        mu=jnp.zeros((data_dim,), dtype) if mu is None else jnp.asarray(mu, dtype),
        log_sigma2=jnp.log(jnp.asarray(sigma2, dtype)),
    )


def _check_params(params: LinearVAEParams, d: int | None = None, *, against: str = "x") -> int:
    """``params`` must be a finite (when concrete) :class:`LinearVAEParams` of data dim ``d``.

    ``d`` defaults to ``params.mu``'s length; a different ``d`` (from ``against``) is reported
    as a mismatch of ``against``. Returns d.
    """
    if not isinstance(params, LinearVAEParams):
        raise TypeError(f"params must be a LinearVAEParams; got {type(params).__name__}")
    d_params = np.shape(params.mu)[0] if np.ndim(params.mu) == 1 else None
    if d is not None and d_params is not None and d != d_params:
        raise ValueError(
            f"{against} must have d = {d_params} columns to match params (params.mu has shape "
            f"{np.shape(params.mu)}); got d = {d}"
        )
    d = d_params if d is None else d
    k = np.shape(params.v)[0] if np.ndim(params.v) == 2 else -1
    expected = {"v": (k, d), "log_d": (k,), "w": (d, k), "mu": (d,), "log_sigma2": ()}
    for name, shape in expected.items():
        if np.shape(getattr(params, name)) != shape:
            raise ValueError(
                f"params.{name} must have shape {shape} for data dimension d={d} and latent "
                f"dimension k={k}; got {np.shape(getattr(params, name))}"
            )
    v.check_tree_finite(params, "params")
    return d


def linear_vae_kl_per_dim(params: LinearVAEParams, x: ArrayLike) -> jax.Array:
    """``KL(q(z_j | x_i) || N(0, 1))`` for every example and latent dimension: ``[n, k]``."""
    _, d = _check_data(x)
    _check_params(params, d)
    m = (jnp.asarray(x) - params.mu) @ params.v.T
    dvar = jnp.exp(params.log_d)
    return 0.5 * (dvar + m * m - 1.0 - params.log_d)


def linear_vae_elbo_per_example(params: LinearVAEParams, x: ArrayLike) -> jax.Array:
    """The closed-form ELBO of each row of ``x [n, d]``: ``[n]``."""
    _, d = _check_data(x)
    _check_params(params, d)
    x = jnp.asarray(x)
    sigma2 = jnp.exp(params.log_sigma2)
    dvar = jnp.exp(params.log_d)
    r = x - params.mu
    m = r @ params.v.T  # [n, k]
    resid = r - m @ params.w.T
    trace = jnp.sum(params.w * params.w * dvar)  # tr(W D W^T)
    recon = -0.5 * (
        d * (_LOG_2PI + params.log_sigma2) + (jnp.sum(resid * resid, axis=1) + trace) / sigma2
    )
    kl = 0.5 * jnp.sum(dvar + m * m - 1.0 - params.log_d, axis=1)
    return recon - kl


def linear_vae_elbo(params: LinearVAEParams, x: ArrayLike) -> jax.Array:
    """Mean per-example ELBO of the linear VAE over ``x [n, d]``, in closed form."""
    return jnp.mean(linear_vae_elbo_per_example(params, x))


def linear_vae_elbo_mc(
    params: LinearVAEParams,
    x: ArrayLike,
    key: jax.Array,
    num_samples: int = 1,
    *,
    analytic_kl: bool = False,
) -> jax.Array:
    """Reparameterized Monte-Carlo estimate of :func:`linear_vae_elbo`.

    ``z = V (x - mu) + D^{1/2} eps`` with ``eps ~ N(0, I)``, ``num_samples`` draws per example;
    the estimate is the mean of ``log p(x|z) + log p(z) - log q(z|x)`` (or, with
    ``analytic_kl``, of ``log p(x|z)`` minus the closed-form KL, a lower-variance estimator).
    Unbiased: its expectation over ``key`` is the closed form.
    """
    _, d = _check_data(x)
    _check_params(params, d)
    v.check_key(key)
    num_samples = v.check_int(num_samples, "num_samples", minimum=1)
    analytic_kl = v.check_bool(analytic_kl, "analytic_kl")
    x = jnp.asarray(x)
    n, k = x.shape[0], params.v.shape[0]
    sigma2 = jnp.exp(params.log_sigma2)
    std = jnp.exp(0.5 * params.log_d)
    m = (x - params.mu) @ params.v.T
    eps = jax.random.normal(key, (num_samples, n, k), dtype=x.dtype)
    z = m + std * eps
    resid = x - params.mu - z @ params.w.T
    log_px_z = -0.5 * (d * (_LOG_2PI + params.log_sigma2) + jnp.sum(resid**2, axis=-1) / sigma2)
    if analytic_kl:
        kl = 0.5 * jnp.sum(jnp.exp(params.log_d) + m * m - 1.0 - params.log_d, axis=-1)
        return jnp.mean(log_px_z - kl)
    log_pz = -0.5 * jnp.sum(z * z + _LOG_2PI, axis=-1)
    log_qz = -0.5 * jnp.sum(eps * eps + _LOG_2PI + params.log_d, axis=-1)
    return jnp.mean(log_px_z + log_pz - log_qz)


def linear_vae_optimal_encoder(w: ArrayLike, sigma2: ArrayLike) -> tuple[jax.Array, jax.Array]:
    """The encoder maximizing the ELBO for a fixed decoder: ``(V [k, d], log D [k])``.

    ``V = M^{-1} W^T`` (the exact posterior mean map) and ``D = sigma2 / diag(M)`` with
    ``M = W^T W + sigma2 I``. When W has orthogonal columns, ``q`` equals the exact posterior
    and the ELBO equals the log marginal likelihood.

    Args:
        w: decoder ``[d, k]``, finite.
        sigma2: observation noise variance, scalar > 0.
    """
    _check_decoder(w)
    v.check_positive(sigma2, "sigma2")
    w = jnp.asarray(w)
    k = w.shape[1]
    m = w.T @ w + sigma2 * jnp.eye(k, dtype=w.dtype)
    enc = jnp.linalg.solve(m, w.T)
    return enc, jnp.log(sigma2 / jnp.diagonal(m))


def linear_vae_from_decoder(w: ArrayLike, mu: ArrayLike, sigma2: ArrayLike) -> LinearVAEParams:
    """The linear VAE with decoder ``(w, mu, sigma2)`` and its optimal encoder.

    Args:
        w: decoder ``[d, k]``, finite.
        mu: mean ``[d]``, finite.
        sigma2: observation noise variance, scalar > 0.
    """
    d, _ = _check_decoder(w)
    v.check_array(mu, "mu", shape=(d,))
    enc, log_d = linear_vae_optimal_encoder(w, sigma2)
    sigma2 = jnp.asarray(sigma2, dtype=jnp.asarray(w).dtype)
    return LinearVAEParams(enc, log_d, jnp.asarray(w), jnp.asarray(mu), jnp.log(sigma2))


def linear_vae_elbo_from_cov(params: LinearVAEParams, cov: ArrayLike) -> jax.Array:
    """Mean ELBO from the sample covariance ``S [d, d]`` alone (exact when ``params.mu`` is the
    data mean): the data enter the ELBO only through ``S``, since
    ``mean ||r - W V r||^2 = tr((I - W V) S (I - W V)^T)`` and ``mean m m^T = V S V^T``.
    """
    shape = v.check_array(cov, "cov", ndim=2)
    if shape[0] != shape[1]:
        raise ValueError(f"cov must be a square [d, d] array; got shape {shape}")
    d = _check_params(params, shape[0], against="cov")
    cov = jnp.asarray(cov)
    sigma2 = jnp.exp(params.log_sigma2)
    dvar = jnp.exp(params.log_d)
    a = jnp.eye(d, dtype=cov.dtype) - params.w @ params.v
    recon_sq = jnp.sum((a @ cov) * a)
    trace = jnp.sum(params.w * params.w * dvar)
    m2 = jnp.sum((params.v @ cov) * params.v, axis=1)  # diag(V S V^T)
    recon = -0.5 * (d * (_LOG_2PI + params.log_sigma2) + (recon_sq + trace) / sigma2)
    return recon - 0.5 * jnp.sum(dvar + m2 - 1.0 - params.log_d)


def linear_vae_posterior_error(params: LinearVAEParams, x: ArrayLike) -> dict[str, jax.Array]:
    """How far the encoder is from the exact pPCA posterior of its own decoder, on data ``x``.

    The exact posterior of the decoder ``(W, mu, sigma^2)`` is ``N(M^{-1} W^T (x - mu),
    sigma^2 M^{-1})`` with ``M = W^T W + sigma^2 I`` (:func:`jaxml.vae.ppca_posterior`); the
    encoder is ``N(V (x - mu), D)``. Theorem 1 of Lucas et al. (2019): at the ELBO's global
    optimum the two coincide (W has orthogonal columns, so ``sigma^2 M^{-1}`` is diagonal).

    The mean error is measured on the data, ``||V r - M^{-1} W^T r||`` over the rows r of
    ``x - mu``: directions of V along which the data never vary do not enter the ELBO, so nothing
    identifies them (e.g. the always-zero corner pixels of 8x8 digits).

    Args:
        params: the linear VAE.
        x: data ``[n, d]``.

    Returns:
        ``{"mean_rel_err": ||q means - posterior means||_F / ||posterior means||_F,
        "cov_rel_err": ||diag(D) - sigma^2 M^{-1}||_F / ||sigma^2 M^{-1}||_F,
        "var_max_rel_err": max_j |D_j / (sigma^2 M^{-1})_jj - 1|}``, scalars.
    """
    _, d = _check_data(x)
    _check_params(params, d)
    x = jnp.asarray(x)
    w = params.w
    sigma2 = jnp.exp(params.log_sigma2)
    k = w.shape[1]
    m = w.T @ w + sigma2 * jnp.eye(k, dtype=w.dtype)
    r = x - params.mu
    post_mean = jnp.linalg.solve(m, w.T @ r.T).T  # [n, k]
    post_cov = sigma2 * jnp.linalg.inv(m)
    q_mean = r @ params.v.T
    q_var = jnp.exp(params.log_d)
    mean_err = jnp.linalg.norm(q_mean - post_mean) / jnp.linalg.norm(post_mean)
    cov_err = jnp.linalg.norm(jnp.diag(q_var) - post_cov) / jnp.linalg.norm(post_cov)
    var_err = jnp.max(jnp.abs(q_var / jnp.diagonal(post_cov) - 1.0))
    return {"mean_rel_err": mean_err, "cov_rel_err": cov_err, "var_max_rel_err": var_err}


def linear_vae_encoder_mismatch(params: LinearVAEParams) -> dict[str, jax.Array]:
    """How far the encoder is from the ELBO-optimal encoder of its own decoder (all directions).

    Unlike :func:`linear_vae_posterior_error` (measured on data), this compares the parameters
    themselves, including directions along which the data never vary.

    Args:
        params: the linear VAE.

    Returns:
        ``{"encoder_v_rel_err": ||V - M^{-1} W^T||_F / ||M^{-1} W^T||_F,
        "encoder_d_max_rel_err": max_j |D_j / (sigma^2 / M_jj) - 1|,
        "decoder_offdiag_gram_rel": ||offdiag(W^T W)||_F / ||W^T W||_F}``, scalars (the last is
        0 when W has orthogonal columns, as at the optimum).
    """
    _check_params(params)
    sigma2 = jnp.exp(params.log_sigma2)
    v_opt, log_d_opt = linear_vae_optimal_encoder(params.w, sigma2)
    v_err = jnp.linalg.norm(params.v - v_opt) / jnp.linalg.norm(v_opt)
    d_err = jnp.max(jnp.abs(jnp.exp(params.log_d - log_d_opt) - 1.0))
    w_gram = params.w.T @ params.w
    off = w_gram - jnp.diag(jnp.diagonal(w_gram))
    return {
        "encoder_v_rel_err": v_err,
        "encoder_d_max_rel_err": d_err,
        "decoder_offdiag_gram_rel": jnp.linalg.norm(off) / jnp.linalg.norm(w_gram),
    }
