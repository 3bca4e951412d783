"""A deep Gaussian VAE (MLP encoder and decoder) with fixed or learned observation variance.

Lucas et al. (2019), sec. 5-6: with a Gaussian decoder ``p(x|z) = N(f(z), sigma^2 I)``, the
observation variance sigma^2 sets how many latent dimensions collapse; learning it from a small
initial value avoids collapse, a large initial value may not. Everything here is a pure function;
the training step is vmappable over configurations (sigma^2 values, learn / fixed flags), so a
whole sweep trains as one compiled program.
"""

from collections.abc import Sequence
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml import _validation as v
from jaxml._validation import PyTree

_LOG_2PI = float(np.log(2.0 * np.pi))


class GaussianVAE(nn.Module):
    """MLP encoder ``x -> (mean, log_var) [n, k]`` and MLP decoder ``z -> x_mean [n, d]``.

    Attributes:
        data_dim: d.
        latent_dim: k.
        hidden: widths of the hidden layers (mirrored in the decoder).
    """

    data_dim: int
    latent_dim: int
    hidden: Sequence[int] = (256, 256)

    def __post_init__(self):
        v.check_int(self.data_dim, "data_dim", minimum=1)
        v.check_int(self.latent_dim, "latent_dim", minimum=1)
        if not isinstance(self.hidden, Sequence) or isinstance(self.hidden, str):
            raise TypeError(f"hidden must be a sequence of ints; got {self.hidden!r}")
        for h in self.hidden:
            v.check_int(h, "hidden", minimum=1)
        super().__post_init__()

    def setup(self):
        self.enc = [nn.Dense(h, name=f"enc_{i}") for i, h in enumerate(self.hidden)]
        self.enc_out = nn.Dense(2 * self.latent_dim, name="enc_out")
        self.dec = [nn.Dense(h, name=f"dec_{i}") for i, h in enumerate(reversed(self.hidden))]
        self.dec_out = nn.Dense(self.data_dim, name="dec_out")

    def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Returns the posterior mean and log variance, each ``[n, k]``."""
        h = x
        for layer in self.enc:
            h = nn.relu(layer(h))
        out = self.enc_out(h)
        return out[..., : self.latent_dim], out[..., self.latent_dim :]

    def decode(self, z: jax.Array) -> jax.Array:
        """Returns the decoder mean ``[n, d]``."""
        h = z
        for layer in self.dec:
            h = nn.relu(layer(h))
        return self.dec_out(h)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Reconstruction of ``x [n, data_dim]`` through the encoder mean: ``[n, data_dim]``."""
        _check_width(x, self.data_dim)
        mean, _ = self.encode(x)
        return self.decode(mean)


class VAETrainState(NamedTuple):
    """State of :func:`make_vae_train_step` (a pytree; vmappable over configurations).

    Attributes:
        params: the network's parameters.
        log_sigma2: log observation variance, scalar.
        learn_sigma2: 1.0 to learn ``log_sigma2``, 0.0 to hold it fixed (an array, not a bool,
            so a sweep can mix both under ``vmap``).
        opt_state: optax state over ``(params, log_sigma2)``.
        step: int32 update count.
    """

    params: PyTree
    log_sigma2: jax.Array
    learn_sigma2: jax.Array
    opt_state: PyTree
    step: jax.Array


def _check_width(x, data_dim: int) -> None:
    shape = v.check_array(x, "x", ndim=2)
    if shape[1] != data_dim:
        raise ValueError(f"x must be [n, data_dim] = [n, {data_dim}]; got shape {shape}")


def _check_model(model) -> None:
    if not isinstance(model, GaussianVAE):
        raise TypeError(f"model must be a GaussianVAE; got {type(model).__name__}")


def gaussian_kl_per_dim(mean: jax.Array, log_var: jax.Array) -> jax.Array:
    """``KL(N(mean, exp(log_var)) || N(0, 1))`` elementwise: ``[n, k]``.

    Args:
        mean, log_var: the Gaussians' means and log variances, same shape (checked finite when
            concrete; passed through under jit).
    """
    shape = v.check_array(mean, "mean")
    v.check_array(log_var, "log_var", shape=shape)
    mean, log_var = jnp.asarray(mean), jnp.asarray(log_var)
    return 0.5 * (jnp.exp(log_var) + mean * mean - 1.0 - log_var)


def deep_vae_elbo(
    model: GaussianVAE,
    params: PyTree,
    log_sigma2: jax.Array,
    x: jax.Array,
    key: jax.Array,
    num_samples: int = 1,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean per-example ELBO (reparameterized reconstruction, analytic KL) and diagnostics.

    Args:
        model: the :class:`GaussianVAE`.
        params: its parameters.
        log_sigma2: log observation variance, a scalar (any finite real).
        x: data ``[n, model.data_dim]``.
        key: PRNG key of the reparameterization noise.
        num_samples: samples of z per example, an int >= 1.

    Returns:
        ``(elbo, {"recon": mean log p(x|z), "kl": mean KL, "kl_per_dim": [n, k]})``.
    """
    _check_model(model)
    _check_width(x, model.data_dim)
    v.check_scalar(log_sigma2, "log_sigma2")
    v.check_key(key)
    num_samples = v.check_int(num_samples, "num_samples", minimum=1)
    v.check_tree_finite(params, "params")
    mean, log_var = model.apply(params, x, method=GaussianVAE.encode)
    eps = jax.random.normal(key, (num_samples, *mean.shape), mean.dtype)
    z = mean + jnp.exp(0.5 * log_var) * eps
    x_mean = model.apply(params, z, method=GaussianVAE.decode)
    d = x.shape[-1]
    sq = jnp.sum((x - x_mean) ** 2, axis=-1)
    recon = -0.5 * (d * (_LOG_2PI + log_sigma2) + sq / jnp.exp(log_sigma2))
    kl_dim = gaussian_kl_per_dim(mean, log_var)
    kl = jnp.sum(kl_dim, axis=-1)
    elbo = jnp.mean(recon) - jnp.mean(kl)
    return elbo, {"recon": jnp.mean(recon), "kl": jnp.mean(kl), "kl_per_dim": kl_dim}


def init_vae_state(
    model: GaussianVAE,
    optimizer: optax.GradientTransformation,
    key: jax.Array,
    sigma2: jax.Array | float,
    learn_sigma2: jax.Array | bool,
) -> VAETrainState:
    """Initial :class:`VAETrainState` with observation variance ``sigma2`` (> 0).

    Args:
        model: the :class:`GaussianVAE`.
        optimizer: the optax optimizer over ``(params, log_sigma2)``.
        key: PRNG key of the parameter init.
        sigma2: initial observation variance, a scalar; checked finite and > 0 when concrete
            (inside ``vmap``/``jit`` it is a tracer and passes unchecked).
        learn_sigma2: a scalar, 1.0 (or True) to learn sigma^2, 0.0 (False) to hold it fixed.
    """
    _check_model(model)
    v.check_optimizer(optimizer)
    v.check_key(key)
    v.check_positive(sigma2, "sigma2")
    if isinstance(learn_sigma2, bool | np.bool_):
        learn_sigma2 = float(learn_sigma2)
    v.check_scalar(learn_sigma2, "learn_sigma2", minimum=0.0, maximum=1.0)
    if v.is_concrete(learn_sigma2) and float(learn_sigma2) not in (0.0, 1.0):
        raise ValueError(f"learn_sigma2 must be 0/False or 1/True; got {learn_sigma2}")
    params = model.init(key, jnp.zeros((1, model.data_dim)))
    log_sigma2 = jnp.log(jnp.asarray(sigma2, jnp.float32))
    opt_state = optimizer.init((params, log_sigma2))
    return VAETrainState(
        params,
        log_sigma2,
        jnp.asarray(learn_sigma2, jnp.float32),
        opt_state,
        jnp.zeros((), jnp.int32),
    )


def make_vae_train_step(model: GaussianVAE, optimizer: optax.GradientTransformation):
    """Builds ``step(state, x_batch, key) -> (state, {"elbo", "recon", "kl", "sigma2"})``.

    One optax step ascending the ELBO over ``(params, log_sigma2)``; the ``log_sigma2`` gradient is
    multiplied by ``state.learn_sigma2`` (0 holds it fixed). Jit-safe; under jit a NaN batch or
    state passes through (the caller's loop stops on a non-finite ELBO).
    """
    _check_model(model)
    v.check_optimizer(optimizer)

    def loss_fn(trainable, x, key):
        params, log_sigma2 = trainable
        elbo, aux = deep_vae_elbo(model, params, log_sigma2, x, key)
        return -elbo, aux

    def step(state: VAETrainState, x: jax.Array, key: jax.Array):
        trainable = (state.params, state.log_sigma2)
        (loss, aux), (g_params, g_log_s2) = jax.value_and_grad(loss_fn, has_aux=True)(
            trainable, x, key
        )
        grads = (g_params, g_log_s2 * state.learn_sigma2)
        updates, opt_state = optimizer.update(grads, state.opt_state, trainable)
        params, log_sigma2 = optax.apply_updates(trainable, updates)
        new = VAETrainState(params, log_sigma2, state.learn_sigma2, opt_state, state.step + 1)
        return new, {
            "elbo": -loss,
            "recon": aux["recon"],
            "kl": aux["kl"],
            "sigma2": jnp.exp(state.log_sigma2),
        }

    return step
