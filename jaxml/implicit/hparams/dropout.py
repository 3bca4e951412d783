"""Per-unit dropout rates as hyperparameters, relaxed so they are differentiable.

Rates live in logit space. The mask is the concrete / relaxed-Bernoulli relaxation (Maddison et
al. 2017; "concrete dropout", Gal et al. 2017): with ``u ~ U(0, 1)`` and temperature t,
``drop = sigmoid((logit(p) + log u - log(1 - u)) / t)`` and ``y = x * (1 - drop) / (1 - p)``,
which tends to hard Bernoulli(p) dropout as t -> 0 and keeps ``E[y] ~= x``.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxml import _validation as chk


def init_dropout_logits(num_units: int, rate: float = 0.1) -> jax.Array:
    """``[num_units]`` logits, all ``logit(rate)``; rate in (0, 1)."""
    num_units = chk.check_int(num_units, "num_units", minimum=1)
    chk.check_scalar(rate, "rate", minimum=0.0, maximum=1.0, min_open=True, max_open=True)
    return jnp.full((num_units,), float(np.log(rate) - np.log1p(-rate)), jnp.float32)


def relaxed_dropout(
    key: jax.Array, x: jax.Array, logit_rate: jax.Array, *, temperature: float = 0.1
) -> jax.Array:
    """Applies relaxed dropout with per-unit rates ``sigmoid(logit_rate)`` to ``x [..., units]``.

    Differentiable in ``logit_rate`` (and ``x``); ``logit_rate`` broadcasts against ``x``.
    """
    chk.check_key(key)
    chk.check_array(x, "x", min_ndim=1, dtype="float")
    chk.check_array(logit_rate, "logit_rate", dtype="float")
    chk.check_positive(temperature, "temperature")
    if jnp.shape(logit_rate) and jnp.shape(logit_rate)[-1] != jnp.shape(x)[-1]:
        raise ValueError(
            f"logit_rate has {jnp.shape(logit_rate)[-1]} units but x has {jnp.shape(x)[-1]}"
        )
    eps = 1e-7
    u = jax.random.uniform(key, jnp.shape(x), minval=eps, maxval=1.0 - eps)
    drop = jax.nn.sigmoid((logit_rate + jnp.log(u) - jnp.log1p(-u)) / temperature)
    keep_prob = jax.nn.sigmoid(-logit_rate)
    return x * (1.0 - drop) / keep_prob
