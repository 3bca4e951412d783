"""CIFAR-10 in its "python version" layout (Krizhevsky, 2009): pickled batches of 32x32 images.

``cifar-10-batches-py/`` holds ``data_batch_1`` .. ``data_batch_5`` (10,000 training images each),
``test_batch`` (10,000 test images) and ``batches.meta``. Each batch is a dict pickled by
Python 2: ``b"data"`` is a ``uint8`` array ``[N, 3072]`` whose rows are an image in CHW
row-major order (1024 red, then 1024 green, then 1024 blue values) and ``b"labels"`` a list of
``N`` ints in ``[0, 10)``; ``batches.meta`` has ``b"label_names"``.

Pickles can run arbitrary code when loaded; the reader here uses a restricted unpickler that only
accepts the few NumPy globals such files need, so a tampered file raises ``ValueError`` instead.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxml._validation import check_path
from jaxml.data.splits import Dataset, Seed, Split, _check_fraction, make_dataset

PathLike = str | os.PathLike[str]

_FOLDER = "cifar-10-batches-py"
_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
_TEST_FILE = "test_batch"
_META_FILE = "batches.meta"
_IMAGE_SHAPE_CHW = (3, 32, 32)
_ROW = 3 * 32 * 32
_NUM_CLASSES = 10

# The only globals a CIFAR pickle may reference (ndarray reconstruction, by NumPy 1 or 2, and
# the bytes encoding of Python 3's protocol-2 pickles).
_ALLOWED_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }
)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR file")
        return super().find_class(module, name)


def _load_pickle(path: Path) -> Any:
    with open(path, "rb") as f:
        try:
            return _RestrictedUnpickler(f, encoding="bytes").load()
        except Exception as e:  # Any unpickling failure means a malformed file.
            raise ValueError(f"CIFAR file {path} is not a valid pickle: {e}") from e


def _get(d: dict, key: str) -> Any:
    """``d[b"key"]`` (Python 2 pickles) or ``d["key"]`` (Python 3 ones)."""
    if key.encode() in d:
        return d[key.encode()]
    return d[key]


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Reads one batch file as ``(images uint8 [N, 32, 32, 3], labels int32 [N])``."""
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 batch file {path} not found")
    batch = _load_pickle(path)
    if not isinstance(batch, dict):
        raise ValueError(f"CIFAR file {path} must hold a dict, got {type(batch).__name__}")
    try:
        data, labels = _get(batch, "data"), _get(batch, "labels")
    except KeyError as e:
        raise ValueError(
            f"CIFAR file {path} must have keys b'data' and b'labels', got {sorted(batch, key=str)}"
        ) from e
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _ROW:
        raise ValueError(
            f"CIFAR file {path}: b'data' must be uint8 [N, {_ROW}], got {data.dtype} "
            f"{list(data.shape)}"
        )
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"CIFAR file {path}: b'labels' must be a list of ints") from e
    if labels.shape != (data.shape[0],):
        raise ValueError(
            f"CIFAR file {path}: b'labels' must have N = {data.shape[0]} entries like b'data', "
            f"got shape {list(labels.shape)}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= _NUM_CLASSES):
        raise ValueError(
            f"CIFAR file {path}: labels must lie in [0, {_NUM_CLASSES}), got values in "
            f"[{labels.min()}, {labels.max()}]"
        )
    images = data.reshape(-1, *_IMAGE_SHAPE_CHW).transpose(0, 2, 3, 1)  # NCHW -> NHWC.
    return images, labels.astype(np.int32)


def _read_label_names(path: Path) -> tuple[str, ...] | None:
    if not path.is_file():
        return None
    meta = _load_pickle(path)
    try:
        names = _get(meta, "label_names")
    except (KeyError, TypeError) as e:
        raise ValueError(f"CIFAR meta file {path} must be a dict with b'label_names'") from e
    names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    if len(names) != _NUM_CLASSES:
        raise ValueError(
            f"CIFAR meta file {path}: b'label_names' must have {_NUM_CLASSES} entries, "
            f"got {len(names)}"
        )
    return names


def _resolve_directory(directory: Path) -> Path:
    for candidate in (directory, directory / _FOLDER):
        if (candidate / _TRAIN_FILES[0]).is_file() or (candidate / _TEST_FILE).is_file():
            return candidate
    raise FileNotFoundError(
        f"no CIFAR-10 batches in {directory}: looked for {directory / _TRAIN_FILES[0]} and "
        f"{directory / _FOLDER / _TRAIN_FILES[0]}"
    )


def load_cifar10(directory: PathLike, *, seed: Seed = 0, val_fraction: float = 0.1) -> Dataset:
    """Loads CIFAR-10 from its python-pickle batches.

    Args:
      directory: ``cifar-10-batches-py`` itself, or the directory containing it.
      seed: int or JAX PRNG key for the train/validation split.
      val_fraction: fraction of the 50,000 training images for validation (stratified by
        class), in ``[0, 1)``.

    Returns:
      A :class:`~jaxml.data.splits.Dataset` named ``"cifar10"``: ``float32`` NHWC inputs
      ``[n, 32, 32, 3]`` in ``[0, 1]`` (pixels / 255), ``int32`` labels, ``num_classes=10``,
      ``test`` = ``test_batch``, and ``class_names`` from ``batches.meta`` when present.

    Raises:
      FileNotFoundError: a batch file is missing; the message names its path.
      ValueError: a file is not a CIFAR batch (not a dict, missing keys, wrong shapes or dtype,
        labels out of range, or a pickle referencing anything but NumPy arrays).
    """
    _check_fraction(val_fraction, "val_fraction")
    root = _resolve_directory(check_path(directory, "directory", exists="dir"))
    train = [_read_batch(root / name) for name in _TRAIN_FILES]
    test_images, test_labels = _read_batch(root / _TEST_FILE)
    train_images = np.concatenate([images for images, _ in train])
    train_labels = np.concatenate([labels for _, labels in train])
    return make_dataset(
        _to_float(train_images),
        train_labels,
        name="cifar10",
        num_classes=_NUM_CLASSES,
        seed=seed,
        val_fraction=val_fraction,
        test=Split(_to_float(test_images), test_labels),
        class_names=_read_label_names(root / _META_FILE),
    )


def _to_float(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / np.float32(255.0)


def write_cifar10_batch(
    path: PathLike, images: np.ndarray, labels: Sequence[int] | np.ndarray
) -> None:
    """Writes one batch file in the CIFAR-10 python format (for tests and synthetic data).

    The inverse of the reader: the file holds ``{b"batch_label", b"labels", b"data",
    b"filenames"}`` pickled with protocol 2 like the originals, ``b"data"`` being ``images``
    transposed to CHW rows ``[N, 3072]``.

    Args:
      path: the file to write.
      images: ``uint8`` NHWC images ``[N, 32, 32, 3]``.
      labels: ``N`` ints in ``[0, 10)``.

    Raises:
      ValueError: ``images`` or ``labels`` of the wrong shape, dtype or range.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise ValueError(
            f"images must be uint8 [N, 32, 32, 3], got {images.dtype} {list(images.shape)}"
        )
    labels = np.asarray(labels)
    if labels.shape != (images.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be {images.shape[0]} integers like images, got {labels.dtype} "
            f"{list(labels.shape)}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= _NUM_CLASSES):
        raise ValueError(f"labels must lie in [0, {_NUM_CLASSES}), got max {labels.max()}")
    path = Path(path)
    batch = {
        b"batch_label": f"{path.name} written by jaxml".encode(),
        b"labels": [int(label) for label in labels],
        b"data": np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(-1, _ROW),
        b"filenames": [f"image_{i:05d}.png".encode() for i in range(images.shape[0])],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def write_cifar10_meta(path: PathLike, label_names: Sequence[str]) -> None:
    """Writes a ``batches.meta`` file holding ``b"label_names"`` (10 names)."""
    if len(label_names) != _NUM_CLASSES:
        raise ValueError(f"label_names must have {_NUM_CLASSES} entries, got {len(label_names)}")
    meta = {
        b"label_names": [str(n).encode() for n in label_names],
        b"num_cases_per_batch": 10000,
        b"num_vis": _ROW,
    }
    with open(path, "wb") as f:
        pickle.dump(meta, f, protocol=2)
