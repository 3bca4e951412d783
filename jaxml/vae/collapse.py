"""Posterior-collapse metrics (Lucas et al. 2019, sec. 5: "(eps, delta)-collapse") and the linear
model's prediction of how much collapses at a given observation variance (sec. 4)."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxml import _validation as v


def collapsed_dims(kl_per_dim: ArrayLike, eps: float = 0.01, delta: float = 0.01) -> jax.Array:
    """Which latent dimensions are (eps, delta)-collapsed: ``[k]`` bool.

    Dimension j is collapsed when ``KL(q(z_j | x) || p(z_j)) < eps`` for at least a
    ``1 - delta`` fraction of the examples.

    Args:
        kl_per_dim: per-example, per-dimension KL ``[n, k]`` (>= 0; checked finite and >= 0
            when concrete, passed through under jit).
        eps: KL threshold in nats, > 0.
        delta: allowed fraction of examples above the threshold, in [0, 1).
    """
    v.check_array(kl_per_dim, "kl_per_dim", ndim=2, minimum=0.0)
    v.check_positive(eps, "eps")
    v.check_scalar(delta, "delta", minimum=0.0, maximum=1.0, max_open=True)
    kl = jnp.asarray(kl_per_dim)
    # Count, don't average: "at most delta * n examples above eps" stays exact in float32.
    above = jnp.sum(kl >= eps, axis=0)
    return above <= delta * kl.shape[0] * (1 + 1e-9)


def active_units(mean_z: ArrayLike, threshold: float = 0.01) -> jax.Array:
    """Number of active units (Burda et al. 2016): dims with ``Var_x[E_q[z_j | x]] > threshold``.

    Args:
        mean_z: encoder means ``[n, k]`` (checked finite when concrete).
        threshold: variance threshold (0.01 in Burda et al.), finite and >= 0.
    """
    v.check_array(mean_z, "mean_z", ndim=2)
    v.check_nonnegative(threshold, "threshold")
    return jnp.sum(jnp.var(jnp.asarray(mean_z), axis=0) > threshold)


def linear_collapse_prediction(eigenvalues: ArrayLike, sigma2: float, latent_dim: int) -> float:
    """pPCA with fixed sigma^2: the share of the top-``latent_dim`` eigenvalues that are <= sigma^2.

    The fixed-sigma^2 pPCA optimum is ``W = U_k (L_k - sigma^2 I)_+^(1/2)``: a column whose
    eigenvalue is <= sigma^2 is zero, i.e. that latent dimension is collapsed (Lucas et al. sec. 4).
    Host-side (returns a Python float).

    Args:
        eigenvalues: the data covariance's eigenvalues ``[d]``, descending, finite.
        sigma2: the fixed observation variance, > 0.
        latent_dim: k, in ``1..d``.
    """
    (d,) = v.check_array(eigenvalues, "eigenvalues", ndim=1, min_size=1)
    v.check_positive(sigma2, "sigma2")
    k = v.check_int(latent_dim, "latent_dim", minimum=1, maximum=d)
    top = np.asarray(eigenvalues)[:k]
    return float(np.mean(top <= sigma2))


def linear_band(linear: ArrayLike, steps: int) -> list[tuple[float, float]]:
    """Per grid point i, ``(min, max)`` of ``linear[i - steps : i + steps + 1]``.

    The tolerance band of a curve measured on a grid: a value at grid point i lies "within
    ``steps`` grid steps" of the curve when it is inside the band, i.e. the curve shifted by at
    most ``steps`` grid points passes through it.

    Args:
        linear: the curve's values on the grid ``[g]``, finite.
        steps: the allowed shift in grid points, >= 0.

    Returns:
        ``g`` pairs ``(low, high)``.
    """
    v.check_array(linear, "linear", ndim=1, min_size=1)
    steps = v.check_int(steps, "steps", minimum=0)
    values = [float(x) for x in np.asarray(linear)]
    return [
        (
            min(values[max(i - steps, 0) : i + steps + 1]),
            max(values[max(i - steps, 0) : i + steps + 1]),
        )
        for i in range(len(values))
    ]
