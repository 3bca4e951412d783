"""Helpers shared by the hyperbolic figure modules: cached embeddings, vmapped training."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import jax
import numpy as np

from experiments.harness.io import write_atomic
from jaxml.hyperbolic import make_poincare_trainer


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


def train_embeddings(edges, num_nodes: int, dim: int, seeds, num_epochs: int, **trainer_kwargs):
    """Trains one embedding per seed in a single vmapped, jitted program.

    Independent runs of one hierarchy share shapes, so ``vmap`` over their states trains them
    together (one compile, one loop).

    Returns:
        ``(embeddings [len(seeds), n, d], final losses [len(seeds)], relations/s, seconds)``
        where relations/s counts every run's relations (after the first, compiling, epoch).
    """
    init, epoch = make_poincare_trainer(edges, num_nodes, dim, **trainer_kwargs)
    keys = jax.vmap(jax.random.key)(np.asarray(seeds, np.uint32))
    init_keys, train_keys = jax.vmap(jax.random.split, out_axes=1)(keys)
    states = jax.vmap(init)(init_keys)
    step = jax.jit(jax.vmap(epoch), donate_argnums=0)
    first = rest = 0.0
    losses = None
    for e in range(num_epochs):
        t0 = time.perf_counter()
        states, losses = step(states, jax.vmap(lambda k, e=e: jax.random.fold_in(k, e))(train_keys))
        losses = np.asarray(losses)
        if not np.all(np.isfinite(losses)):
            raise FloatingPointError(f"Poincare-embedding loss became {losses} at epoch {e}")
        if e == 0:
            first = time.perf_counter() - t0
        else:
            rest += time.perf_counter() - t0
    m = len(edges) * len(seeds)
    rate = m * (num_epochs - 1) / rest if num_epochs > 1 else m / first
    return np.asarray(states.params), losses, float(rate), first + rest


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
