"""The scikit-learn 8x8 handwritten digits (UCI optical digits test set): 1,797 images, 10 classes.

Shipped inside scikit-learn, so it needs no network. The default small dataset of ``jaxml``.
"""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np

from jaxml.data.splits import Dataset, Seed, make_dataset


def load_digits(
    *,
    seed: Seed = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.2,
    flatten: bool = True,
) -> Dataset:
    """Loads the 8x8 digits and splits them (stratified by class) with ``seed``.

    Pixel values are integers 0..16 in the source; they are divided by 16.

    Args:
      seed: int or JAX PRNG key for the train/val/test split.
      val_fraction: fraction of the 1,797 images for validation, in ``[0, 1)``.
      test_fraction: fraction for test, in ``[0, 1)``.
      flatten: return inputs as ``[n, 64]`` vectors; otherwise as ``[n, 8, 8, 1]`` NHWC images.

    Returns:
      A :class:`~jaxml.data.splits.Dataset` named ``"digits"`` with ``float32`` inputs in
      ``[0, 1]``, ``int32`` labels in ``[0, 10)`` and ``num_classes=10``.
    """
    from jaxml._validation import check_bool

    check_bool(flatten, "flatten")

    pixels, labels = _digits_arrays()
    x = pixels.astype(np.float32) / np.float32(16.0)
    x = x.reshape(-1, 64) if flatten else x.reshape(-1, 8, 8, 1)
    y = labels.astype(np.int32)
    return make_dataset(
        x,
        y,
        name="digits",
        num_classes=10,
        seed=seed,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        class_names=tuple(str(c) for c in range(10)),
    )


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """``(pixels [1797, 64], labels [1797])`` as scikit-learn ships them.

    Read straight from scikit-learn's ``datasets/data/digits.csv.gz`` (what its ``load_digits``
    parses, checked equal in the tests) without importing scikit-learn, which costs ~1 s in every
    process that only needs the data; falls back to ``sklearn.datasets.load_digits``.
    """
    spec = importlib.util.find_spec("sklearn")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = pathlib.Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",")
            return table[:, :-1], table[:, -1]
    from sklearn.datasets import load_digits as _sklearn_load_digits

    bunch = _sklearn_load_digits()
    return np.asarray(bunch.data), np.asarray(bunch.target)
