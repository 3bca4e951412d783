"""The IDX file format of MNIST (and Fashion-MNIST, KMNIST, ...), and an MNIST directory loader.

An IDX file (LeCun et al., http://yann.lecun.com/exdb/mnist/) is a header followed by the array
in C (row-major) order, every multi-byte number big-endian:

=========  ======================================================================
bytes      content
=========  ======================================================================
0-1        ``0x00 0x00``
2          element type: ``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32,
           ``0x0D`` float32, ``0x0E`` float64
3          number of dimensions ``ndim``
4..        ``ndim`` sizes, each an unsigned 32-bit integer
then       ``prod(sizes)`` elements
=========  ======================================================================

Files are often distributed gzip-compressed; :func:`read_idx` recognizes gzip by the file's first
two bytes (``1f 8b``), whatever its name.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from jaxml._validation import check_bool, check_path
from jaxml.data.splits import (
    Dataset,
    Seed,
    Split,
    _check_fraction,
    _check_positive_int,
    make_dataset,
)

PathLike = str | os.PathLike[str]

# IDX type code -> big-endian element dtype.
_CODE_TO_DTYPE: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: PathLike) -> np.ndarray:
    """Reads an IDX file, plain or gzip-compressed.

    Args:
      path: the file. Gzip compression is detected from the content, not the extension.

    Returns:
      The array, with the file's shape and element type in native byte order (``uint8``,
      ``int8``, ``int16``, ``int32``, ``float32`` or ``float64``); writable.

    Raises:
      FileNotFoundError: ``path`` does not exist.
      ValueError: the content is not a valid IDX file (bad magic bytes, unknown type code,
        truncated header or payload, trailing bytes, corrupt gzip stream); the message names
        ``path``.
    """
    path = check_path(path, "path", exists="file")
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"IDX file path {path} is not a valid gzip stream: {e}") from e
    return _parse_idx(raw, path)


def _parse_idx(raw: bytes, path: Path) -> np.ndarray:
    if len(raw) < 4:
        raise ValueError(
            f"IDX file path {path} is truncated: {len(raw)} bytes, shorter than the 4-byte header"
        )
    if raw[0:2] != b"\x00\x00":
        raise ValueError(
            f"path {path} is not an IDX file: it must start with bytes 00 00, "
            f"got {raw[:2].hex(' ')}"
        )
    code, ndim = raw[2], raw[3]
    if code not in _CODE_TO_DTYPE:
        known = ", ".join(f"0x{c:02X}" for c in _CODE_TO_DTYPE)
        raise ValueError(
            f"IDX file path {path} has unknown type code 0x{code:02X} (known: {known})"
        )
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise ValueError(
            f"IDX file path {path} is truncated: its header declares {ndim} dimensions "
            f"({header_len} bytes) but the file has {len(raw)} bytes"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header_len])
    dtype = _CODE_TO_DTYPE[code]
    count = math.prod(shape)
    expected = count * dtype.itemsize
    found = len(raw) - header_len
    if found < expected:
        raise ValueError(
            f"IDX file path {path} is truncated: shape {shape} of {dtype.name} needs {expected} "
            f"payload bytes, found {found}"
        )
    if found > expected:
        raise ValueError(
            f"IDX file path {path} has {found - expected} unexpected trailing bytes after the "
            f"{expected}-byte payload of shape {shape}"
        )
    array = np.frombuffer(raw, dtype=dtype, count=count, offset=header_len)
    return array.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def write_idx(path: PathLike, array: np.ndarray) -> None:
    """Writes ``array`` as an IDX file, gzip-compressed if ``path`` ends with ``.gz``.

    The inverse of :func:`read_idx`: ``read_idx(p)`` equals ``array`` (same dtype and shape)
    after ``write_idx(p, array)``.

    Args:
      path: the file to write (parent directories must exist).
      array: an array of dtype ``uint8``, ``int8``, ``int16``, ``int32``, ``float32`` or
        ``float64`` (any byte order), at most 255 dimensions, each size below ``2**32``.

    Raises:
      TypeError: ``array`` has a dtype IDX cannot store.
      ValueError: ``array`` has too many dimensions or a size too large for IDX.
    """
    path = check_path(path, "path")
    v_array = array
    if isinstance(v_array, str | bytes) or v_array is None:
        raise TypeError(f"array must be a NumPy array; got {type(v_array).__name__}")
    array = np.asarray(array)
    if array.ndim == 0:
        raise ValueError("array must have at least 1 dimension for IDX; got a 0-D scalar")
    code = None
    for c, dtype in _CODE_TO_DTYPE.items():
        if array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize:
            code = c
            break
    if code is None:
        raise TypeError(
            "array must have dtype uint8, int8, int16, int32, float32 or float64 to be written "
            f"as IDX, got {array.dtype}"
        )
    if array.ndim > 255:
        raise ValueError(f"array must have at most 255 dimensions for IDX, got {array.ndim}")
    if any(s >= 2**32 for s in array.shape):
        raise ValueError(f"array sizes must be below 2**32 for IDX, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = np.ascontiguousarray(array, dtype=_CODE_TO_DTYPE[code]).tobytes()
    data = header + payload
    path = Path(path)
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)


# Role -> (stem, suffix). Mirrors spell a file "train-images-idx3-ubyte" or
# "train-images.idx3-ubyte".
_MNIST_FILES = {
    "train images": ("train-images", "idx3-ubyte"),
    "train labels": ("train-labels", "idx1-ubyte"),
    "test images": ("t10k-images", "idx3-ubyte"),
    "test labels": ("t10k-labels", "idx1-ubyte"),
}


def _mnist_candidates(stem: str, suffix: str) -> list[str]:
    names = [f"{stem}-{suffix}", f"{stem}.{suffix}"]
    return [n for name in names for n in (name, name + ".gz")]


def _find_mnist_files(directory: Path) -> dict[str, Path]:
    if not directory.is_dir():
        raise FileNotFoundError(f"MNIST directory {directory} does not exist or is not a directory")
    found, missing = {}, []
    for role, (stem, suffix) in _MNIST_FILES.items():
        candidates = _mnist_candidates(stem, suffix)
        path = next((directory / c for c in candidates if (directory / c).is_file()), None)
        if path is None:
            missing.append(f"{role}: one of {', '.join(candidates)}")
        else:
            found[role] = path
    if missing:
        raise FileNotFoundError(
            f"MNIST IDX files missing in directory {directory}: " + "; ".join(missing)
        )
    return found


def _read_images_and_labels(
    images_path: Path, labels_path: Path, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"IDX images {images_path} must be uint8 [n, rows, cols], got {images.dtype} "
            f"{list(images.shape)}"
        )
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"IDX labels {labels_path} must be integer [n], got {labels.dtype} {list(labels.shape)}"
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"image/label count mismatch: {images_path} holds {images.shape[0]} images but "
            f"{labels_path} holds {labels.shape[0]} labels"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"IDX labels {labels_path} must lie in [0, num_classes) = [0, {num_classes}), got "
            f"values in [{labels.min()}, {labels.max()}]"
        )
    return images, labels.astype(np.int32)


def load_mnist_idx(
    directory: PathLike,
    *,
    seed: Seed = 0,
    val_fraction: float = 0.1,
    flatten: bool = False,
    num_classes: int = 10,
    name: str = "mnist",
) -> Dataset:
    """Loads MNIST (or any dataset in its layout, e.g. Fashion-MNIST) from IDX files.

    ``directory`` must hold ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each optionally gzip-compressed
    with a ``.gz`` suffix, and each optionally spelled with a dot (``train-images.idx3-ubyte``).
    The t10k files are the test split; the validation split is carved from the training files,
    stratified by class, with ``seed``.

    Args:
      directory: the directory holding the four files.
      seed: int or JAX PRNG key for the train/validation split.
      val_fraction: fraction of the training files for validation, in ``[0, 1)``.
      flatten: return ``[n, rows * cols]`` vectors instead of ``[n, rows, cols, 1]`` images.
      num_classes: labels must lie in ``[0, num_classes)``.
      name: the returned dataset's name.

    Returns:
      A :class:`~jaxml.data.splits.Dataset`: ``float32`` inputs in ``[0, 1]`` (pixels / 255),
      ``[n, 28, 28, 1]`` for MNIST (or ``[n, 784]``), ``int32`` labels.

    Raises:
      FileNotFoundError: the directory or one of the files is missing; the message names the
        directory and every file name tried.
      ValueError: a malformed file, or a count mismatch between images and labels.
    """
    num_classes = _check_positive_int(num_classes, "num_classes", minimum=2)
    _check_fraction(val_fraction, "val_fraction")
    check_bool(flatten, "flatten")
    files = _find_mnist_files(check_path(directory, "directory", exists="dir"))
    train_images, train_labels = _read_images_and_labels(
        files["train images"], files["train labels"], num_classes
    )
    test_images, test_labels = _read_images_and_labels(
        files["test images"], files["test labels"], num_classes
    )
    if train_images.shape[1:] != test_images.shape[1:]:
        raise ValueError(
            f"train images {files['train images']} are {train_images.shape[1:]} but test images "
            f"{files['test images']} are {test_images.shape[1:]}"
        )
    return make_dataset(
        _to_float(train_images, flatten),
        train_labels,
        name=name,
        num_classes=num_classes,
        seed=seed,
        val_fraction=val_fraction,
        test=Split(_to_float(test_images, flatten), test_labels),
    )


def _to_float(images: np.ndarray, flatten: bool) -> np.ndarray:
    x = images.astype(np.float32) / np.float32(255.0)
    return x.reshape(x.shape[0], -1) if flatten else x[..., None]
