"""Probabilistic PCA (Tipping & Bishop, 1999): closed-form MLE, log-likelihood, stationary points.

Model: ``z ~ N(0, I_k)``, ``x | z ~ N(W z + mu, sigma^2 I_d)``, so ``x ~ N(mu, C)`` with
``C = W W^T + sigma^2 I``. Section 2 of Lucas et al. (2019) builds its analysis of posterior
collapse on this model: the linear VAE's ELBO has the same stationary points (Theorem 1).

Inputs are checked at entry (:mod:`jaxml._validation`): shapes always, NaN/inf and ranges when the
values are concrete. Under ``jit``/``grad``/``vmap`` they are tracers, and NaN passes through.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from jax.typing import ArrayLike

from jaxml import _validation as v

_LOG_2PI = float(np.log(2.0 * np.pi))


def _check_data(x, name: str = "x", *, min_rows: int = 2, min_cols: int = 2) -> tuple[int, int]:
    """``x`` must be a finite (when concrete) ``[n, d]`` array with enough rows and columns."""
    n, d = v.check_array(x, name, ndim=2)
    if n < min_rows or d < min_cols:
        raise ValueError(
            f"{name} must be [n, d] with n >= {min_rows} examples and d >= {min_cols} "
            f"dimensions; got shape {(n, d)}"
        )
    return n, d


def _check_decoder(w, d: int | None = None, *, against: str = "x") -> tuple[int, int]:
    """``w`` must be a finite ``[d, k]`` array with k >= 1 (and ``d`` rows when given)."""
    shape = v.check_array(w, "w", ndim=2)
    if shape[1] < 1 or (d is not None and shape[0] != d):
        want = f"[{d}, k] (d from {against})" if d is not None else "[d, k]"
        raise ValueError(f"w must be {want} with k >= 1; got shape {shape}")
    return shape


def _check_latent_dim(latent_dim, d: int) -> int:
    return v.check_int(latent_dim, "latent_dim", minimum=1, maximum=d - 1)


class PPCAFit(NamedTuple):
    """The maximum-likelihood pPCA solution (unpacks as ``w, mu, sigma2``).

    Attributes:
        w: ``[d, k]`` decoder, ``U_k (L_k - sigma^2 I)^{1/2}`` (rotation R = I).
        mu: ``[d]`` data mean.
        sigma2: scalar, the mean of the ``d - k`` discarded covariance eigenvalues.
    """

    w: jax.Array
    mu: jax.Array
    sigma2: jax.Array


def sample_covariance(x: ArrayLike) -> tuple[jax.Array, jax.Array]:
    """Mean ``[d]`` and maximum-likelihood covariance ``[d, d]`` (divided by n) of ``x [n, d]``.

    Raises:
        ValueError: if ``x`` is not 2-D, has fewer than 2 rows (one row has no spread to
            estimate) or, when concrete, holds NaN/inf.
    """
    _check_data(x, min_cols=1)
    x = jnp.asarray(x)
    mu = jnp.mean(x, axis=0)
    r = x - mu
    return mu, (r.T @ r) / x.shape[0]


def covariance_eigh(x: ArrayLike) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(mu, eigenvalues [d], eigenvectors [d, d])`` of the sample covariance, descending."""
    mu, cov = sample_covariance(x)
    evals, evecs = jnp.linalg.eigh(cov)
    return mu, evals[::-1], evecs[:, ::-1]


def ppca_mle(x: ArrayLike, latent_dim: int) -> PPCAFit:
    """Closed-form maximum-likelihood pPCA fit (Tipping & Bishop 1999, eqs. 7-8).

    ``mu`` = data mean; ``sigma2`` = mean of the ``d - k`` smallest eigenvalues of the sample
    covariance; ``W = U_k (L_k - sigma2 I)^{1/2}`` with ``U_k, L_k`` the top-k eigenpairs. Any
    ``W R`` with R orthogonal is equally optimal; this returns R = I (orthogonal columns, in
    decreasing eigenvalue order). Eigenvalues equal to ``sigma2`` give zero columns.

    Args:
        x: data ``[n, d]``, finite.
        latent_dim: k, in ``1..d-1``.

    Returns:
        :class:`PPCAFit` ``(w [d, k], mu [d], sigma2 [])``.
    """
    _, d = _check_data(x)
    k = _check_latent_dim(latent_dim, d)
    mu, evals, evecs = covariance_eigh(x)
    sigma2 = jnp.mean(evals[k:])
    scale = jnp.sqrt(jnp.maximum(evals[:k] - sigma2, 0.0))
    return PPCAFit(evecs[:, :k] * scale, mu, sigma2)


def _marginal_terms(w, sigma2):
    """Cholesky of ``M = W^T W + sigma2 I_k`` and ``log|C|`` through the k x k matrix."""
    d, k = w.shape
    m = w.T @ w + sigma2 * jnp.eye(k, dtype=w.dtype)
    chol = jnp.linalg.cholesky(m)
    logdet_c = (d - k) * jnp.log(sigma2) + 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol)))
    return chol, logdet_c


def _check_cov(cov) -> int:
    """``cov`` must be a square ``[d, d]`` array, and when concrete finite and symmetric."""
    shape = v.check_array(cov, "cov", ndim=2)
    if shape[0] != shape[1] or shape[0] < 1:
        raise ValueError(f"cov must be a square [d, d] array; got shape {shape}")
    if v.is_concrete(cov):
        c = np.asarray(cov, np.float64)
        asym = float(np.max(np.abs(c - c.T)))
        if asym > 1e-5 * max(float(np.max(np.abs(c))), 1e-30):
            raise ValueError(
                f"cov must be symmetric; got max |cov - cov^T| = {asym:.3g} "
                f"(max |cov| = {float(np.max(np.abs(c))):.3g})"
            )
    return shape[0]


def _check_model(w, mu, sigma2, d):
    _check_decoder(w, d)
    v.check_array(mu, "mu", shape=(d,))
    v.check_positive(sigma2, "sigma2")


def ppca_log_likelihood_per_example(
    x: ArrayLike, w: ArrayLike, mu: ArrayLike, sigma2: ArrayLike
) -> jax.Array:
    """``log N(x_i; mu, W W^T + sigma2 I)`` for each row of ``x [n, d]``; returns ``[n]``.

    Uses the Woodbury identity ``C^{-1} = (I - W M^{-1} W^T) / sigma2`` and
    ``log|C| = (d-k) log sigma2 + log|M|`` with ``M = W^T W + sigma2 I_k``: O(n d k + k^3), never a
    d x d solve.
    """
    _, d = _check_data(x)
    _check_model(w, mu, sigma2, d)
    x, w, mu = jnp.asarray(x), jnp.asarray(w), jnp.asarray(mu)
    chol, logdet_c = _marginal_terms(w, sigma2)
    r = x - mu
    proj = jax.scipy.linalg.solve_triangular(chol, (r @ w).T, lower=True)  # [k, n]
    quad = (jnp.sum(r * r, axis=1) - jnp.sum(proj * proj, axis=0)) / sigma2
    return -0.5 * (d * _LOG_2PI + logdet_c + quad)


def ppca_log_likelihood(x: ArrayLike, w: ArrayLike, mu: ArrayLike, sigma2: ArrayLike) -> jax.Array:
    """Mean per-example log marginal likelihood ``(1/n) sum_i log p(x_i)`` under pPCA.

    Args:
        x: data ``[n, d]``.
        w: decoder ``[d, k]``.
        mu: mean ``[d]``.
        sigma2: observation noise variance, scalar > 0.
    """
    return jnp.mean(ppca_log_likelihood_per_example(x, w, mu, sigma2))


def ppca_log_likelihood_from_cov(
    cov: ArrayLike, w: ArrayLike, sigma2: ArrayLike, *, mean_offset: ArrayLike | None = None
) -> jax.Array:
    """Mean log-likelihood from the data's sample covariance ``S [d, d]`` alone.

    ``-1/2 [d log 2 pi + log|C| + tr(C^{-1} S)]``, exact when ``mu`` is the data mean (add
    ``mean_offset = mean - mu`` otherwise). Cheap and smooth in ``w``: the form used for Hessians.

    Args:
        cov: sample covariance ``[d, d]``, symmetric, finite.
        w: decoder ``[d, k]``.
        sigma2: observation noise variance, scalar > 0.
        mean_offset: optional ``[d]``, the data mean minus the model mean.
    """
    d = _check_cov(cov)
    _check_decoder(w, d, against="cov")
    v.check_positive(sigma2, "sigma2")
    cov, w = jnp.asarray(cov), jnp.asarray(w)
    if mean_offset is not None:
        v.check_array(mean_offset, "mean_offset", shape=(d,))
        off = jnp.asarray(mean_offset)
        cov = cov + jnp.outer(off, off)
    chol, logdet_c = _marginal_terms(w, sigma2)
    a = jax.scipy.linalg.solve_triangular(chol, w.T, lower=True)  # [k, d], a^T a = W M^-1 W^T
    trace = (jnp.trace(cov) - jnp.sum((a @ cov) * a)) / sigma2
    return -0.5 * (d * _LOG_2PI + logdet_c + trace)


def ppca_stationary_point(
    x: ArrayLike, latent_dim: int, eigen_indices, sigma2: ArrayLike
) -> jax.Array:
    """The decoder ``W [d, k]`` of a stationary point of the log-likelihood at fixed ``sigma2``.

    Column j is ``u_i sqrt(max(lambda_i - sigma2, 0))`` for the j-th index i of
    ``eigen_indices`` (0 = largest eigenvalue); columns beyond ``len(eigen_indices)`` and
    columns whose eigenvalue is <= ``sigma2`` are zero (collapsed). Every such W is a
    stationary point of ``W -> log p(X | W, mu, sigma2)`` (Tipping & Bishop 1999, sec. 3.2);
    only the top-k choice with ``sigma2 < lambda_k`` is a maximum, the rest are saddles unless
    ``sigma2`` exceeds every left-out eigenvalue (Lucas et al. 2019, sec. 4).

    Args:
        x: data ``[n, d]``.
        latent_dim: k, in ``1..d-1``.
        eigen_indices: at most k distinct ints in ``0..d-1``.
        sigma2: the fixed noise variance, > 0.
    """
    _, d = _check_data(x)
    k = _check_latent_dim(latent_dim, d)
    if isinstance(eigen_indices, str | bytes):
        raise TypeError(f"eigen_indices must be a sequence of ints; got {eigen_indices!r}")
    raw = np.asarray(eigen_indices) if np.size(eigen_indices) else np.zeros((0,), np.int64)
    v.check_array(raw, "eigen_indices", ndim=(0, 1), dtype="int")
    idx = [int(i) for i in np.atleast_1d(raw)]
    if len(idx) > k:
        raise ValueError(f"eigen_indices has {len(idx)} entries; at most latent_dim={k} allowed")
    if len(set(idx)) != len(idx) or any(not 0 <= i < d for i in idx):
        raise ValueError(f"eigen_indices must be distinct ints in 0..{d - 1}; got {idx}")
    v.check_positive(sigma2, "sigma2")
    _, evals, evecs = covariance_eigh(x)
    w = jnp.zeros((d, k), dtype=evecs.dtype)
    if idx:
        sel = jnp.asarray(idx)
        cols = evecs[:, sel] * jnp.sqrt(jnp.maximum(evals[sel] - sigma2, 0.0))
        w = w.at[:, : len(idx)].set(cols)
    return w


def ppca_posterior(x: ArrayLike, w: ArrayLike, mu: ArrayLike, sigma2: ArrayLike):
    """The exact posterior ``p(z | x) = N(M^{-1} W^T (x - mu), sigma2 M^{-1})``.

    Args:
        x: data ``[n, d]`` (n >= 1), finite.
        w: decoder ``[d, k]``, finite.
        mu: mean ``[d]``, finite.
        sigma2: observation noise variance, scalar > 0.

    Returns:
        ``(mean [n, k], cov [k, k])``.
    """
    _, d = _check_data(x, min_rows=1, min_cols=1)
    _check_model(w, mu, sigma2, d)
    x, w, mu = jnp.asarray(x), jnp.asarray(w), jnp.asarray(mu)
    k = w.shape[1]
    m = w.T @ w + sigma2 * jnp.eye(k, dtype=w.dtype)
    mean = jnp.linalg.solve(m, w.T @ (x - mu).T).T
    return mean, sigma2 * jnp.linalg.inv(m)


def ppca_predicted_saddle(
    eigen_indices, latent_dim: int, eigenvalues: ArrayLike, sigma2: float
) -> bool:
    """Lucas et al. (2019), sec. 4: is the stationary point using ``eigen_indices`` a saddle?

    With k columns, a point using ``eigen_indices`` has ``k - |used & active|`` free (zero)
    columns, where a used column is active when its eigenvalue exceeds ``sigma2``. It is a saddle
    iff a left-out eigenvalue exceeds ``sigma2`` and either a free column exists or the left-out
    eigenvalue exceeds a used one (a swap increases the likelihood); otherwise (e.g. ``sigma2``
    above every left-out eigenvalue) it is a local maximum. Host-side (returns a Python bool).

    Args:
        eigen_indices: at most ``latent_dim`` distinct ints in ``0..d-1`` (0 = largest).
        latent_dim: k >= 1.
        eigenvalues: the covariance eigenvalues ``[d]``, descending, finite.
        sigma2: the fixed noise variance, > 0.
    """
    (d,) = v.check_array(eigenvalues, "eigenvalues", ndim=1, min_size=2)
    k = v.check_int(latent_dim, "latent_dim", minimum=1, maximum=d - 1)
    v.check_positive(sigma2, "sigma2")
    if isinstance(eigen_indices, str | bytes):
        raise TypeError(f"eigen_indices must be a sequence of ints; got {eigen_indices!r}")
    raw = np.asarray(eigen_indices) if np.size(eigen_indices) else np.zeros((0,), np.int64)
    v.check_array(raw, "eigen_indices", ndim=(0, 1), dtype="int")
    indices = [int(i) for i in np.atleast_1d(raw)]
    if (
        len(indices) > k
        or len(set(indices)) != len(indices)
        or not all(0 <= i < d for i in indices)
    ):
        raise ValueError(
            f"eigen_indices must be at most latent_dim={k} distinct ints in 0..{d - 1}; "
            f"got {indices}"
        )
    evals = np.asarray(eigenvalues, np.float64)
    s2 = float(sigma2)
    used = [i for i in indices if evals[i] > s2]
    left_out = [evals[j] for j in range(d) if j not in indices]
    if not left_out or max(left_out) <= s2:
        return False
    if len(used) < k:
        return True
    return bool(max(left_out) > min(evals[i] for i in used))


def principal_angles_deg(w: ArrayLike, u: ArrayLike) -> np.ndarray:
    """Principal angles (degrees, descending) between ``span(w)`` and ``span(u)``.

    ``scipy.linalg.subspace_angles`` in float64 (accurate for small angles); host-side, not
    traceable.

    Args:
        w: ``[d, k]``, finite, e.g. a learned decoder.
        u: ``[d, m]``, finite, e.g. the top-k covariance eigenvectors.

    Returns:
        ``[min(k, m)]`` angles in degrees, largest first.
    """
    d, _ = v.check_array(w, "w", ndim=2, min_size=1)
    v.check_array(u, "u", shape=(d, None), min_size=1)
    return np.degrees(
        scipy.linalg.subspace_angles(np.asarray(w, np.float64), np.asarray(u, np.float64))
    )


def decoder_column_cosines(w: ArrayLike, u: ArrayLike) -> jax.Array:
    """``|cos|`` between the columns of ``w`` (sorted by decreasing norm) and those of ``u``.

    At the pPCA/linear-VAE optimum with a diagonal encoder, column j of W lies along the j-th
    eigenvector (the diagonal D fixes the rotation ``W R``), so every cosine is ~1; a small one
    means the columns have not rotated onto the eigenvectors yet.

    Args:
        w: decoder ``[d, k]``, finite, no zero column.
        u: eigenvectors ``[d, k]`` (descending eigenvalue order), finite.

    Returns:
        ``[k]`` absolute cosines.
    """
    d, k = v.check_array(w, "w", ndim=2, min_size=1)
    v.check_array(u, "u", shape=(d, k))
    w, u = jnp.asarray(w), jnp.asarray(u)
    norms = jnp.linalg.norm(w, axis=0)
    if v.is_concrete(norms) and not bool(jnp.all(norms > 0)):
        raise ValueError("w must have no zero column (its direction is undefined)")
    order = jnp.argsort(-norms)
    cols = (w / norms)[:, order]
    return jnp.abs(jnp.sum(cols * u, axis=0))
