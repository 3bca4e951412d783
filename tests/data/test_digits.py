"""Tests for jaxml.data.digits."""

import numpy as np
import pytest

from jaxml.data.digits import _digits_arrays, load_digits


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_shapes_dtypes_and_ranges(digits):
    assert digits.name == "digits" and digits.num_classes == 10
    assert sum(digits.sizes.values()) == 1797
    assert digits.sizes["test"] == round(1797 * 0.2)
    assert digits.sizes["val"] == round(1797 * 0.15)
    assert digits.input_shape == (64,)
    for split in digits[:3]:
        assert split.x.dtype == np.float32 and split.y.dtype == np.int32
        assert split.x.ndim == 2 and split.x.shape[1] == 64
        assert split.x.min() >= 0.0 and split.x.max() <= 1.0
        assert set(np.unique(split.y)) == set(range(10))  # Stratified: every class everywhere.
    # The source pixels are 0..16; the maximum is reached.
    assert digits.train.x.max() == 1.0
    np.testing.assert_array_equal(np.unique(digits.train.x * 16), np.arange(17.0))


def test_nhwc_matches_flat():
    flat = load_digits(seed=1)
    img = load_digits(seed=1, flatten=False)
    assert img.input_shape == (8, 8, 1)
    np.testing.assert_array_equal(img.train.x.reshape(-1, 64), flat.train.x)
    np.testing.assert_array_equal(img.test.y, flat.test.y)


def test_matches_sklearn_rows(digits):
    from sklearn.datasets import load_digits as sk_load

    bunch = sk_load()
    # The file read without importing scikit-learn is its load_digits, row for row.
    pixels, labels = _digits_arrays()
    np.testing.assert_array_equal(pixels, bunch.data)
    np.testing.assert_array_equal(labels, bunch.target)
    # The 1,797 source rows are distinct, so each row identifies its label.
    pool = {
        tuple(row.astype(np.int64)): label
        for row, label in zip(bunch.data, bunch.target, strict=True)
    }
    for row, label in zip(digits.val.x, digits.val.y, strict=True):
        assert pool[tuple((row * 16).astype(np.int64))] == label


def test_determinism(digits):
    again = load_digits()
    other = load_digits(seed=1)
    for a, b in zip(digits[:3], again[:3], strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(digits.test.x, other.test.x)


def test_bad_fraction():
    with pytest.raises(ValueError, match="test_fraction must be in"):
        load_digits(test_fraction=1.5)
