"""Input validation shared by the hyperbolic modules (raised from Python, before tracing)."""

from __future__ import annotations

import numpy as np
from jax import core


def is_concrete(x) -> bool:
    """True when ``x`` has a value now (not a tracer inside jit/grad/vmap)."""
    return not isinstance(x, core.Tracer)


def check_curvature(c) -> None:
    """``c`` must be a scalar; when concrete, finite and > 0."""
    if np.ndim(c) != 0:
        raise ValueError(f"c (the curvature magnitude) must be a scalar; got shape {np.shape(c)}")
    if is_concrete(c):
        value = float(np.asarray(c))
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"c (the curvature magnitude) must be finite and > 0; got {value}")


def check_points(x, name: str, c=1.0, *, min_ndim: int = 1) -> tuple[int, ...]:
    """Checks that ``x`` is a ``[..., d]`` array of points in the open ball of radius 1/sqrt(c).

    The value checks (finite, ``|x| < 1/sqrt(c)``) run only when ``x`` and ``c`` are concrete;
    under ``jit``/``vmap`` the geometry clamps instead (see :mod:`jaxml.hyperbolic.poincare`).

    Returns:
        The shape of ``x``.
    """
    shape = np.shape(x)
    if len(shape) < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s) [..., d]; got {shape}")
    if len(shape) >= 1 and shape[-1] < 1:
        raise ValueError(f"{name} must have a last (coordinate) axis of size d >= 1; got {shape}")
    if is_concrete(x) and is_concrete(c) and np.size(x) > 0:
        values = np.asarray(x, dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name} contains NaN or inf values")
        radius = 1.0 / np.sqrt(float(np.asarray(c)))
        norms = np.sqrt(np.sum(values * values, axis=-1))
        outside = norms >= radius
        if np.any(outside):
            raise ValueError(
                f"{name} has {int(outside.sum())} point(s) outside the open Poincare ball of "
                f"radius 1/sqrt(c) = {radius:g} (largest norm {norms.max():.9g}); call "
                "jaxml.hyperbolic.poincare.project(x) first to move them inside"
            )
    return shape


def check_same_dim(x, y, xname: str, yname: str) -> None:
    """The last axes of ``x`` and ``y`` (the coordinate dimension d) must agree."""
    dx, dy = np.shape(x)[-1:], np.shape(y)[-1:]
    if dx != dy:
        raise ValueError(
            f"{xname} and {yname} must have the same last dimension d; got shapes "
            f"{np.shape(x)} and {np.shape(y)}"
        )


def check_point_set(x, name: str, c=1.0) -> tuple[int, int]:
    """A non-empty ``[n, d]`` set of points inside the ball; returns ``(n, d)``."""
    shape = np.shape(x)
    if len(shape) != 2:
        raise ValueError(f"{name} must be a 2-D array [n, d] of points; got shape {shape}")
    n, d = shape
    if n < 1:
        raise ValueError(f"{name} is empty (shape {shape}); it needs at least one point")
    if d < 1:
        raise ValueError(f"{name} must have d >= 1 coordinates; got shape {shape}")
    check_points(x, name, c)
    return int(n), int(d)


def check_int(value, name: str, *, minimum: int) -> int:
    """A Python/NumPy integer (not bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int; got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def check_float(value, name: str, *, positive: bool = True, below: float | None = None) -> float:
    """A concrete finite float, > 0 if ``positive`` (>= 0 otherwise), and < ``below`` if given."""
    if np.ndim(value) != 0:
        raise ValueError(f"{name} must be a scalar; got shape {np.shape(value)}")
    v = float(np.asarray(value))
    ok = np.isfinite(v) and (v > 0 if positive else v >= 0)
    if below is not None:
        ok = ok and v < below
    if not ok:
        rng = "> 0" if positive else ">= 0"
        if below is not None:
            rng += f" and < {below}"
        raise ValueError(f"{name} must be finite and {rng}; got {v}")
    return v
