"""Atomic file output: a reader never sees a half-written metrics.json, config.json or PNG.

Every writer goes through a temporary file in the destination folder, flushed and fsync'ed, then
``os.replace``d over the destination (atomic on POSIX). If the process dies mid-write the old file
(or no file) is left, plus at most a stray ``.tmp`` file that the next write cleans up.
"""

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def to_jsonable(obj: Any) -> Any:
    """Converts numpy / JAX scalars and arrays, tuples, paths and dataclasses to JSON types.

    Non-finite floats become the strings "nan", "inf", "-inf" so the file stays strict JSON;
    :func:`read_json` turns exactly these strings back into floats.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else str(x)
    if hasattr(obj, "__array__"):  # jax.Array, np.ndarray
        arr = np.asarray(obj)
        return to_jsonable(arr.item() if arr.ndim == 0 else arr.tolist())
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"cannot convert {type(obj).__name__} to JSON: {obj!r}")


def write_atomic(path: str | os.PathLike, write: Callable[[Any], None], *, binary: bool) -> Path:
    """Calls ``write(file_object)`` on a temp file next to ``path``, then renames it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Writes ``obj`` (converted by :func:`to_jsonable`) as indented JSON, atomically.

    The object is serialized to a string *before* the file is touched, so a serialization error
    leaves the previous file intact.
    """
    text = json.dumps(to_jsonable(obj), indent=2, sort_keys=False, allow_nan=False) + "\n"
    return write_atomic(path, lambda f: f.write(text), binary=False)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Writes ``text`` to ``path`` atomically."""
    return write_atomic(path, lambda f: f.write(text), binary=False)


_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def from_jsonable(obj: Any) -> Any:
    """Inverse of the non-finite encoding of :func:`to_jsonable`: "nan"/"inf"/"-inf" -> float."""
    if isinstance(obj, dict):
        return {k: from_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_jsonable(v) for v in obj]
    if isinstance(obj, str) and obj in _NON_FINITE:
        return _NON_FINITE[obj]
    return obj


def read_json(path: str | os.PathLike) -> Any:
    """Reads a JSON file written by :func:`write_json_atomic`, restoring non-finite floats.

    Raises FileNotFoundError / ValueError that name ``path``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no JSON file at {path}")
    try:
        return from_jsonable(json.loads(path.read_text()))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from e
