"""Posterior-collapse metrics (Lucas et al. 2019, sec. 5: "(eps, delta)-collapse")."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxml.vae._checks import check_nonnegative


def collapsed_dims(kl_per_dim: ArrayLike, eps: float = 0.01, delta: float = 0.01) -> jax.Array:
    """Which latent dimensions are (eps, delta)-collapsed: ``[k]`` bool.

    Dimension j is collapsed when ``KL(q(z_j | x) || p(z_j)) < eps`` for at least a
    ``1 - delta`` fraction of the examples.

    Args:
        kl_per_dim: per-example, per-dimension KL ``[n, k]`` (>= 0).
        eps: KL threshold in nats, > 0.
        delta: allowed fraction of examples above the threshold, in [0, 1).
    """
    if np.ndim(kl_per_dim) != 2:
        raise ValueError(f"kl_per_dim must be [n, k]; got shape {np.shape(kl_per_dim)}")
    if not eps > 0:  # also rejects a negative eps and NaN
        raise ValueError(f"eps must be > 0, got {eps}")
    if not 0 <= delta < 1:
        raise ValueError(f"delta must be in [0, 1), got {delta}")
    kl = jnp.asarray(kl_per_dim)
    # Count, don't average: "at most delta * n examples above eps" stays exact in float32.
    above = jnp.sum(kl >= eps, axis=0)
    return above <= delta * kl.shape[0] * (1 + 1e-9)


def active_units(mean_z: ArrayLike, threshold: float = 0.01) -> jax.Array:
    """Number of active units (Burda et al. 2016): dims with ``Var_x[E_q[z_j | x]] > threshold``.

    Args:
        mean_z: encoder means ``[n, k]``.
        threshold: variance threshold (0.01 in Burda et al.), finite and >= 0.
    """
    if np.ndim(mean_z) != 2:
        raise ValueError(f"mean_z must be [n, k]; got shape {np.shape(mean_z)}")
    check_nonnegative(threshold, "threshold")
    return jnp.sum(jnp.var(jnp.asarray(mean_z), axis=0) > threshold)
