"""jaxml.data.load_diabetes and disjoint_subsets against an independent numpy computation."""

import numpy as np
import pytest
from sklearn.datasets import load_diabetes as sklearn_diabetes

from jaxml.data import Split, disjoint_subsets, load_diabetes


def test_disjoint_subsets_are_chunks_of_one_permutation():
    split = Split(np.arange(20.0).reshape(10, 2), np.arange(10))
    a, b = disjoint_subsets(split, (3, 4), seed=5)
    idx = np.random.default_rng(5).permutation(10)
    np.testing.assert_array_equal(a.y, idx[:3])
    np.testing.assert_array_equal(b.x, split.x[idx[3:7]])
    assert not set(a.y.tolist()) & set(b.y.tolist())
    with pytest.raises(ValueError, match="sizes"):
        disjoint_subsets(split, (6, 5))
    with pytest.raises(TypeError, match=r"sizes\[1\]"):
        disjoint_subsets(split, (6, 2.0))


def test_load_diabetes_standardizes_with_training_statistics():
    x, y = sklearn_diabetes(return_X_y=True)
    train, val = load_diabetes(seed=1, num_train=300)
    assert train.x.shape == (300, 10) and val.x.shape == (142, 10)
    np.testing.assert_allclose(train.x.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(train.x.std(0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(train.y.std(), 1.0, rtol=1e-12)
    idx = np.random.default_rng(1).permutation(442)
    raw = x[idx[:300]]
    np.testing.assert_allclose(val.x, (x[idx[300:]] - raw.mean(0)) / raw.std(0), rtol=1e-12)
    ytr = y[idx[:300]]
    np.testing.assert_allclose(val.y, (y[idx[300:]] - ytr.mean()) / ytr.std(), rtol=1e-12)
    with pytest.raises(ValueError, match="num_train"):
        load_diabetes(num_train=442)
