"""Input validation shared by the pPCA / linear-VAE functions (raised before tracing)."""

import numpy as np
from jax import core


def is_concrete(x) -> bool:
    """True when ``x`` has a value now (not a tracer inside jit/grad)."""
    return not isinstance(x, core.Tracer)


def check_data(x, name: str = "x"):
    """``x`` must be a 2-D ``[n, d]`` array with n >= 2, d >= 2 and (when concrete) finite."""
    shape = np.shape(x)
    if len(shape) != 2:
        raise ValueError(f"{name} must be a 2-D array [n, d]; got shape {shape}")
    n, d = shape
    if n < 2 or d < 2:
        raise ValueError(f"{name} needs n >= 2 examples and d >= 2 dimensions; got shape {shape}")
    if is_concrete(x) and not np.all(np.isfinite(np.asarray(x))):
        raise ValueError(f"{name} contains NaN or inf values")
    return n, d


def check_latent_dim(latent_dim, d: int, name: str = "latent_dim") -> int:
    if not isinstance(latent_dim, (int, np.integer)) or isinstance(latent_dim, bool):
        raise TypeError(f"{name} must be an int, got {type(latent_dim).__name__}")
    if not 1 <= latent_dim <= d - 1:
        raise ValueError(f"{name} must be in 1..d-1 = 1..{d - 1}; got {latent_dim}")
    return int(latent_dim)


def check_positive(value, name: str):
    """A concrete scalar must be finite and > 0 (tracers pass through unchecked)."""
    if np.ndim(value) != 0:
        raise ValueError(f"{name} must be a scalar; got shape {np.shape(value)}")
    if is_concrete(value):
        v = float(np.asarray(value))
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be finite and > 0; got {v}")


def check_finite(x, name: str) -> None:
    """A concrete array must hold no NaN or inf (tracers pass through unchecked)."""
    if is_concrete(x) and not np.all(np.isfinite(np.asarray(x))):
        raise ValueError(f"{name} contains NaN or inf values")


def check_decoder(w, name: str = "w") -> tuple[int, int]:
    """``w`` must be a 2-D ``[d, k]`` array with k >= 1 and (when concrete) finite."""
    shape = np.shape(w)
    if len(shape) != 2 or shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array [d, k] with k >= 1; got shape {shape}")
    check_finite(w, name)
    return shape


def check_vector(v, length: int, name: str, what: str = "d") -> None:
    """``v`` must have shape ``[length]`` and (when concrete) be finite."""
    if np.shape(v) != (length,):
        raise ValueError(f"{name} must have shape [{what}] = ({length},); got {np.shape(v)}")
    check_finite(v, name)


def check_nonnegative(value, name: str) -> None:
    """A concrete scalar threshold must be finite and >= 0."""
    if np.ndim(value) != 0:
        raise ValueError(f"{name} must be a scalar; got shape {np.shape(value)}")
    if is_concrete(value):
        v = float(np.asarray(value))
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be finite and >= 0; got {v}")
