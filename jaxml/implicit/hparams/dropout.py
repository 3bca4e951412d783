"""Per-unit dropout rates as hyperparameters, relaxed so they are differentiable.

Rates live in logit space. The mask is the concrete / relaxed-Bernoulli relaxation (Maddison et
al. 2017; "concrete dropout", Gal et al. 2017): with ``u ~ U(0, 1)`` and temperature t,
``drop = sigmoid((logit(p) + log u - log(1 - u)) / t)`` and ``y = x * (1 - drop) / (1 - p)``,
which tends to hard Bernoulli(p) dropout as t -> 0 and keeps ``E[y] ~= x``.
"""

import jax
import jax.numpy as jnp
import numpy as np


def init_dropout_logits(num_units: int, rate: float = 0.1) -> jax.Array:
    """``[num_units]`` logits, all ``logit(rate)``; rate in (0, 1)."""
    if not 0 < rate < 1:
        raise ValueError(f"rate must be in (0, 1), got {rate}")
    if num_units < 1:
        raise ValueError(f"num_units must be >= 1, got {num_units}")
    return jnp.full((num_units,), float(np.log(rate) - np.log1p(-rate)), jnp.float32)


def relaxed_dropout(
    key: jax.Array, x: jax.Array, logit_rate: jax.Array, *, temperature: float = 0.1
) -> jax.Array:
    """Applies relaxed dropout with per-unit rates ``sigmoid(logit_rate)`` to ``x [..., units]``.

    Differentiable in ``logit_rate`` (and ``x``); ``logit_rate`` broadcasts against ``x``.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if jnp.shape(logit_rate) and jnp.shape(logit_rate)[-1] != jnp.shape(x)[-1]:
        raise ValueError(
            f"logit_rate has {jnp.shape(logit_rate)[-1]} units but x has {jnp.shape(x)[-1]}")
    eps = 1e-7
    u = jax.random.uniform(key, jnp.shape(x), minval=eps, maxval=1.0 - eps)
    drop = jax.nn.sigmoid((logit_rate + jnp.log(u) - jnp.log1p(-u)) / temperature)
    keep_prob = jax.nn.sigmoid(-logit_rate)
    return x * (1.0 - drop) / keep_prob
