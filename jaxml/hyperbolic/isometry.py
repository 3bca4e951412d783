"""Isometries of the Poincare ball: rotations composed with Mobius translations.

Every isometry of the ball ``B_c^d`` that preserves orientation or not can be written
``g(x) = a (+) (R x)`` with ``R`` orthogonal (``R^T R = I``) and ``a`` in the ball: ``R`` fixes the
origin and ``x -> a (+) x`` is the Mobius (left gyro-) translation sending 0 to ``a``
(Ungar 2008; Ganea et al. 2018, Sec. 2). The inverse is ``g^{-1}(y) = R^T ((-a) (+) y)`` by left
cancellation. A Mobius translation is not linear in ambient coordinates: orthogonal Procrustes in
R^d cannot represent it, which is the negative result of Alvarez-Melis et al. (2020).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxml._validation import (
    check_array,
    check_int,
    check_key,
    check_nonnegative,
    check_scalar,
    is_concrete,
)
from jaxml.hyperbolic import poincare
from jaxml.hyperbolic._checks import check_curvature, check_points

__all__ = [
    "Isometry",
    "apply_isometry",
    "compose_isometries",
    "fit_isometry",
    "identity_isometry",
    "invert_isometry",
    "noisy_isometric_copy",
    "random_isometry",
    "random_rotation",
]


class _IsometryFields(NamedTuple):
    rotation: jax.Array
    translation: jax.Array


_ORTHOGONALITY_TOL = 1e-3


class Isometry(_IsometryFields):
    """``g(x) = translation (+) (rotation @ x)``.

    Constructed from concrete ``[d, d]`` and ``[d]`` arrays it checks that the rotation is finite
    and orthogonal (``|R R^T - I| <= 1e-3``) and the translation finite and of length ``d``;
    whether the translation lies inside the ball depends on ``c`` and is checked where the
    isometry is applied. Tracers and batched (vmapped) fields pass unchecked, so the class stays
    a plain pytree under ``jit``/``vmap``.

    Attributes:
        rotation: ``[d, d]`` orthogonal matrix.
        translation: ``[d]`` point of the ball (``g(0)``).
    """

    __slots__ = ()

    def __new__(cls, rotation, translation):
        if _is_concrete_array(rotation) and np.ndim(rotation) == 2:
            rot = np.asarray(rotation, dtype=np.float64)
            d = rot.shape[0]
            if rot.shape != (d, d):
                raise ValueError(f"rotation must be a square [d, d] matrix; got shape {rot.shape}")
            check_array(rot, "rotation")
            err = float(np.max(np.abs(rot @ rot.T - np.eye(d)), initial=0.0))
            if err > _ORTHOGONALITY_TOL:
                raise ValueError(
                    f"rotation must be orthogonal (|R R^T - I| <= {_ORTHOGONALITY_TOL:g}); got "
                    f"max |R R^T - I| = {err:.3g}"
                )
            if _is_concrete_array(translation) and np.ndim(translation) == 1:
                check_array(translation, "translation", shape=(d,))
        return super().__new__(cls, rotation, translation)


def _is_concrete_array(x) -> bool:
    return isinstance(x, jax.Array | np.ndarray) and is_concrete(x)


def _check_isometry(iso, name: str = "iso", d: int | None = None, c=1.0, points: str = "x") -> int:
    """``iso`` must be an :class:`Isometry` of matching shapes with its translation in the ball."""
    if not isinstance(iso, Isometry):
        raise TypeError(
            f"{name} must be an Isometry(rotation, translation); got {type(iso).__name__}"
        )
    rot, tr = jnp.shape(iso.rotation), jnp.shape(iso.translation)
    if len(rot) != 2 or rot[0] != rot[1]:
        raise ValueError(f"{name}.rotation must be a square [d, d] matrix; got shape {rot}")
    if tr != (rot[0],):
        raise ValueError(
            f"{name}.translation must have shape [d] = ({rot[0]},) matching the rotation; got {tr}"
        )
    if d is not None and rot[0] != d:
        raise ValueError(
            f"{points} has d = {d} coordinates but {name} acts on d = {rot[0]} dimensions"
        )
    check_array(iso.rotation, f"{name}.rotation")
    if c is None:  # the ball's radius is unknown here
        check_array(iso.translation, f"{name}.translation")
        return rot[0]
    try:
        check_points(iso.translation, f"{name}.translation", c)
    except ValueError as e:
        raise ValueError(f"{name}: the translation is invalid: {e}") from None
    return rot[0]


def apply_isometry(iso: Isometry, x: ArrayLike, c: float = 1.0) -> jax.Array:
    """``g(x) = a (+)_c (R x)`` for each point.

    Args:
        iso: the isometry.
        x: ``[..., d]`` points in the ball.
        c: curvature magnitude.

    Returns:
        ``[..., d]`` the moved points; ``d_c(g(x), g(y)) = d_c(x, y)``.
    """
    check_curvature(c)
    check_points(x, "x", c)
    _check_isometry(iso, "iso", jnp.shape(x)[-1], c)
    x = jnp.asarray(x)
    rotated = x @ jnp.asarray(iso.rotation, x.dtype).T
    return poincare.mobius_add(jnp.asarray(iso.translation, x.dtype), rotated, c)


def invert_isometry(iso: Isometry) -> Isometry:
    """The inverse ``g^{-1}(y) = R^T ((-a) (+) y) = (-R^T a) (+) (R^T y)``.

    Left translations and rotations commute as ``R (a (+) x) = (R a) (+) (R x)``, so
    ``R^T ((-a) (+) y) = (-R^T a) (+) (R^T y)``.

    Args:
        iso: the isometry to invert.

    Returns:
        The inverse, again as rotation + translation.
    """
    _check_isometry(iso, "iso", c=None)
    rot_t = jnp.asarray(iso.rotation).T
    return Isometry(rotation=rot_t, translation=-(rot_t @ jnp.asarray(iso.translation)))


def random_rotation(key: jax.Array, dim: int, dtype=None) -> jax.Array:
    """A Haar-distributed orthogonal ``[dim, dim]`` matrix (QR of a Gaussian, signs fixed).

    Args:
        key: PRNG key.
        dim: the dimension, >= 1.
        dtype: float dtype (default: JAX's default float).

    Returns:
        ``[dim, dim]`` orthogonal matrix (determinant +1 or -1).
    """
    check_key(key, "key")
    dim = check_int(dim, "dim", minimum=1)
    dtype = dtype or jnp.result_type(float)
    g = jax.random.normal(key, (dim, dim), dtype)
    q, r = jnp.linalg.qr(g)
    return q * jnp.sign(jnp.where(jnp.diag(r) == 0, 1.0, jnp.diag(r)))[None, :]


def random_isometry(
    key: jax.Array, dim: int, translation_norm: float = 0.5, c: float = 1.0, dtype=None
) -> Isometry:
    """A random isometry: a Haar rotation and a translation of the given norm in a random direction.

    Args:
        key: PRNG key.
        dim: dimension d >= 1.
        translation_norm: ``|g(0)|``, in ``[0, 1/sqrt(c))``; the hyperbolic distance the origin
            moves is ``(2/sqrt c) artanh(sqrt(c) translation_norm)``.
        c: curvature magnitude.
        dtype: float dtype.

    Returns:
        An :class:`Isometry`.
    """
    check_key(key, "key")
    check_curvature(c)
    radius = 1.0 / float(jnp.sqrt(c))
    t = float(
        check_scalar(
            translation_norm, "translation_norm", minimum=0.0, maximum=radius, max_open=True
        )
    )
    dtype = dtype or jnp.result_type(float)
    k_rot, k_dir = jax.random.split(key)
    rotation = random_rotation(k_rot, dim, dtype)
    direction = jax.random.normal(k_dir, (dim,), dtype)
    direction = direction / jnp.linalg.norm(direction)
    return Isometry(rotation=rotation, translation=t * direction)


def identity_isometry(dim: int, dtype=None) -> Isometry:
    """The identity map of the ``dim``-ball."""
    dim = check_int(dim, "dim", minimum=1)
    dtype = dtype or jnp.result_type(float)
    return Isometry(rotation=jnp.eye(dim, dtype=dtype), translation=jnp.zeros((dim,), dtype))


def compose_isometries(outer: Isometry, inner: Isometry, c: float = 1.0) -> Isometry:
    """The isometry ``outer o inner`` written again as ``t (+) (R x)``.

    ``t = outer(inner(0))``, and ``x -> (-t) (+) outer(inner(x))`` is an isometry fixing 0, hence
    the orthogonal map ``R``; its columns are read off at ``x = s e_i`` (``s = 0.25``).

    Args:
        outer: applied second.
        inner: applied first.
        c: curvature magnitude.

    Returns:
        An :class:`Isometry` equal to the composition.
    """
    d = _check_isometry(inner, "inner", c=c)
    _check_isometry(outer, "outer", d, c, points="inner")
    check_curvature(c)
    dtype = jnp.result_type(inner.rotation, outer.rotation)
    t = apply_isometry(outer, apply_isometry(inner, jnp.zeros((d,), dtype), c), c)
    s = 0.25 / jnp.sqrt(jnp.asarray(c, dtype))
    probes = s * jnp.eye(d, dtype=dtype)
    moved = poincare.mobius_add(-t, apply_isometry(outer, apply_isometry(inner, probes, c), c), c)
    return Isometry(rotation=moved.T / s, translation=t)


def noisy_isometric_copy(
    key: jax.Array, x: ArrayLike, translation_norm: float, noise: float, c: float = 1.0
) -> jax.Array:
    """``exp_{g(x_i)}(noise * xi_i / lambda_{g(x_i)})`` for a random isometry ``g``.

    ``g = random_isometry(k1, d, translation_norm, c)`` with ``k1, k2 = split(key)``, and
    ``xi_i ~ N(0, I_d)`` from ``k2``: a Gaussian of Riemannian scale ``noise`` in the tangent
    space at each moved point (``lambda`` the conformal factor), projected back inside the ball
    (margin 1e-5). The synthetic matching experiment's "isometric copy".

    Args:
        key: PRNG key.
        x: ``[n, d]`` points in the ball.
        translation_norm: ``|g(0)|`` in ``[0, 1/sqrt(c))``.
        noise: Riemannian scale of the noise, >= 0.
        c: curvature magnitude.

    Returns:
        ``[n, d]`` the moved, noisy copy (row ``i`` is the copy of ``x_i``).
    """
    check_key(key, "key")
    check_curvature(c)
    check_points(x, "x", c, min_ndim=2)
    check_array(x, "x", ndim=2)
    noise = float(check_nonnegative(noise, "noise"))
    k_iso, k_noise = jax.random.split(key)
    iso = random_isometry(k_iso, np.shape(x)[1], translation_norm, c)
    moved = apply_isometry(iso, x, c)
    xi = noise * jax.random.normal(k_noise, moved.shape)
    lam = poincare.conformal_factor(moved, c)[:, None]
    return poincare.project(poincare.expmap(moved, xi / lam, c), 1e-5, c)


def fit_isometry(x: ArrayLike, y: ArrayLike, c: float = 1.0) -> Isometry:
    """The isometry fitted to known pairs ``x_i <-> y_i`` (supervised registration).

    Both sets are moved so that their Lorentzian centroids sit at 0
    (:func:`~jaxml.hyperbolic.poincare.centroid`), the rotation is the tangent-space orthogonal
    Procrustes solution ``W = polar(log_0(y0)^T log_0(x0))``, and the result is
    ``g(x) = m_y (+) W ((-m_x) (+) x)``, written as one :class:`Isometry`. Exact for an exact
    isometric copy; for other pairs, an upper bound on what isometry-based matching can reach.

    Args:
        x: ``[n, d]`` points in the ball.
        y: ``[n, d]`` their counterparts.
        c: curvature magnitude.

    Returns:
        An :class:`Isometry` ``g`` with ``g(x_i) ~ y_i``.
    """
    check_curvature(c)
    check_array(x, "x", ndim=2, min_size=1)
    check_array(y, "y", ndim=2, min_size=1)
    check_points(x, "x", c)
    check_points(y, "y", c)
    if np.shape(x) != np.shape(y):
        raise ValueError(
            f"x and y must be paired point sets of the same shape [n, d]; got {np.shape(x)} and "
            f"{np.shape(y)}"
        )
    x, y = jnp.asarray(x), jnp.asarray(y)
    mx, my = poincare.centroid(x, c=c), poincare.centroid(y, c=c)
    lx = poincare.logmap0(poincare.mobius_add(-mx, x, c), c)
    ly = poincare.logmap0(poincare.mobius_add(-my, y, c), c)
    u, _, vt = jnp.linalg.svd(ly.T @ lx)
    eye = jnp.eye(x.shape[1], dtype=x.dtype)
    inner = compose_isometries(Isometry(u @ vt, jnp.zeros_like(mx)), Isometry(eye, -mx), c)
    return compose_isometries(Isometry(eye, my), inner, c)
