"""The one home of jaxml's argument checks (raised from Python, before tracing).

Every public function checks its inputs at entry with these helpers, so that the same mistake gets
the same exception everywhere:

- ``TypeError`` for a value of the wrong kind (a float where an int goes, a string where a number
  goes, a non-callable where a function goes, an integer array where floats go);
- ``ValueError`` for a value of the right kind but wrong rank, shape, range or finiteness.

Each message names the argument as it is spelled in the signature, says what was expected and what
was received: ``"num_steps must be an int >= 1; got 0"``.

Shape and dtype checks always run (they are static under ``jit``). Value checks (finiteness, range)
run only when the value is concrete, i.e. not a :class:`jax.core.Tracer`; inside ``jit``/``grad``/
``vmap`` they are skipped, and the jitted hot path may pass NaN through where its docstring says so.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

# JAX is imported lazily: a process that only orchestrates (an Optuna worker, a CLI that rejects
# its arguments) validates without paying JAX's import. Nothing can be a tracer before JAX is
# imported, so ``is_concrete`` needs no import at all.

PyTree = Any
"""Nested lists, tuples, dicts and arrays (a jax pytree); the package's one alias."""

_DTYPE_KINDS = {
    "float": "fc",  # inexact: float or complex
    "real": "f",
    "int": "iu",
    "bool": "b",
    "numeric": "iufcb",
}


def is_concrete(*values: Any) -> bool:
    """True when none of ``values`` is a tracer (each has a value now, outside jit/grad/vmap)."""
    jax = sys.modules.get("jax")
    if jax is None or not hasattr(jax, "core"):  # not imported (or mid-import): no tracers
        return True
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(values))


def _describe(value: Any) -> str:
    """``"'abc' (str)"``, ``"array of shape (3,) float32"``: what was received, briefly."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        kind = "array" if is_concrete(value) else "traced array"
        return f"{kind} of shape {tuple(value.shape)} {value.dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _range_text(minimum, maximum, min_open: bool, max_open: bool) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if min_open else '>='} {minimum:g}")
    if maximum is not None:
        parts.append(f"{'<' if max_open else '<='} {maximum:g}")
    return " and ".join(parts)


def _outside(values: np.ndarray, minimum, maximum, min_open: bool, max_open: bool) -> np.ndarray:
    bad = np.zeros(values.shape, dtype=bool)
    if minimum is not None:
        bad |= values <= minimum if min_open else values < minimum
    if maximum is not None:
        bad |= values >= maximum if max_open else values > maximum
    return bad


def check_int(
    value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """A Python or NumPy integer (not a bool, not a float like ``2.0``) within the bounds.

    Raises:
        TypeError: ``value`` is not an integer.
        ValueError: ``value`` is outside ``[minimum, maximum]``.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        if hasattr(value, "shape") and np.ndim(value) == 0 and is_concrete(value):
            dtype = np.asarray(value).dtype
            if dtype.kind in "iu":
                value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            rng = _range_text(minimum, maximum, False, False)
            raise TypeError(
                f"{name} must be an int{' ' + rng if rng else ''}; got {_describe(value)}"
            )
    value = int(value)
    if _outside(np.asarray(value), minimum, maximum, False, False):
        raise ValueError(
            f"{name} must be an int {_range_text(minimum, maximum, False, False)}; got {value}"
        )
    return value


def check_scalar(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
) -> Any:
    """A real scalar (Python number or 0-d array, possibly traced) within the bounds.

    ``min_open``/``max_open`` make the bound strict. NaN and inf are refused when the value is
    concrete. Returns ``value`` unchanged (so a traced value passes through).

    Raises:
        TypeError: a string, None, a complex number or another non-number.
        ValueError: not 0-d, not finite, or outside the bounds.
    """
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a real number; got {_describe(value)}")
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        if np.ndim(value) != 0:
            raise ValueError(f"{name} must be a scalar; got {_describe(value)}")
        if np.dtype(value.dtype).kind not in "iuf":
            raise TypeError(f"{name} must be a real number; got {_describe(value)}")
    elif not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {_describe(value)}")
    if not is_concrete(value):
        return value
    v = float(np.asarray(value))
    rng = _range_text(minimum, maximum, min_open, max_open)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite{' and ' + rng if rng else ''}; got {v}")
    if _outside(np.asarray(v), minimum, maximum, min_open, max_open):
        raise ValueError(f"{name} must be {rng}; got {v:g}")
    return value


def check_positive(value: Any, name: str) -> Any:
    """A finite real scalar > 0 (see :func:`check_scalar`)."""
    return check_scalar(value, name, minimum=0.0, min_open=True)


def check_nonnegative(value: Any, name: str) -> Any:
    """A finite real scalar >= 0 (see :func:`check_scalar`)."""
    return check_scalar(value, name, minimum=0.0)


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """``value`` must be one of ``choices`` (a ValueError lists them)."""
    choices = tuple(choices)
    try:
        ok = value in choices
    except TypeError:  # unhashable
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {list(choices)}; got {_describe(value)}")
    return value


def check_callable(value: Any, name: str) -> Callable:
    """``value`` must be callable."""
    if not callable(value):
        raise TypeError(f"{name} must be callable; got {_describe(value)}")
    return value


def check_array(
    x: Any,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    min_ndim: int | None = None,
    shape: Sequence[int | None] | None = None,
    dtype: str | None = None,
    finite: bool = True,
    minimum: float | None = None,
    maximum: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
    min_size: int | None = None,
) -> tuple[int, ...]:
    """Checks an array argument and returns its shape.

    Args:
        x: the argument (a jax/numpy array, or a nested list of numbers).
        name: the argument's name in the caller's signature.
        ndim: required rank (or tuple of allowed ranks).
        min_ndim: minimum rank.
        shape: required shape; ``None`` entries are free, e.g. ``(None, 3)`` for ``[n, 3]``. A
            negative rank check comes first, so ``shape`` also fixes the rank.
        dtype: ``"float"`` (inexact), ``"real"``, ``"int"``, ``"bool"`` or ``"numeric"``.
        finite: refuse NaN/inf (concrete values only).
        minimum, maximum, min_open, max_open: elementwise bounds (concrete values only).
        min_size: minimum number of elements.

    Raises:
        TypeError: not array-like (a string, a dict, None, ragged lists) or the wrong dtype kind.
        ValueError: wrong rank, shape or size; NaN/inf; an element out of bounds.
    """
    if isinstance(x, str | bytes | dict) or x is None:
        raise TypeError(f"{name} must be an array; got {_describe(x)}")
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as e:
            raise TypeError(f"{name} must be an array; got {_describe(x)} ({e})") from None
        if x.dtype == object or x.dtype.kind in "SUV":
            raise TypeError(f"{name} must be a numeric array; got {x.dtype} values")
    got_shape = tuple(int(s) for s in np.shape(x))
    kind = np.dtype(x.dtype).kind
    if dtype is not None:
        if kind not in _DTYPE_KINDS[dtype]:
            raise TypeError(f"{name} must have a {dtype} dtype; got {_describe(x)}")
    elif kind not in _DTYPE_KINDS["numeric"]:
        raise TypeError(f"{name} must be a numeric array; got {_describe(x)}")
    if shape is not None:
        ndim = len(shape)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if len(got_shape) not in allowed:
            want = " or ".join(str(a) for a in allowed)
            spelled = "" if shape is None else f" {_shape_text(shape)}"
            raise ValueError(f"{name} must be a {want}-D array{spelled}; got shape {got_shape}")
    if min_ndim is not None and len(got_shape) < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimension(s); got shape {got_shape}"
        )
    if shape is not None and any(
        want is not None and want != got for want, got in zip(shape, got_shape, strict=True)
    ):
        raise ValueError(f"{name} must have shape {_shape_text(shape)}; got shape {got_shape}")
    if min_size is not None and int(np.prod(got_shape)) < min_size:
        raise ValueError(f"{name} must have at least {min_size} element(s); got shape {got_shape}")
    if is_concrete(x) and np.size(x) > 0 and kind in "iuf":
        values = np.asarray(x)
        if finite and kind == "f":
            bad = ~np.isfinite(values)
            if bad.any():
                raise ValueError(
                    f"{name} must be finite; got {int(bad.sum())} NaN/inf value(s) of "
                    f"{values.size} (first at index {_first_index(bad)})"
                )
        if minimum is not None or maximum is not None:
            bad = _outside(values, minimum, maximum, min_open, max_open)
            if bad.any():
                idx = _first_index(bad)
                raise ValueError(
                    f"{name} must have every element "
                    f"{_range_text(minimum, maximum, min_open, max_open)}; got {int(bad.sum())} "
                    f"outside (first {values[idx]!r} at index {idx})"
                )
    return got_shape


def _shape_text(shape: Sequence[int | None]) -> str:
    return "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"


def _first_index(mask: np.ndarray) -> tuple[int, ...] | int:
    idx = tuple(int(i) for i in np.argwhere(mask)[0])
    return idx[0] if len(idx) == 1 else idx


def check_same_size(sizes: dict[str, int], what: str = "length") -> int:
    """All ``{name: size}`` must agree; returns the size: ``check_same_size({"x rows": 3})``."""
    values = set(sizes.values())
    if len(values) > 1:
        listed = ", ".join(f"{k} = {v}" for k, v in sizes.items())
        raise ValueError(f"{' and '.join(sizes)} must have the same {what}; got {listed}")
    return next(iter(values))


def check_tree_finite(tree: PyTree, name: str) -> None:
    """Every concrete floating leaf of ``tree`` is finite (tracers and PRNG keys are skipped)."""
    import jax

    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        if not is_concrete(leaf) or not hasattr(leaf, "dtype"):
            continue
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            continue  # typed PRNG keys have no NumPy dtype and no NaN
        if np.dtype(leaf.dtype).kind in "fc" and not np.all(np.isfinite(np.asarray(leaf))):
            where = jax.tree_util.keystr(path) or "(root)"
            raise ValueError(f"{name} must be finite; leaf {where} contains NaN or inf")


def check_same_structure(reference: PyTree, other: PyTree, ref_name: str, other_name: str) -> None:
    """``other`` must have the tree structure and leaf shapes of ``reference``."""
    import jax

    ref_def, other_def = jax.tree.structure(reference), jax.tree.structure(other)
    if ref_def != other_def:
        raise ValueError(
            f"{other_name} must have the same tree structure as {ref_name}; got {other_def} vs "
            f"{ref_def}"
        )
    for (path, a), b in zip(
        jax.tree_util.tree_leaves_with_path(reference), jax.tree.leaves(other), strict=True
    ):
        if np.shape(a) != np.shape(b):
            where = jax.tree_util.keystr(path) or "(root)"
            raise ValueError(
                f"{other_name} must have the leaf shapes of {ref_name}; at {where} got "
                f"{np.shape(b)} vs {np.shape(a)}"
            )


def check_key(key: Any, name: str = "key") -> Any:
    """A JAX PRNG key: a typed key array or a raw ``uint32[2]`` key."""
    import jax

    if hasattr(key, "dtype") and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    if hasattr(key, "dtype") and np.dtype(key.dtype) == np.uint32 and np.shape(key)[-1:] == (2,):
        return key
    raise TypeError(f"{name} must be a JAX PRNG key (jax.random.key(seed)); got {_describe(key)}")


def check_optimizer(optimizer: Any, name: str = "optimizer") -> Any:
    """An ``optax.GradientTransformation`` (anything with ``init`` and ``update`` callables)."""
    if not (
        callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))
    ):
        raise TypeError(
            f"{name} must be an optax.GradientTransformation (with init and update); got "
            f"{_describe(optimizer)}"
        )
    return optimizer


def check_bool(value: Any, name: str) -> bool:
    """A Python or NumPy bool (``"no"``, ``None`` and ``1`` are refused with a TypeError)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool (True or False); got {_describe(value)}")
    return bool(value)


def check_str(value: Any, name: str, *, nonempty: bool = True) -> str:
    """A string, non-empty unless ``nonempty=False``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str; got {_describe(value)}")
    if nonempty and not value.strip():
        raise ValueError(f"{name} must be a non-empty str; got {value!r}")
    return value


def check_path(value: Any, name: str, *, exists: str | None = None):
    """A ``str`` or ``os.PathLike`` path; ``exists="file"``/``"dir"`` also requires it on disk.

    Raises:
        TypeError: not a path.
        FileNotFoundError: ``exists`` was given and the file or folder is not there; the message
            names the argument and the path.
    """
    import os
    from pathlib import Path

    if not isinstance(value, str | os.PathLike) or (isinstance(value, str) and not value):
        raise TypeError(f"{name} must be a path (str or os.PathLike); got {_describe(value)}")
    path = Path(value)
    if exists == "file" and not path.is_file():
        raise FileNotFoundError(f"{name} {path} does not exist or is not a file")
    if exists == "dir" and not path.is_dir():
        raise FileNotFoundError(f"{name} {path} does not exist or is not a directory")
    return path
