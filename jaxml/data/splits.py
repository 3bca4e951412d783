"""Dataset containers and deterministic train/validation/test splits.

Every loader in :mod:`jaxml.data` returns a :class:`Dataset` of three :class:`Split` s built by
:func:`make_dataset`, so all datasets share one shape convention (examples along axis 0, images
NHWC, labels ``int32``) and one splitting rule (:func:`split_indices`).

Splits are a pure function of ``seed``: the permutation comes from NumPy's
``SeedSequence``/PCG64 ``Generator`` (platform independent; NumPy does not promise that a
``Generator`` method's stream never changes between NumPy versions, so pin NumPy to reproduce a
split bit for bit), never from NumPy's global RNG.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxml import _validation as v

# ``seed`` arguments accept a Python int or a JAX PRNG key (typed or raw ``uint32``).
Seed = Any


class Split(NamedTuple):
    """One split of a dataset.

    Attributes:
      x: inputs, ``[n, ...]`` (``float32`` for every built-in loader).
      y: integer class labels, ``[n]`` ``int32``.
    """

    x: np.ndarray
    y: np.ndarray

    @property
    def num_examples(self) -> int:
        """The number of examples ``n``."""
        return int(self.x.shape[0])

    def __repr__(self) -> str:
        return f"Split(x={_describe(self.x)}, y={_describe(self.y)})"


class Dataset(NamedTuple):
    """A classification dataset split three ways.

    Attributes:
      train: the training split.
      val: the validation split (may hold zero examples when ``val_fraction=0``).
      test: the test split.
      num_classes: labels lie in ``[0, num_classes)``.
      name: a short identifier, e.g. ``"digits"``.
      class_names: optional human-readable name of each class, length ``num_classes``.
    """

    train: Split
    val: Split
    test: Split
    num_classes: int
    name: str
    class_names: tuple[str, ...] | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input, e.g. ``(64,)`` or ``(28, 28, 1)``."""
        return tuple(int(s) for s in self.train.x.shape[1:])

    @property
    def sizes(self) -> dict[str, int]:
        """The number of examples per split, ``{"train": ..., "val": ..., "test": ...}``."""
        return {
            "train": self.train.num_examples,
            "val": self.val.num_examples,
            "test": self.test.num_examples,
        }

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, num_classes={self.num_classes}, "
            f"input_shape={self.input_shape}, train={self.train!r}, val={self.val!r}, "
            f"test={self.test!r})"
        )


def _describe(a: Any) -> str:
    shape = getattr(a, "shape", None)
    dtype = getattr(a, "dtype", None)
    if shape is None or dtype is None:
        return type(a).__name__
    return f"{dtype}[{', '.join(str(s) for s in shape)}]"


def to_numpy_rng(seed: Seed, *, argname: str = "seed") -> np.random.Generator:
    """Returns a NumPy ``Generator`` determined by ``seed``.

    A Python (or NumPy) integer ``s >= 0`` seeds ``np.random.default_rng(s)``. A JAX PRNG key,
    either new-style (``jax.random.key``) or a raw ``uint32`` key (``jax.random.PRNGKey``), is
    reduced to its raw key words (``jax.random.key_data``), which become the entropy of a
    ``np.random.SeedSequence``. Both are deterministic and platform independent, and no global
    RNG is read or written. The int ``s`` and the key ``jax.random.key(s)`` give different
    streams; ``jax.random.key(s)`` and ``jax.random.PRNGKey(s)`` give the same one.

    Args:
      seed: a non-negative int, or a single (unbatched) concrete JAX PRNG key.
      argname: the argument name used in error messages.

    Returns:
      A fresh ``np.random.Generator``.

    Raises:
      TypeError: ``seed`` is neither an integer nor a PRNG key.
      ValueError: ``seed`` is a negative integer or a batch of keys.
    """
    return np.random.default_rng(np.random.SeedSequence(_seed_entropy(seed, argname)))


def _seed_entropy(seed: Seed, argname: str) -> int | list[int]:
    if isinstance(seed, bool):
        raise TypeError(f"{argname} must be an int or a JAX PRNG key, got bool {seed!r}")
    if isinstance(seed, numbers.Integral):
        if int(seed) < 0:
            raise ValueError(f"{argname} must be a non-negative int, got {int(seed)}")
        return int(seed)
    dtype = getattr(seed, "dtype", None)
    shape = getattr(seed, "shape", None)
    if dtype is None or shape is None:
        raise TypeError(f"{argname} must be an int or a JAX PRNG key, got {type(seed).__name__}")
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if shape != ():
            raise ValueError(
                f"{argname} must be a single PRNG key, got a batch of keys of shape {shape}"
            )
        data = jax.random.key_data(seed)
    elif np.dtype(dtype) == np.uint32 and len(shape) == 1:
        data = seed  # A raw key such as jax.random.PRNGKey(0): uint32 [2] (or [4] for rbg).
    elif np.issubdtype(np.dtype(dtype), np.integer) and len(shape) == 0:
        return _seed_entropy(int(seed), argname)
    else:
        raise TypeError(
            f"{argname} must be an int or a single JAX PRNG key (typed key, or raw uint32 [2]), "
            f"got an array of dtype {dtype} and shape {shape}"
        )
    try:
        words = np.asarray(data, dtype=np.uint32).ravel()
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError) as e:
        raise TypeError(f"{argname} must be a concrete key, not a traced value") from e
    return [int(w) for w in words]


def _check_fraction(value: Any, argname: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argname} must be a float in [0, 1), got {type(value).__name__}")
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{argname} must be in [0, 1), got {value}")
    return value


def _check_positive_int(value: Any, argname: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{argname} must be an int, got {type(value).__name__}")
    if int(value) < minimum:
        raise ValueError(f"{argname} must be >= {minimum}, got {int(value)}")
    return int(value)


def split_indices(
    n: int,
    *,
    seed: Seed,
    val_fraction: float,
    test_fraction: float,
    labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministically partitions ``range(n)`` into train, validation and test indices.

    The test split gets ``round(n * test_fraction)`` indices, the validation split
    ``round(n * val_fraction)``, and the training split the rest; together they cover
    ``range(n)`` exactly once. Each returned array is in a random order (so taking a split is
    also a shuffle).

    With ``labels``, the split is stratified: every class is spread evenly over the three
    splits, so each split's class proportions match the full data's to within about one example
    per class (precisely: a class of ``n_c`` examples gets ``n_c * m / n`` of a split of size
    ``m`` up to ``±(1 + num_classes * n_c / n)``). This matters for small datasets, where a
    plain permutation can leave a rare class out of a small validation split. Totals per split
    are the same as without ``labels``. The method: each class's examples, in a random order,
    get evenly spaced keys ``(j + u_c) / n_c`` (``u_c`` uniform in ``[0, 1)``), and the splits
    are consecutive runs of the examples sorted by key.

    Args:
      n: the number of examples, ``>= 1``.
      seed: an int or a JAX PRNG key (see :func:`to_numpy_rng`); same seed, same split.
      val_fraction: fraction of examples for validation, in ``[0, 1)``.
      test_fraction: fraction of examples for test, in ``[0, 1)``.
      labels: optional ``[n]`` class labels (any integer or string values) to stratify by.

    Returns:
      ``(train_idx, val_idx, test_idx)``, ``int64`` arrays of lengths summing to ``n``.

    Raises:
      ValueError: a fraction outside ``[0, 1)``, fractions summing to ``>= 1``, a split that
        would leave no training example, or ``labels`` not of shape ``[n]``.
      TypeError: a non-integer ``n`` or a bad ``seed``.
    """
    n = _check_positive_int(n, "n")
    val_fraction = _check_fraction(val_fraction, "val_fraction")
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            "val_fraction + test_fraction must be < 1 to leave training examples, got "
            f"val_fraction={val_fraction} + test_fraction={test_fraction} "
            f"= {val_fraction + test_fraction}"
        )
    n_test = int(round(n * test_fraction))
    n_val = int(round(n * val_fraction))
    if n_test + n_val >= n:
        raise ValueError(
            f"n={n} examples are too few for val_fraction={val_fraction} and "
            f"test_fraction={test_fraction}: no training example would be left"
        )
    rng = to_numpy_rng(seed)

    if labels is None:
        order = rng.permutation(n)
    else:
        order = _stratified_order(labels, n, rng)
    test_idx = order[:n_test]
    val_idx = order[n_test : n_test + n_val]
    train_idx = order[n_test + n_val :]
    if labels is not None:
        # Shuffle within each split so that classes do not follow the keys' regular pattern.
        train_idx, val_idx, test_idx = (
            idx[rng.permutation(idx.size)] for idx in (train_idx, val_idx, test_idx)
        )
    return train_idx, val_idx, test_idx


def _stratified_order(labels: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """An order of ``range(n)`` in which every class is spread evenly (see split_indices)."""
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape [n] = [{n}], got {labels.shape}")
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(-1)
    keys = np.empty(n, dtype=np.float64)
    for c in range(int(codes.max()) + 1):
        members = np.flatnonzero(codes == c)
        members = members[rng.permutation(members.size)]
        keys[members] = (np.arange(members.size) + rng.random()) / members.size
    # Ties between classes are broken at random (np.lexsort sorts by its last key first).
    return np.lexsort((rng.random(n), keys))


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    *,
    name: str,
    num_classes: int,
    seed: Seed = 0,
    val_fraction: float = 0.0,
    test_fraction: float = 0.0,
    test: Split | None = None,
    stratify: bool = True,
    class_names: tuple[str, ...] | list[str] | None = None,
) -> Dataset:
    """Builds a :class:`Dataset` from arrays, splitting them with :func:`split_indices`.

    Two uses:

    * one pool of examples: ``test=None``; train, validation and test splits are carved from
      ``(x, y)`` with ``val_fraction`` and ``test_fraction``;
    * a fixed, official test split (MNIST's t10k files, CIFAR-10's ``test_batch``): pass it as
      ``test`` (``test_fraction`` must then be 0) and only the validation split is carved from
      ``(x, y)``.

    Args:
      x: inputs ``[n, ...]``; kept as given (loaders convert to ``float32`` first).
      y: integer labels ``[n]``, each in ``[0, num_classes)``; stored as ``int32``.
      name: the dataset's short name.
      num_classes: the number of classes, ``>= 1``.
      seed: int or JAX PRNG key for the split.
      val_fraction: fraction of ``(x, y)`` for validation, in ``[0, 1)``.
      test_fraction: fraction of ``(x, y)`` for test, in ``[0, 1)``; must be 0 with ``test``.
      test: an optional fixed test split; its labels are checked and stored as ``int32``.
      stratify: stratify the split by ``y`` (see :func:`split_indices`).
      class_names: optional names of the ``num_classes`` classes.

    Returns:
      The :class:`Dataset`.

    Raises:
      ValueError: mismatched lengths, labels out of range, a bad fraction, ``class_names`` of the
        wrong length, or ``test`` combined with a non-zero ``test_fraction``.
    """
    v.check_str(name, "name")
    num_classes = _check_positive_int(num_classes, "num_classes")
    y = _check_labels(y, num_classes, "y")
    v.check_array(x, "x", min_ndim=2, dtype="numeric")
    x = np.asarray(x)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x must have shape [n, ...] with n = len(y) = {y.shape[0]}, got {x.shape}"
        )
    if test is not None:
        if not isinstance(test, Split):
            raise TypeError(f"test must be a Split(x, y) or None; got {type(test).__name__}")
        v.check_array(test.x, "test.x", min_ndim=2, dtype="numeric")
        if test_fraction != 0:
            raise ValueError(
                f"test_fraction must be 0 when a fixed test split is given, got {test_fraction}"
            )
        test_x = np.asarray(test.x)
        test_y = _check_labels(test.y, num_classes, "test.y")
        if test_x.ndim < 1 or test_x.shape[0] != test_y.shape[0]:
            raise ValueError(
                f"test.x must have shape [n, ...] with n = len(test.y) = {test_y.shape[0]}, "
                f"got {test_x.shape}"
            )
        if test_x.shape[1:] != x.shape[1:]:
            raise ValueError(
                f"test.x must have per-example shape {x.shape[1:]} like x, got {test_x.shape[1:]}"
            )
    if class_names is not None:
        if isinstance(class_names, str) or not hasattr(class_names, "__iter__"):
            raise TypeError(f"class_names must be a sequence of str; got {class_names!r}")
        class_names = tuple(str(c) for c in class_names)
        if len(class_names) != num_classes:
            raise ValueError(
                f"class_names must have num_classes = {num_classes} entries, got {len(class_names)}"
            )

    train_idx, val_idx, test_idx = split_indices(
        y.shape[0],
        seed=seed,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        labels=y if stratify else None,
    )
    if test is None:
        test_split = Split(x[test_idx], y[test_idx])
    else:
        test_split = Split(test_x, test_y)
    return Dataset(
        train=Split(x[train_idx], y[train_idx]),
        val=Split(x[val_idx], y[val_idx]),
        test=test_split,
        num_classes=num_classes,
        name=name,
        class_names=class_names,
    )


def _check_labels(y: Any, num_classes: int, argname: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{argname} must have shape [n], got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{argname} must hold integer labels, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"{argname} must lie in [0, num_classes) = [0, {num_classes}), "
            f"got values in [{y.min()}, {y.max()}]"
        )
    return y.astype(np.int32)


def disjoint_subsets(split: Split, sizes: Sequence[int], *, seed: Seed = 0) -> tuple[Split, ...]:
    """Consecutive chunks of one seeded permutation of ``split``: disjoint random subsets.

    ``to_numpy_rng(seed).permutation(n)`` is cut into ``sizes[0]``, ``sizes[1]``, ... rows (not
    stratified; for a stratified three-way split use :func:`make_dataset`). Used to carve a tiny
    train/validation pair out of a larger split, e.g. 50 + 50 digits for an overfitting study.

    Args:
      split: the rows to draw from (``x [n, ...]``, ``y [n]``).
      sizes: the number of rows of each subset, each ``>= 1``, summing to at most ``n``.
      seed: int or JAX PRNG key for the permutation.

    Returns:
      One :class:`Split` per entry of ``sizes``.
    """
    if not isinstance(split, Split):
        raise TypeError(f"split must be a jaxml.data.Split; got {type(split).__name__}")
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence) or not sizes:
        raise ValueError(f"sizes must be a non-empty sequence of ints; got {sizes!r}")
    sizes = [_check_positive_int(s, f"sizes[{i}]") for i, s in enumerate(sizes)]
    n = split.num_examples
    if sum(sizes) > n:
        raise ValueError(f"sizes must sum to at most the split's {n} rows; got {sum(sizes)}")
    idx = to_numpy_rng(seed).permutation(n)
    bounds = np.cumsum([0, *sizes])
    return tuple(
        Split(split.x[idx[a:b]], split.y[idx[a:b]])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    )
