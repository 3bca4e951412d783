"""Argument checks shared by the parallel optimizers (raised before tracing)."""

import numbers
from collections.abc import Hashable
from typing import Any


def check_learning_rate(learning_rate: Any) -> None:
    if callable(learning_rate):
        return
    if hasattr(learning_rate, "shape") and hasattr(learning_rate, "dtype"):
        # An array (possibly traced, e.g. a learning rate vmapped over a sweep): scalar only;
        # its value is checked when it is concrete.
        if getattr(learning_rate, "ndim", 0) != 0:
            raise ValueError(f"learning_rate must be a scalar, got shape {learning_rate.shape}")
        try:
            value = float(learning_rate)
        except Exception:  # a tracer: no concrete value before tracing
            return
        if not value > 0:
            raise ValueError(f"learning_rate must be > 0, got {value}")
        return
    if not isinstance(learning_rate, numbers.Real) or isinstance(learning_rate, bool):
        raise TypeError(
            f"learning_rate must be a positive float or an optax schedule, got {learning_rate!r}"
        )
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")


def check_momentum(momentum: Any) -> None:
    if not isinstance(momentum, numbers.Real) or not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be a float in [0, 1), got {momentum!r}")


def check_axis_name(axis_name: Any) -> Any:
    if axis_name is None:
        return None
    if isinstance(axis_name, (list, tuple)):
        if not axis_name or not all(isinstance(a, Hashable) for a in axis_name):
            raise ValueError(
                f"axis_name must be a name or a non-empty tuple of names, got {axis_name!r}"
            )
        return tuple(axis_name)
    if not isinstance(axis_name, Hashable):
        raise ValueError(f"axis_name must be hashable (a str), got {axis_name!r}")
    return axis_name


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
