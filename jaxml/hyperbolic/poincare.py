"""The Poincare ball: distance, Mobius (gyrovector) operations, exponential and log maps.

The ball of curvature ``-c`` (``c > 0``, default 1) is ``B_c^d = {x in R^d : c |x|^2 < 1}`` with
the metric ``g_x = lambda_x^2 I``, ``lambda_x = 2 / (1 - c |x|^2)`` (the conformal factor). The
formulas are those of Ganea, Becigneul & Hofmann, "Hyperbolic Neural Networks" (NeurIPS 2018),
Sec. 2, and Nickel & Kiela (2017), Eq. 1:

* distance ``d_c(x, y) = (2 / sqrt c) artanh(sqrt c |(-x) (+) y|)``, computed as the equivalent
  ``(2 / sqrt c) asinh(sqrt c |x - y| / sqrt((1 - c|x|^2)(1 - c|y|^2)))`` (for c = 1 this is
  ``arcosh(1 + 2|x-y|^2 / ((1-|x|^2)(1-|y|^2)))``), which has no cancellation near ``x = y``;
* Mobius addition ``x (+) y``, scalar multiplication ``r (x) x``, matrix-vector product
  ``M (x) x = exp_0(M log_0(x))``;
* ``exp_x``, ``log_x`` and their versions at the origin.

Every function maps over leading axes: points are ``[..., d]``.

Numerical contract (float32 and float64):

* The denominators ``1 - c|x|^2`` are clamped below at ``finfo(dtype).eps`` and ``artanh`` is
  evaluated at ``min(sqrt(c)|x|, 1 - eps)``, so values and gradients are finite for every point
  up to norm ``(1 - 1e-7) / sqrt(c)`` in float32 and for identical points (``distance(x, x) = 0``
  with gradient 0, the subgradient of a norm at 0).
* Functions that return points (``mobius_add``, ``expmap``, ...) clip their output to norm
  ``<= (1 - eps) / sqrt(c)``, eps = ``finfo(dtype).eps``, so that rounding never leaves the ball.
* Points outside the open ball are rejected: a concrete (non-traced) input with
  ``|x| >= 1/sqrt(c)`` or a NaN raises ``ValueError`` naming the argument, before any tracing.
  Under ``jit``/``vmap`` values cannot be checked; such points are then treated as lying on the
  boundary (the clamps above), which is finite but meaningless: call :func:`project` first.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxml._validation import check_array, is_concrete
from jaxml.hyperbolic._checks import check_curvature, check_points, check_same_dim

__all__ = [
    "centroid",
    "conformal_factor",
    "distance",
    "expmap",
    "expmap0",
    "from_hyperboloid",
    "logmap",
    "logmap0",
    "mobius_add",
    "mobius_matvec",
    "mobius_scalar_mul",
    "pairwise_distance",
    "project",
    "to_hyperboloid",
]

# Below this argument tanh(t)/t and artanh(t)/t use their Taylor series (error < 1e-16 relative).
_SERIES_THRESHOLD = 1e-4


def _eps(x: jax.Array) -> jax.Array:
    return jnp.asarray(jnp.finfo(x.dtype).eps, x.dtype)


def _as_float(x: ArrayLike) -> jax.Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


def _sqnorm(x: jax.Array) -> jax.Array:
    return jnp.sum(x * x, axis=-1, keepdims=True)


def _safe_norm(x: jax.Array) -> jax.Array:
    """``|x|`` over the last axis (keepdims) with gradient 0 at ``x = 0`` instead of NaN."""
    sq = _sqnorm(x)
    positive = sq > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)


def _one_minus_c_sq(x: jax.Array, c) -> jax.Array:
    """``1 - c|x|^2`` (keepdims), clamped below at eps."""
    return jnp.maximum(1.0 - c * _sqnorm(x), _eps(x))


def _tanh_ratio(t: jax.Array) -> jax.Array:
    """``tanh(t) / t`` for ``t >= 0``, smooth at 0."""
    small = t < _SERIES_THRESHOLD
    t_safe = jnp.where(small, 1.0, t)
    return jnp.where(small, 1.0 - t * t / 3.0, jnp.tanh(t_safe) / t_safe)


def _artanh_ratio(t: jax.Array) -> jax.Array:
    """``artanh(t) / t`` for ``0 <= t``, with t clipped to ``1 - eps``; smooth at 0."""
    t = jnp.minimum(t, 1.0 - _eps(t))
    small = t < _SERIES_THRESHOLD
    t_safe = jnp.where(small, 0.5, t)
    return jnp.where(small, 1.0 + t * t / 3.0, jnp.arctanh(t_safe) / t_safe)


def _clip_to_ball(x: jax.Array, c) -> jax.Array:
    """Rescales points with ``sqrt(c)|x| > 1 - eps`` onto that sphere (rounding guard)."""
    max_norm = (1.0 - _eps(x)) / jnp.sqrt(c)
    norm = _safe_norm(x)
    scale = jnp.where(norm > max_norm, max_norm / jnp.where(norm > 0, norm, 1.0), 1.0)
    return x * scale


def _prepare(c, *arrays_and_names):
    check_curvature(c)
    out = []
    for x, name in arrays_and_names:
        check_points(x, name, c)
        out.append(_as_float(x))
    if len(out) > 1:
        dtype = jnp.result_type(*out)
        out = [a.astype(dtype) for a in out]
    return out


def conformal_factor(x: ArrayLike, c: float = 1.0) -> jax.Array:
    """The conformal factor ``lambda_x = 2 / (1 - c|x|^2)`` of the metric at ``x``.

    Args:
        x: ``[..., d]`` points in the ball.
        c: curvature magnitude (the ball has curvature ``-c``).

    Returns:
        ``[...]`` factors, >= 2; the denominator is clamped at ``finfo(dtype).eps``.
    """
    (x,) = _prepare(c, (x, "x"))
    return (2.0 / _one_minus_c_sq(x, c))[..., 0]


def distance(x: ArrayLike, y: ArrayLike, c: float = 1.0) -> jax.Array:
    """Geodesic distance on the Poincare ball (Nickel & Kiela 2017, Eq. 1).

    ``d_c(x, y) = (2/sqrt c) asinh(sqrt c |x - y| / sqrt((1 - c|x|^2)(1 - c|y|^2)))``, which for
    ``c = 1`` equals ``arcosh(1 + 2|x-y|^2 / ((1-|x|^2)(1-|y|^2)))`` and
    ``2 artanh(|(-x) (+) y|)``.

    Args:
        x: ``[..., d]`` points in the ball.
        y: ``[..., d]`` points in the ball (broadcast against ``x``).
        c: curvature magnitude.

    Returns:
        ``[...]`` distances (>= 0, symmetric, 0 with zero gradient at ``x = y``).

    Raises:
        ValueError: mismatched ``d``, or (concrete inputs) a point outside the ball.
    """
    check_same_dim(x, y, "x", "y")
    x, y = _prepare(c, (x, "x"), (y, "y"))
    sqrt_c = jnp.sqrt(jnp.asarray(c, x.dtype))
    den = jnp.sqrt(_one_minus_c_sq(x, c) * _one_minus_c_sq(y, c))
    z = sqrt_c * _safe_norm(x - y) / den
    return (2.0 / sqrt_c * jnp.arcsinh(z))[..., 0]


def pairwise_distance(x: ArrayLike, y: ArrayLike, c: float = 1.0) -> jax.Array:
    """All distances between two point sets.

    Args:
        x: ``[n, d]`` points.
        y: ``[m, d]`` points.
        c: curvature magnitude.

    Returns:
        ``[n, m]`` with ``out[i, j] = distance(x[i], y[j])``. Uses the exact differences
        ``x_i - y_j`` (an ``[n, m, d]`` temporary), not ``|x|^2 + |y|^2 - 2<x, y>``, whose
        cancellation is amplified ``1/(1-|x|^2)`` times near the boundary.
    """
    if jnp.ndim(x) != 2 or jnp.ndim(y) != 2:
        raise ValueError(
            f"x and y must be 2-D [n, d] and [m, d]; got shapes {jnp.shape(x)}, {jnp.shape(y)}"
        )
    return distance(jnp.asarray(x)[:, None, :], jnp.asarray(y)[None, :, :], c)


def mobius_add(x: ArrayLike, y: ArrayLike, c: float = 1.0) -> jax.Array:
    """Mobius addition ``x (+)_c y`` (Ganea et al. 2018, Eq. 2).

    ``((1 + 2c<x,y> + c|y|^2) x + (1 - c|x|^2) y) / (1 + 2c<x,y> + c^2 |x|^2 |y|^2)``.
    Not commutative nor associative, but it has the left cancellation law
    ``(-x) (+) (x (+) y) = y``, and ``y -> x (+) y`` is an isometry (a Mobius translation
    sending 0 to x).

    Args:
        x: ``[..., d]`` points in the ball.
        y: ``[..., d]`` points in the ball (broadcast against ``x``).
        c: curvature magnitude.

    Returns:
        ``[..., d]`` points in the ball (clipped to norm ``(1 - eps)/sqrt c``).
    """
    check_same_dim(x, y, "x", "y")
    x, y = _prepare(c, (x, "x"), (y, "y"))
    xy = jnp.sum(x * y, axis=-1, keepdims=True)
    x2, y2 = _sqnorm(x), _sqnorm(y)
    num = (1.0 + 2.0 * c * xy + c * y2) * x + (1.0 - c * x2) * y
    den = 1.0 + 2.0 * c * xy + c * c * x2 * y2
    return _clip_to_ball(num / jnp.maximum(den, _eps(x)), c)


def expmap0(v: ArrayLike, c: float = 1.0) -> jax.Array:
    """Exponential map at the origin: ``exp_0(v) = tanh(sqrt c |v|) v / (sqrt c |v|)``.

    Args:
        v: ``[..., d]`` tangent vectors at 0 (any value in ``R^d``).
        c: curvature magnitude.

    Returns:
        ``[..., d]`` points in the ball, ``exp_0(0) = 0``.
    """
    check_curvature(c)
    check_array(v, "v", min_ndim=1)
    v = _as_float(v)
    sqrt_c = jnp.sqrt(jnp.asarray(c, v.dtype))
    return _clip_to_ball(_tanh_ratio(sqrt_c * _safe_norm(v)) * v, c)


def logmap0(y: ArrayLike, c: float = 1.0) -> jax.Array:
    """Logarithmic map at the origin: ``log_0(y) = artanh(sqrt c |y|) y / (sqrt c |y|)``.

    Inverse of :func:`expmap0`; its Riemannian length is the distance to 0:
    ``lambda_0 |log_0(y)| = 2 |log_0(y)| = d_c(0, y)``.

    Args:
        y: ``[..., d]`` points in the ball.
        c: curvature magnitude.

    Returns:
        ``[..., d]`` tangent vectors at 0.
    """
    (y,) = _prepare(c, (y, "y"))
    sqrt_c = jnp.sqrt(jnp.asarray(c, y.dtype))
    return _artanh_ratio(sqrt_c * _safe_norm(y)) * y


def expmap(x: ArrayLike, v: ArrayLike, c: float = 1.0) -> jax.Array:
    """Exponential map at ``x`` (Ganea et al. 2018, Lemma 2).

    ``exp_x(v) = x (+) (tanh(sqrt c lambda_x |v| / 2) v / (sqrt c |v|))``
    ``= x (+) exp_0(lambda_x v / 2)``.

    Args:
        x: ``[..., d]`` base points in the ball.
        v: ``[..., d]`` tangent vectors at ``x`` (broadcast against ``x``).
        c: curvature magnitude.

    Returns:
        ``[..., d]`` points; ``d_c(x, exp_x(v)) = lambda_x |v|`` (the Riemannian norm of v).
    """
    check_array(v, "v", min_ndim=1)
    check_same_dim(x, v, "x", "v")
    (x,) = _prepare(c, (x, "x"))
    v = _as_float(v).astype(x.dtype)
    lam = 2.0 / _one_minus_c_sq(x, c)
    return mobius_add(x, expmap0(0.5 * lam * v, c), c)


def logmap(x: ArrayLike, y: ArrayLike, c: float = 1.0) -> jax.Array:
    """Logarithmic map at ``x``, the inverse of :func:`expmap` (Ganea et al. 2018, Lemma 2).

    ``log_x(y) = (2 / (sqrt c lambda_x)) artanh(sqrt c |u|) u / |u|`` with ``u = (-x) (+) y``.

    Args:
        x: ``[..., d]`` base points in the ball.
        y: ``[..., d]`` points in the ball (broadcast against ``x``).
        c: curvature magnitude.

    Returns:
        ``[..., d]`` tangent vectors at ``x``.
    """
    check_same_dim(x, y, "x", "y")
    x, y = _prepare(c, (x, "x"), (y, "y"))
    lam = 2.0 / _one_minus_c_sq(x, c)
    return (2.0 / lam) * logmap0(mobius_add(-x, y, c), c)


def mobius_scalar_mul(r: ArrayLike, x: ArrayLike, c: float = 1.0) -> jax.Array:
    """Mobius scalar multiplication ``r (x) x = exp_0(r log_0(x))`` (Ganea et al. 2018, Eq. 3).

    Args:
        r: scalar or ``[...]`` factors (broadcast against the points' leading axes).
        x: ``[..., d]`` points.
        c: curvature magnitude.

    Returns:
        ``[..., d]`` points with ``d_c(0, r (x) x) = |r| d_c(0, x)``.
    """
    check_array(r, "r", dtype="real")
    (x,) = _prepare(c, (x, "x"))
    r = jnp.asarray(r, x.dtype)[..., None]
    return expmap0(r * logmap0(x, c), c)


def mobius_matvec(m: ArrayLike, x: ArrayLike, c: float = 1.0) -> jax.Array:
    """Mobius matrix-vector product (Ganea et al. 2018, Eq. 26).

    ``M (x) x = (1/sqrt c) tanh(|Mx|/|x| artanh(sqrt c |x|)) Mx / |Mx|``, computed as the equal
    ``exp_0(M log_0(x))``; it is 0 where ``Mx = 0``. For an orthogonal ``M`` it is ``Mx``
    (a rotation of the ball, an isometry).

    Args:
        m: ``[k, d]`` matrix.
        x: ``[..., d]`` points.
        c: curvature magnitude.

    Returns:
        ``[..., k]`` points in the ``k``-dimensional ball.
    """
    check_array(m, "m", ndim=2, dtype="real")
    if jnp.ndim(m) != 2:
        raise ValueError(f"m must be a 2-D matrix [k, d]; got shape {jnp.shape(m)}")
    if jnp.shape(m)[1] != jnp.shape(x)[-1]:
        raise ValueError(
            f"m must have shape [k, d] with d = x.shape[-1] = {jnp.shape(x)[-1]}; "
            f"got m.shape = {jnp.shape(m)}"
        )
    (x,) = _prepare(c, (x, "x"))
    return expmap0(logmap0(x, c) @ jnp.asarray(m, x.dtype).T, c)


def project(x: ArrayLike, eps: float = 1e-5, c: float = 1.0) -> jax.Array:
    """Moves points into the ball: rescales those with ``sqrt(c)|x| > 1 - eps`` to that norm.

    This is the projection of Nickel & Kiela (2017, Eq. 5) with their ``eps = 1e-5``. Points
    already inside are returned unchanged. Unlike the other functions it accepts any finite
    point (that is its purpose).

    Args:
        x: ``[..., d]`` points, anywhere in ``R^d``.
        eps: margin, ``0 < eps < 1``.
        c: curvature magnitude.

    Returns:
        ``[..., d]`` points with ``sqrt(c)|x| <= 1 - eps``.
    """
    check_curvature(c)
    if not (isinstance(eps, float | int) or jnp.ndim(eps) == 0):
        raise ValueError(f"eps must be a scalar; got {eps!r}")
    try:
        eps_value = float(eps)
    except (TypeError, jax.errors.ConcretizationTypeError):
        eps_value = None
    if eps_value is not None and not 0.0 < eps_value < 1.0:
        raise ValueError(f"eps must be in (0, 1); got {eps_value}")
    check_array(x, "x", min_ndim=1)
    x = _as_float(x)
    max_norm = (1.0 - eps) / jnp.sqrt(c)
    norm = _safe_norm(x)
    scale = jnp.where(norm > max_norm, max_norm / jnp.where(norm > 0, norm, 1.0), 1.0)
    return x * scale


def to_hyperboloid(x: ArrayLike, c: float = 1.0) -> jax.Array:
    """Maps ball points to the hyperboloid ``-X_0^2 + |X_{1:}|^2 = -1/c``, ``X_0 > 0``.

    ``X = (1 + c|x|^2, 2 x sqrt(c)) / (sqrt(c) (1 - c|x|^2))``.

    Args:
        x: ``[..., d]`` points in the ball.
        c: curvature magnitude.

    Returns:
        ``[..., d + 1]`` points on the hyperboloid (isometries of the ball act on them linearly).
    """
    (x,) = _prepare(c, (x, "x"))
    sqrt_c = jnp.sqrt(jnp.asarray(c, x.dtype))
    den = _one_minus_c_sq(x, c)
    x0 = (1.0 + c * _sqnorm(x)) / (sqrt_c * den)
    return jnp.concatenate([x0, 2.0 * x / den], axis=-1)


def _hyperboloid_tolerance(dtype) -> float:
    """Relative tolerance of :func:`from_hyperboloid`'s on-manifold check (see there)."""
    return max(1e-4, 100.0 * float(jnp.finfo(dtype).eps))


def _check_hyperboloid(h, c) -> None:
    """Rejects concrete ``h`` off the upper sheet of ``-X_0^2 + |X_{1:}|^2 = -1/c``."""
    if not (is_concrete(h) and is_concrete(c)) or np.size(h) == 0:
        return
    dtype = jnp.result_type(h)
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    v = np.asarray(h, dtype=np.float64).reshape(-1, np.shape(h)[-1])
    cv = float(np.asarray(c))
    if not np.all(np.isfinite(v)):
        bad = np.flatnonzero(~np.all(np.isfinite(v), axis=1))
        raise ValueError(
            f"h contains NaN or inf values ({bad.size} point(s), first flat indices "
            f"{bad[:5].tolist()})"
        )
    lower = np.flatnonzero(v[:, 0] < 0)
    if lower.size:
        raise ValueError(
            f"h has {lower.size} point(s) on the lower sheet (X_0 < 0; first flat indices "
            f"{lower[:5].tolist()}, X_0 = {v[lower[0], 0]:.6g}); from_hyperboloid expects the "
            "upper sheet X_0 > 0"
        )
    sq0, sq_rest = v[:, 0] ** 2, np.sum(v[:, 1:] ** 2, axis=1)
    tol = _hyperboloid_tolerance(dtype)
    residual = np.abs(cv * (sq_rest - sq0) + 1.0)
    off = residual > tol * (1.0 + cv * (sq0 + sq_rest))
    if np.any(off):
        idx = np.flatnonzero(off)
        raise ValueError(
            f"h has {idx.size} point(s) off the hyperboloid -X_0^2 + |X_1:|^2 = -1/c "
            f"(c = {cv:g}; first flat indices {idx[:5].tolist()}, c * Minkowski norm "
            f"{cv * (sq_rest[idx[0]] - sq0[idx[0]]):.9g} instead of -1; tolerance: "
            f"|c <X, X>_L + 1| <= {tol:g} * (1 + c |X|^2))"
        )


def from_hyperboloid(h: ArrayLike, c: float = 1.0) -> jax.Array:
    """Inverse of :func:`to_hyperboloid`: ``x = X_{1:} / (1 + sqrt(c) X_0)``.

    Args:
        h: ``[..., d + 1]`` points on the upper sheet of the hyperboloid
            ``<X, X>_L = -X_0^2 + |X_{1:}|^2 = -1/c``, ``X_0 > 0``.
        c: curvature magnitude.

    Returns:
        ``[..., d]`` points in the ball.

    Raises:
        ValueError: ``h`` has fewer than 2 coordinates; or, when ``h`` and ``c`` are concrete
            (not traced), ``h`` holds NaN/inf, a point with ``X_0 < 0`` (lower sheet), or a
            point off the hyperboloid: ``|c <X, X>_L + 1| > tol * (1 + c |X|^2)`` with
            ``|X|^2 = X_0^2 + |X_{1:}|^2`` (the size of the terms that cancel, so the check
            is relative) and ``tol = max(1e-4, 100 * finfo(dtype).eps)`` (1e-4 in float32 and
            float64). Under ``jit``/``vmap`` nothing is checked.
    """
    check_curvature(c)
    if np.ndim(h) < 1 or np.shape(h)[-1] < 2:
        raise ValueError(f"h must have shape [..., d + 1] with d >= 1; got {np.shape(h)}")
    _check_hyperboloid(h, c)
    return _from_hyperboloid(_as_float(h), c)


def _from_hyperboloid(h: jax.Array, c) -> jax.Array:
    """:func:`from_hyperboloid` without the checks (for normalized internal sums)."""
    sqrt_c = jnp.sqrt(jnp.asarray(c, h.dtype))
    return _clip_to_ball(h[..., 1:] / (1.0 + sqrt_c * h[..., :1]), c)


def centroid(x: ArrayLike, weights: ArrayLike | None = None, c: float = 1.0) -> jax.Array:
    """The Lorentzian centroid: the normalized weighted mean on the hyperboloid.

    ``m = from_hyperboloid(S / (sqrt(c) sqrt(-<S, S>_L)))`` with ``S = sum_i w_i X_i``
    (equivalently the Einstein midpoint of the Klein model). Because ball isometries act
    linearly on the hyperboloid, the centroid is isometry-equivariant:
    ``centroid(g(x)) = g(centroid(x))`` for every isometry ``g`` (rotation, Mobius translation).

    Args:
        x: ``[n, d]`` points in the ball.
        weights: ``[n]`` non-negative weights (uniform if None); they need not sum to one.
        c: curvature magnitude.

    Returns:
        ``[d]`` the centroid.

    Raises:
        ValueError: ``x`` not ``[n, d]`` with ``n >= 1`` or outside the ball; ``weights`` not
            ``[n]``, or (when concrete) holding a negative, NaN or inf value, or summing to 0.
    """
    if jnp.ndim(x) != 2:
        raise ValueError(f"x must be 2-D [n, d]; got shape {jnp.shape(x)}")
    if jnp.shape(x)[0] < 1:
        raise ValueError(f"x is empty (shape {jnp.shape(x)}); the centroid needs a point")
    h = to_hyperboloid(x, c)
    if weights is None:
        w = jnp.full((h.shape[0],), 1.0 / h.shape[0], h.dtype)
    else:
        if jnp.shape(weights) != (h.shape[0],):
            raise ValueError(
                f"weights must have shape [n] = ({h.shape[0]},); got {jnp.shape(weights)}"
            )
        if is_concrete(weights):
            wv = np.asarray(weights, dtype=np.float64)
            bad = np.flatnonzero(~np.isfinite(wv) | (wv < 0))
            if bad.size:
                raise ValueError(
                    f"weights must be finite and >= 0; got {bad.size} bad value(s), e.g. "
                    f"weights[{bad[0]}] = {wv[bad[0]]}"
                )
            if not np.sum(wv) > 0:
                raise ValueError("weights must have a positive sum; got all zeros")
        w = jnp.asarray(weights, h.dtype)
    s = w @ h
    minkowski = s[0] ** 2 - jnp.sum(s[1:] ** 2)  # -<S, S>_L > 0 for a future-pointing S
    sqrt_c = jnp.sqrt(jnp.asarray(c, h.dtype))
    s = s / (sqrt_c * jnp.sqrt(jnp.maximum(minkowski, jnp.finfo(h.dtype).tiny)))
    return _from_hyperboloid(s, c)
