"""Ball-specific input checks of jaxml.hyperbolic, built on :mod:`jaxml._validation`.

Generic checks (ints, scalars, arrays, keys) come from ``jaxml._validation``; only what knows the
Poincare ball lives here: the curvature, points inside the ball of radius ``1/sqrt(c)``, point sets
and matching coordinate dimensions.
"""

from __future__ import annotations

import numpy as np

from jaxml._validation import check_array, check_positive, is_concrete


def check_curvature(c, name: str = "c") -> float | object:
    """``c`` (the curvature magnitude) must be a real scalar; when concrete, finite and > 0."""
    try:
        return check_positive(c, name)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{e} ({name} is the curvature magnitude of the ball)") from None


def check_points(x, name: str, c=1.0, *, min_ndim: int = 1) -> tuple[int, ...]:
    """Checks that ``x`` is a float ``[..., d]`` array of points in the open ball of radius
    ``1/sqrt(c)``.

    The value checks (finite, ``|x| < 1/sqrt(c)``) run only when ``x`` and ``c`` are concrete;
    under ``jit``/``vmap`` the geometry clamps instead (see :mod:`jaxml.hyperbolic.poincare`).

    Returns:
        The shape of ``x``.
    """
    shape = check_array(x, name, min_ndim=min_ndim, dtype="real")
    if len(shape) >= 1 and shape[-1] < 1:
        raise ValueError(f"{name} must have a last (coordinate) axis of size d >= 1; got {shape}")
    if is_concrete(x, c) and np.size(x) > 0:
        values = np.asarray(x, dtype=np.float64)
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
    shape = check_array(x, name, ndim=2, dtype="real")
    n, d = shape
    if n < 1:
        raise ValueError(f"{name} is empty (shape {shape}); it needs at least one point")
    if d < 1:
        raise ValueError(f"{name} must have d >= 1 coordinates; got shape {shape}")
    check_points(x, name, c)
    return int(n), int(d)
