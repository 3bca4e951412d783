"""Compressed models on disk: sparse values as CSR or a bitmask, quantized values with scales.

:func:`save_compressed` writes one uncompressed NumPy ``.npz`` (so the file size is what the
format costs, not what zlib finds) holding, per leaf, the cheapest of

- ``dense``: every value in its stored dtype (float32, float16, bfloat16 or int8);
- ``bitmask``: one bit per entry (``np.packbits``) + the non-zero values;
- ``csr``: the leaf as ``[prod(shape[:-1]), shape[-1]]`` rows: ``indptr`` (int32), column
  indices (uint8 / uint16 / int32, the smallest that fits) + the non-zero values;

plus the quantization scales and a JSON manifest (paths, shapes, dtypes, formats). "Zero" is a
zero bit pattern, so ``-0.0`` survives and the round trip is bit-exact. :func:`load_compressed`
reads it back and decompresses with the same operation as ``Quantize.decompress``, so the loaded
params are bitwise equal to ``scheme.decompress(stored, aux)``.
"""

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np

from jaxml import _validation as v
from jaxml._validation import PyTree
from jaxml.compress._base import PruneAux, QuantAux

__all__ = ["SPARSE_FORMATS", "StorageReport", "load_compressed", "save_compressed"]

SPARSE_FORMATS = ("auto", "dense", "bitmask", "csr")
_VERSION = 1


class StorageReport(NamedTuple):
    """What :func:`save_compressed` wrote.

    Attributes:
        path: the file.
        file_bytes: its size on disk (headers and manifest included).
        dense_float32_bytes: ``4 *`` the number of parameters (the uncompressed float32 model).
        reduction: ``dense_float32_bytes / file_bytes``.
        formats: leaf path -> the format chosen for it.
    """

    path: Path
    file_bytes: int
    dense_float32_bytes: int
    reduction: float
    formats: dict[str, str]


def _quant_scales(aux: Any) -> PyTree | None:
    found = []

    def walk(a):
        if isinstance(a, QuantAux):
            found.append(a.scales)
        elif isinstance(a, tuple) and not hasattr(a, "_fields"):
            for b in a:
                walk(b)
        elif a is not None and not isinstance(a, PruneAux):
            raise TypeError(
                f"aux must be what a jaxml.compress scheme's compress returned; got {a!r:.80}"
            )

    walk(aux)
    if len(found) > 1:
        raise ValueError("aux holds more than one quantization; store one Quantize per model")
    return found[0] if found else None


def _keys(path) -> list[str]:
    keys = []
    for k in path:
        if not isinstance(getattr(k, "key", None), str):
            raise TypeError(
                "stored must be nested dicts with str keys (flax params); got a key "
                f"{k!r} at {jax.tree_util.keystr(path)}"
            )
        keys.append(k.key)
    return keys


def _bits(x: np.ndarray) -> np.ndarray:
    return x.view(np.dtype(f"u{x.dtype.itemsize}")) != 0


def _encode(x: np.ndarray, fmt: str) -> tuple[str, dict[str, np.ndarray]]:
    flat = x.reshape(-1)
    nz = _bits(flat)
    vals = flat[nz]
    rows = int(np.prod(x.shape[:-1])) if x.ndim > 1 else 1
    cols = x.shape[-1] if x.ndim else 1
    idx_dtype = np.uint8 if cols <= 256 else np.uint16 if cols <= 65536 else np.int32
    sizes = {
        "dense": flat.nbytes,
        "bitmask": (flat.size + 7) // 8 + vals.nbytes,
        "csr": 4 * (rows + 1) + int(nz.sum()) * np.dtype(idx_dtype).itemsize + vals.nbytes,
    }
    if fmt == "auto":
        fmt = min(sizes, key=sizes.get)
    if fmt == "dense":
        return fmt, {"values": flat}
    if fmt == "bitmask":
        return fmt, {"bitmask": np.packbits(nz), "values": vals}
    nz2 = nz.reshape(rows, cols)
    indptr = np.concatenate([[0], np.cumsum(nz2.sum(axis=1))]).astype(np.int32)
    indices = np.nonzero(nz2)[1].astype(idx_dtype)
    return fmt, {"indptr": indptr, "indices": indices, "values": vals}


def _decode(fmt: str, arrays: dict[str, np.ndarray], shape, dtype) -> np.ndarray:
    n = int(np.prod(shape))
    if fmt == "dense":
        return arrays["values"].reshape(shape)
    out = np.zeros(n, dtype)
    if fmt == "bitmask":
        mask = np.unpackbits(arrays["bitmask"], count=n).astype(bool)
    else:
        rows = arrays["indptr"].shape[0] - 1
        cols = n // max(rows, 1)
        mask2 = np.zeros((rows, cols), bool)
        row_of = np.repeat(np.arange(rows), np.diff(arrays["indptr"]))
        mask2[row_of, arrays["indices"].astype(np.int64)] = True
        mask = mask2.reshape(-1)
    out[mask] = arrays["values"]
    return out.reshape(shape)


def _to_numpy(x) -> tuple[np.ndarray, str]:
    a = np.asarray(x)
    name = jnp.dtype(a.dtype).name
    if name == "bfloat16":
        a = a.view(np.uint16)
    return a, name


def save_compressed(
    path: str | os.PathLike, stored: PyTree, aux: Any = None, *, sparse: str = "auto"
) -> StorageReport:
    """Writes ``stored`` (the first output of a scheme's ``compress``) and its scales to ``path``.

    Args:
        path: the ``.npz`` file to write (its folder is created).
        stored: nested dicts of concrete arrays (flax params) as returned by ``compress``.
        aux: the second output of ``compress`` (only quantization scales are stored: pruning
            masks are implied by the zeros); ``None`` for an uncompressed model.
        sparse: "auto" (the smallest per leaf), "dense", "bitmask" or "csr".

    Returns:
        A :class:`StorageReport` with the bytes on disk against dense float32.
    """
    path = v.check_path(path, "path")
    v.check_choice(sparse, "sparse", SPARSE_FORMATS)
    flat = jax.tree_util.tree_flatten_with_path(stored)[0]
    if not flat:
        raise ValueError("stored must hold at least one array; got an empty pytree")
    scales = _quant_scales(aux)
    scale_leaves = None
    if scales is not None:
        like = jax.tree.map(lambda s: 0, scales, is_leaf=lambda s: s is None)
        if jax.tree.structure(like) != jax.tree.structure(stored):
            raise ValueError("aux must come from the compress call that returned stored")
        scale_leaves = jax.tree.leaves(scales, is_leaf=lambda s: s is None)
    arrays, manifest, formats, total = {}, [], {}, 0
    for i, (p, leaf) in enumerate(flat):
        keys = _keys(p)
        if not hasattr(leaf, "shape") or not v.is_concrete(leaf):
            raise TypeError(f"stored must hold concrete arrays; got {leaf!r:.60} at {keys}")
        a, dtype = _to_numpy(leaf)
        fmt, parts = _encode(a, "dense" if a.ndim == 0 else sparse)
        for k, arr in parts.items():
            arrays[f"{i}.{k}"] = arr
        entry = {"keys": keys, "shape": list(a.shape), "dtype": dtype, "format": fmt}
        if scale_leaves is not None and scale_leaves[i] is not None:
            s, sdtype = _to_numpy(scale_leaves[i])
            arrays[f"{i}.scale"] = s
            entry["scale_dtype"] = sdtype
        manifest.append(entry)
        formats["/".join(keys)] = fmt
        total += int(np.prod(a.shape))
    header = json.dumps({"version": _VERSION, "leaves": manifest})
    arrays["manifest"] = np.frombuffer(header.encode(), np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    size = path.stat().st_size
    return StorageReport(path, size, 4 * total, 4 * total / size, formats)


def _from_numpy(a: np.ndarray, name: str) -> np.ndarray:
    return a.view(ml_dtypes.bfloat16) if name == "bfloat16" else a


def load_compressed(path: str | os.PathLike, *, decompress: bool = True) -> PyTree:
    """Reads a file written by :func:`save_compressed`.

    Args:
        path: the ``.npz`` file.
        decompress: True: the float params to run (bitwise equal to
            ``scheme.decompress(stored, aux)``); False: ``(stored, scales)`` as saved (scales
            ``None`` where a leaf was not quantized).

    Returns:
        Nested dicts of ``jax.Array`` (or the ``(stored, scales)`` pair).
    """
    path = v.check_path(path, "path", exists="file")
    v.check_bool(decompress, "decompress")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        meta = json.loads(bytes(data["manifest"]).decode())
        leaves = meta["leaves"]
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"path {path} is not a file written by save_compressed ({e})") from None
    stored, scales = {}, {}
    for i, e in enumerate(leaves):
        parts = {k.split(".", 1)[1]: a for k, a in data.items() if k.split(".", 1)[0] == str(i)}
        raw = "uint16" if e["dtype"] == "bfloat16" else e["dtype"]
        value = _from_numpy(
            _decode(e["format"], parts, tuple(e["shape"]), np.dtype(raw)), e["dtype"]
        )
        scale = _from_numpy(parts["scale"], e["scale_dtype"]) if "scale" in parts else None
        node_s, node_c = stored, scales
        for k in e["keys"][:-1]:
            node_s, node_c = node_s.setdefault(k, {}), node_c.setdefault(k, {})
        node_s[e["keys"][-1]] = jnp.asarray(value)
        node_c[e["keys"][-1]] = None if scale is None else jnp.asarray(scale)
    if not decompress:
        return stored, scales
    return jax.tree.map(
        lambda q, s: q if s is None else q.astype(s.dtype) * s,
        stored,
        scales,
        is_leaf=lambda x: x is None,
    )
