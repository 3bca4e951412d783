"""Helpers shared by the hyperbolic figure modules: result caching, seed keys, seed statistics."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import jax
import numpy as np

from experiments.harness.io import write_atomic
from jaxml.hyperbolic import align, precision_at_k


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


def seed_keys(seeds) -> jax.Array:
    """A batch ``[S]`` of PRNG keys, ``jax.random.key(seed)`` per seed (for
    ``jaxml.hyperbolic.train_poincare_embeddings``, which trains one run per key together)."""
    return jax.vmap(jax.random.key)(np.asarray(list(seeds), np.uint32))


def align_precision(x, y, truth, method: str, seed: int, **align_kwargs) -> dict:
    """``{"p_at_1", "p_at_10", "seconds"}`` of ``align(x, y, method, key=key(seed), ...)``."""
    t0 = time.perf_counter()
    res = align(x, y, method, key=jax.random.key(seed), **align_kwargs)
    out = {f"p_at_{k}": float(precision_at_k(res.log_plan, truth, k)) for k in (1, 10)}
    return {**out, "seconds": time.perf_counter() - t0}


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
