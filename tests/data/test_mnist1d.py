"""Tests for jaxml.data.mnist1d (small num_samples; caches under tmp_path)."""

import random

import numpy as np
import pytest

from jaxml.data import mnist1d as mnist1d_module
from jaxml.data.mnist1d import load_mnist1d

N = 200


def test_shapes_dtypes_and_split_sizes(tmp_path):
    ds = load_mnist1d(num_samples=N, cache_dir=tmp_path)
    assert ds.name == "mnist1d" and ds.num_classes == 10 and ds.input_shape == (40,)
    assert ds.sizes == {"train": 130, "val": 30, "test": 40}
    for split in ds[:3]:
        assert split.x.dtype == np.float32 and split.y.dtype == np.int32
        assert np.all(np.isfinite(split.x))
        assert split.y.min() >= 0 and split.y.max() <= 9
    y = np.concatenate([s.y for s in ds[:3]])
    np.testing.assert_array_equal(np.bincount(y), [N // 10] * 10)  # num_samples // 10 per class.
    x = np.concatenate([s.x for s in ds[:3]])
    # The package standardizes the pooled signals.
    np.testing.assert_allclose([x.mean(), x.std()], [0.0, 1.0], atol=1e-5)


def test_matches_package_generator(tmp_path):
    from mnist1d.data import get_dataset_args, make_dataset

    state = np.random.get_state()  # noqa: NPY002 - make_dataset reseeds the global RNG.
    args = get_dataset_args(as_dict=False)
    args.num_samples = N
    ref = make_dataset(args)
    np.random.set_state(state)  # noqa: NPY002
    ref_rows = np.concatenate([ref["x"], ref["x_test"]]).astype(np.float32)
    ref_labels = np.concatenate([ref["y"], ref["y_test"]])
    ds = load_mnist1d(num_samples=N, cache_dir=tmp_path)
    x = np.concatenate([s.x for s in ds[:3]])
    y = np.concatenate([s.y for s in ds[:3]])
    order_ours, order_ref = np.lexsort(x.T), np.lexsort(ref_rows.T)
    np.testing.assert_array_equal(x[order_ours], ref_rows[order_ref])
    np.testing.assert_array_equal(y[order_ours], ref_labels[order_ref])


def test_defaults_match_installed_package():
    from mnist1d.data import get_dataset_args

    package = dict(get_dataset_args(as_dict=True))
    package.pop("url")
    assert mnist1d_module._GENERATOR_DEFAULTS == package


def test_leaves_global_rngs_untouched():
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    np_before = np.random.get_state()  # noqa: NPY002
    py_before = random.getstate()
    load_mnist1d(num_samples=N, cache=False)
    np_after = np.random.get_state()  # noqa: NPY002
    assert np_before[0] == np_after[0]
    np.testing.assert_array_equal(np_before[1], np_after[1])
    assert np_before[2:] == np_after[2:]
    assert random.getstate() == py_before


def test_cache_is_written_atomically_and_reused(tmp_path, monkeypatch):
    first = load_mnist1d(num_samples=N, cache_dir=tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1 and files[0].endswith(".npz"), files  # No temporary file left.

    def _fail(args):
        raise AssertionError("regenerated although cached")

    monkeypatch.setattr(mnist1d_module, "_generate", _fail)
    second = load_mnist1d(num_samples=N, cache_dir=tmp_path)
    for a, b in zip(first[:3], second[:3], strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)


def test_cache_keyed_by_generator_args(tmp_path):
    a = load_mnist1d(num_samples=N, cache_dir=tmp_path)
    b = load_mnist1d(num_samples=N, cache_dir=tmp_path, generator_seed=7)
    assert len(list(tmp_path.glob("*.npz"))) == 2
    assert not np.array_equal(np.sort(a.train.x, axis=None), np.sort(b.train.x, axis=None))


def test_corrupt_cache_is_regenerated(tmp_path):
    good = load_mnist1d(num_samples=N, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.npz")
    path.write_bytes(b"not a zip file")
    again = load_mnist1d(num_samples=N, cache_dir=tmp_path)
    np.testing.assert_array_equal(good.train.x, again.train.x)
    with np.load(path) as f:  # Overwritten with a valid file.
        assert f["x"].shape == (N, 40)


def test_env_var_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXML_CACHE_DIR", str(tmp_path / "env_cache"))
    load_mnist1d(num_samples=N)
    assert len(list((tmp_path / "env_cache").glob("mnist1d_*.npz"))) == 1


def test_split_determinism(tmp_path):
    a = load_mnist1d(num_samples=N, cache_dir=tmp_path, seed=0)
    b = load_mnist1d(num_samples=N, cache_dir=tmp_path, seed=0)
    c = load_mnist1d(num_samples=N, cache_dir=tmp_path, seed=1)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_array_equal(a.val.y, b.val.y)
    assert not np.array_equal(a.test.x, c.test.x)


def test_num_samples_rounded_down_to_multiple_of_ten():
    ds = load_mnist1d(num_samples=35, cache=False, val_fraction=0.0, test_fraction=0.2)
    assert sum(ds.sizes.values()) == 30


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_samples must be >= 10"):
        load_mnist1d(num_samples=5, cache=False)
    with pytest.raises(TypeError, match="num_samples must be an int"):
        load_mnist1d(num_samples=100.0, cache=False)
    with pytest.raises(ValueError, match="generator_seed must be >= 0"):
        load_mnist1d(num_samples=100, generator_seed=-1, cache=False)
