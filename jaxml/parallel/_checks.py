"""The two argument checks of jaxml.parallel that jaxml._validation has no counterpart for.

Everything else (ints, scalars in a range, arrays, keys, optimizers) uses jaxml._validation
directly, so the same mistake raises the same exception type everywhere.
"""

from collections.abc import Hashable
from typing import Any

from jaxml import _validation as v


def check_learning_rate(learning_rate: Any, name: str = "learning_rate") -> Any:
    """An optax ``ScalarOrSchedule``: a callable schedule, or a finite scalar > 0 (may be traced,
    e.g. vmapped over a sweep of learning rates; its value is checked when concrete)."""
    if callable(learning_rate):
        return learning_rate
    return v.check_positive(learning_rate, name)


def check_axis_name(axis_name: Any, *, allow_none: bool = True) -> Any:
    """A mapped-axis name (a hashable like ``"devices"``, or a non-empty tuple of them); None
    (one worker, no collective) when ``allow_none``. Returns the name (a list becomes a tuple)."""
    if axis_name is None:
        if allow_none:
            return None
        raise TypeError("axis_name must be the name of the mapped axis (a str); got None")
    if isinstance(axis_name, list | tuple):
        if not axis_name or not all(
            isinstance(a, Hashable) and not isinstance(a, list | tuple) for a in axis_name
        ):
            raise ValueError(
                f"axis_name must be a name or a non-empty tuple of names; got {axis_name!r}"
            )
        return tuple(axis_name)
    if not isinstance(axis_name, str | int) or isinstance(axis_name, bool):
        raise TypeError(f"axis_name must be a str (the mapped axis' name); got {axis_name!r}")
    return axis_name
