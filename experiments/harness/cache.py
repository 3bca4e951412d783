"""Named, keyed result caches under ``<workdir>/ckpt/``: the resume points of figures whose work
is a list of independent pieces (one embedding, one alignment) rather than one training loop.

A piece is saved as ``<workdir>/ckpt/<name>.npz`` with the hash of everything it depends on; a
rerun reuses it only when the hash matches, so a changed config recomputes instead of reading a
stale result.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from experiments.harness.io import read_json, write_atomic, write_json_atomic


def cache_key(**fields) -> str:
    """A short hash of JSON-able fields (names a cached result)."""
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_cached(workdir: Path, name: str, key: str) -> dict | None:
    """``workdir/ckpt/<name>.npz`` if it was written for the same ``key``, else None."""
    path = Path(workdir) / "ckpt" / f"{name}.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        if str(data["_key"]) != key:
            return None
        return {k: data[k] for k in data.files if k != "_key"}


def save_cached(workdir: Path, name: str, key: str, **arrays) -> None:
    """Writes ``workdir/ckpt/<name>.npz`` atomically (resume point of a killed run)."""
    path = Path(workdir) / "ckpt" / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda f: np.savez(f, _key=np.asarray(key), **arrays), binary=True)


def cached_record(workdir: Path, name: str, key: str, compute) -> Any:
    """``compute()``'s JSON-able record, or the one saved under ``name`` for the same ``key``.

    The record is written atomically to ``workdir/ckpt/<name>.json`` the moment it is computed,
    so a killed figure made of many short runs (seconds each) resumes after the last one done.
    """
    path = Path(workdir) / "ckpt" / f"{name}.json"
    if path.is_file():
        saved = read_json(path)
        if saved.get("_key") == key:
            return saved["record"]
    record = compute()
    write_json_atomic(path, {"_key": key, "record": record})
    return record


def seed_stats(values) -> dict:
    """``{"mean", "std", "min", "max", "n"}`` of per-seed values (std: population, ddof 0)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("seed_stats needs at least one value")
    return {
        "mean": float(v.mean()),
        "std": float(v.std()),
        "min": float(v.min()),
        "max": float(v.max()),
        "n": int(v.size),
    }


def format_stats(values, digits: int = 3) -> str:
    """``"mean +- std [min, max]"`` of per-seed values."""
    s = seed_stats(values)
    return (
        f"{s['mean']:.{digits}f} +- {s['std']:.{digits}f} "
        f"[{s['min']:.{digits}f}, {s['max']:.{digits}f}]"
    )
