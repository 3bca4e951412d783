"""Tests for jaxml.data.splits."""

import jax
import numpy as np
import pytest

from jaxml.data.splits import Dataset, Split, make_dataset, split_indices, to_numpy_rng


def _check_partition(n, train, val, test):
    all_idx = np.concatenate([train, val, test])
    np.testing.assert_array_equal(np.sort(all_idx), np.arange(n))


@pytest.mark.parametrize("n", [1, 7, 100, 1797])
def test_split_indices_disjoint_covering_and_sized(n):
    train, val, test = split_indices(n, seed=0, val_fraction=0.15, test_fraction=0.2)
    _check_partition(n, train, val, test)
    assert len(test) == round(n * 0.2)
    assert len(val) == round(n * 0.15)
    assert len(train) == n - len(val) - len(test)


def test_split_indices_deterministic_and_seed_dependent():
    a = split_indices(500, seed=3, val_fraction=0.1, test_fraction=0.1)
    b = split_indices(500, seed=3, val_fraction=0.1, test_fraction=0.1)
    c = split_indices(500, seed=4, val_fraction=0.1, test_fraction=0.1)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[2], c[2])


def test_split_indices_accepts_jax_keys():
    typed = jax.random.key(7)
    raw = jax.random.PRNGKey(7)
    a = split_indices(300, seed=typed, val_fraction=0.2, test_fraction=0.2)
    b = split_indices(300, seed=raw, val_fraction=0.2, test_fraction=0.2)
    c = split_indices(300, seed=jax.random.key(8), val_fraction=0.2, test_fraction=0.2)
    for x, y in zip(a, b, strict=True):  # Same key data -> same split.
        np.testing.assert_array_equal(x, y)
    _check_partition(300, *a)
    assert not np.array_equal(a[0], c[0])


def test_to_numpy_rng_errors():
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        to_numpy_rng(-1)
    with pytest.raises(TypeError, match="seed must be an int or a JAX PRNG key"):
        to_numpy_rng("0")
    with pytest.raises(TypeError, match="seed"):
        to_numpy_rng(True)
    with pytest.raises(TypeError, match="seed"):
        to_numpy_rng(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="single PRNG key"):
        to_numpy_rng(jax.random.split(jax.random.key(0), 3))
    with pytest.raises(TypeError, match="seed must be a concrete key"):
        jax.jit(lambda key: (to_numpy_rng(key), 0)[1])(jax.random.key(0))
    # NumPy integer scalars are ints.
    assert to_numpy_rng(np.int64(5)).integers(1 << 30) == to_numpy_rng(5).integers(1 << 30)


def test_stratified_split_keeps_class_proportions():
    rng = np.random.default_rng(0)
    # Imbalanced classes, including a rare one (12 examples).
    counts = np.array([300, 150, 60, 12])
    labels = rng.permutation(np.repeat(np.arange(4), counts))
    n = labels.size
    train, val, test = split_indices(n, seed=1, val_fraction=0.15, test_fraction=0.2, labels=labels)
    _check_partition(n, train, val, test)
    # Same totals as the unstratified split.
    assert (len(val), len(test)) == (round(n * 0.15), round(n * 0.2))
    for idx in (train, val, test):
        got = np.bincount(labels[idx], minlength=4)
        expected = counts * len(idx) / n
        # Documented bound: |got - expected| <= 1 + num_classes * n_c / n.
        np.testing.assert_array_less(np.abs(got - expected), 1 + 4 * counts / n + 1e-9)
    # The rare class appears in every split (12 * 0.15 = 1.8 expected in val).
    assert np.all(np.bincount(labels[val], minlength=4) > 0)


def test_stratified_split_deterministic_and_string_labels():
    labels = np.array(["a", "b", "c"] * 20)
    a = split_indices(60, seed=0, val_fraction=0.2, test_fraction=0.2, labels=labels)
    b = split_indices(60, seed=0, val_fraction=0.2, test_fraction=0.2, labels=labels)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    for idx in a[1:]:
        assert sorted(np.unique(labels[idx], return_counts=True)[1]) == [4, 4, 4]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"val_fraction": -0.1, "test_fraction": 0.1}, ValueError, "val_fraction must be in"),
        ({"val_fraction": 0.1, "test_fraction": 1.0}, ValueError, "test_fraction must be in"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, ValueError, "val_fraction \\+ test_fraction"),
        ({"val_fraction": "0.1", "test_fraction": 0.1}, TypeError, "val_fraction must be a float"),
    ],
)
def test_split_indices_bad_fractions(kwargs, error, match):
    with pytest.raises(error, match=match):
        split_indices(100, seed=0, **kwargs)


def test_split_indices_bad_n_and_labels():
    with pytest.raises(ValueError, match="n must be >= 1"):
        split_indices(0, seed=0, val_fraction=0.1, test_fraction=0.1)
    with pytest.raises(TypeError, match="n must be an int"):
        split_indices(10.0, seed=0, val_fraction=0.1, test_fraction=0.1)
    with pytest.raises(ValueError, match="no training example"):
        split_indices(2, seed=0, val_fraction=0.4, test_fraction=0.4)
    with pytest.raises(ValueError, match="labels must have shape"):
        split_indices(10, seed=0, val_fraction=0.1, test_fraction=0.1, labels=np.zeros(9))


def test_make_dataset_pool_and_fixed_test():
    x = np.arange(200, dtype=np.float32).reshape(100, 2)
    y = np.arange(100) % 5
    ds = make_dataset(x, y, name="toy", num_classes=5, seed=0, val_fraction=0.1, test_fraction=0.2)
    assert isinstance(ds, Dataset) and ds.name == "toy" and ds.num_classes == 5
    assert ds.sizes == {"train": 70, "val": 10, "test": 20}
    assert ds.input_shape == (2,)
    for split in ds[:3]:
        assert isinstance(split, Split)
        assert split.y.dtype == np.int32
        # Rows stay paired with their labels: x[i] = (2i, 2i + 1), y[i] = i % 5.
        np.testing.assert_array_equal((split.x[:, 0] / 2).astype(int) % 5, split.y)
    rows = np.concatenate([s.x[:, 0] for s in ds[:3]])
    np.testing.assert_array_equal(np.sort(rows), x[:, 0])
    assert "train=Split(x=float32[70, 2]" in repr(ds)

    fixed = Split(np.zeros((7, 2), np.float32), np.zeros(7, np.int64))
    ds = make_dataset(x, y, name="toy", num_classes=5, val_fraction=0.2, test=fixed)
    assert ds.sizes == {"train": 80, "val": 20, "test": 7}
    assert ds.test.y.dtype == np.int32


def test_make_dataset_errors():
    x, y = np.zeros((10, 3)), np.zeros(10, np.int32)
    with pytest.raises(ValueError, match="x must have shape \\[n, ...\\] with n = len\\(y\\)"):
        make_dataset(x[:9], y, name="t", num_classes=2)
    with pytest.raises(ValueError, match="y must lie in \\[0, num_classes\\)"):
        make_dataset(x, y + 2, name="t", num_classes=2)
    with pytest.raises(TypeError, match="y must hold integer labels"):
        make_dataset(x, y.astype(float), name="t", num_classes=2)
    with pytest.raises(ValueError, match="num_classes must be >= 1"):
        make_dataset(x, y, name="t", num_classes=0)
    with pytest.raises(ValueError, match="test_fraction must be 0"):
        make_dataset(x, y, name="t", num_classes=2, test_fraction=0.1, test=Split(x, y))
    with pytest.raises(ValueError, match="test.x must have per-example shape"):
        make_dataset(x, y, name="t", num_classes=2, test=Split(np.zeros((10, 4)), y))
    with pytest.raises(ValueError, match="class_names must have num_classes = 2"):
        make_dataset(x, y, name="t", num_classes=2, class_names=["a"])
