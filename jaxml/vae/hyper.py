"""The linear VAE with its decoder variance as a hyperparameter (for :mod:`jaxml.implicit`).

Lucas et al. (2019) show that posterior collapse of the linear VAE is set by the observation
variance sigma^2: at a fixed sigma^2, the ELBO's optimum zeroes every decoder column whose data
covariance eigenvalue is <= sigma^2. Treating ``log sigma^2`` as a hyperparameter ``h`` and the
rest of the model as the inner parameters turns "which sigma^2 avoids collapse" into a bilevel
problem (Lorraine et al. 2020):

    h* = argmin_h  -ELBO_val(theta*(h), h),   theta*(h) = argmin_theta  -ELBO_train(theta, h),

whose hypergradient :func:`jaxml.implicit.hypergradient` computes from
:func:`linear_vae_sigma2_loss` (both levels use it, on different data). The outcome is judged by
:func:`linear_vae_heldout`: the closed-form pPCA log marginal likelihood of the decoder and the
(eps, delta)-collapsed fraction of the latent dimensions on held-out data.
"""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxml import _validation as v
from jaxml.vae.collapse import collapsed_dims
from jaxml.vae.linear_vae import (
    LinearVAEParams,
    _check_params,
    linear_vae_elbo,
    linear_vae_kl_per_dim,
)
from jaxml.vae.ppca import _check_data, ppca_log_likelihood

__all__ = ["linear_vae_heldout", "linear_vae_sigma2_loss"]


def _check_log_sigma2(log_sigma2) -> None:
    v.check_array(log_sigma2, "log_sigma2", shape=())


def linear_vae_sigma2_loss(
    params: LinearVAEParams, log_sigma2: ArrayLike, x: ArrayLike
) -> jax.Array:
    """Negative mean closed-form ELBO of ``x [n, d]`` with the decoder variance ``exp(log_sigma2)``.

    The ``train_loss`` / ``val_loss`` of a bilevel problem over ``h = log sigma^2``: it equals
    ``-linear_vae_elbo(params._replace(log_sigma2=log_sigma2), x)``. ``params.log_sigma2`` is
    not read, so its gradient is exactly 0 and an optax optimizer (SGD, Adam) leaves it unchanged;
    the Hessian's row for it is 0 too, which CG / Neumann never excite (the validation gradient
    has no component there either).

    Args:
        params: the linear VAE (:class:`LinearVAEParams`, shapes agreeing with ``x``).
        log_sigma2: scalar ``[]``, the log observation variance (the hyperparameter).
        x: data ``[n, d]``.

    Returns:
        Scalar ``-(1/n) sum_i ELBO(x_i)`` in nats per example.
    """
    _check_params(params)
    _check_log_sigma2(log_sigma2)
    p = params._replace(log_sigma2=jnp.asarray(log_sigma2, jnp.result_type(params.mu)))
    return -linear_vae_elbo(p, x)


def linear_vae_heldout(
    params: LinearVAEParams, x: ArrayLike, *, eps: float = 0.01, delta: float = 0.01
) -> dict[str, jax.Array]:
    """Held-out evaluation of a linear VAE: likelihood, ELBO and collapse on ``x [n, d]``.

    Jit-safe (``eps``/``delta`` static). The log-likelihood is the exact pPCA marginal
    ``log N(x; mu, W W^T + sigma^2 I)`` of the decoder (:func:`jaxml.vae.ppca_log_likelihood`),
    which does not depend on the encoder; the ELBO is its lower bound through the encoder.

    Args:
        params: the linear VAE.
        x: held-out data ``[n, d]``.
        eps, delta: the (eps, delta)-collapse thresholds of :func:`jaxml.vae.collapsed_dims`.

    Returns:
        ``{"log_likelihood": [], "elbo": [], "collapsed_fraction": [], "collapsed": [k] bool,
        "kl_per_dim": [k] mean KL of each latent dimension, "sigma2": []}``.
    """
    _, d = _check_data(x)
    _check_params(params, d)
    v.check_positive(eps, "eps")
    v.check_scalar(delta, "delta", minimum=0.0, maximum=1.0, max_open=True)
    sigma2 = jnp.exp(params.log_sigma2)
    kl = linear_vae_kl_per_dim(params, x)
    collapsed = collapsed_dims(kl, eps, delta)
    return {
        "log_likelihood": ppca_log_likelihood(x, params.w, params.mu, sigma2),
        "elbo": linear_vae_elbo(params, x),
        "collapsed_fraction": jnp.mean(collapsed.astype(kl.dtype)),
        "collapsed": collapsed,
        "kl_per_dim": jnp.mean(kl, axis=0),
        "sigma2": sigma2,
    }
