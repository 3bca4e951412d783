"""Tests for jaxml.data.cifar on tiny batch files the tests write themselves."""

import collections
import io
import pickle
import re
import struct
import warnings

import numpy as np
import pytest

from jaxml.data.cifar import load_cifar10, write_cifar10_batch, write_cifar10_meta

PER_BATCH, N_TEST = 4, 6
NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _write_dir(directory, *, meta=True):
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    batches = []
    for i in range(1, 6):
        images = rng.integers(0, 256, (PER_BATCH, 32, 32, 3), dtype=np.uint8)
        labels = [(2 * i + j) % 10 for j in range(PER_BATCH)]
        write_cifar10_batch(directory / f"data_batch_{i}", images, labels)
        batches.append((images, labels))
    test_images = rng.integers(0, 256, (N_TEST, 32, 32, 3), dtype=np.uint8)
    test_labels = list(range(N_TEST))
    write_cifar10_batch(directory / "test_batch", test_images, test_labels)
    if meta:
        write_cifar10_meta(directory / "batches.meta", NAMES)
    return batches, (test_images, test_labels)


def test_load_from_parent_and_from_folder(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    batches, (test_images, test_labels) = _write_dir(folder)
    for directory in (tmp_path, folder, str(folder)):
        ds = load_cifar10(directory, val_fraction=0.25)
        assert ds.name == "cifar10" and ds.num_classes == 10
        assert ds.input_shape == (32, 32, 3)
        assert ds.sizes == {"train": 15, "val": 5, "test": N_TEST}
        assert ds.class_names == tuple(NAMES)
        for split in ds[:3]:
            assert split.x.dtype == np.float32 and split.y.dtype == np.int32
            assert split.x.min() >= 0.0 and split.x.max() <= 1.0
        np.testing.assert_array_equal(ds.test.x * 255, test_images.astype(np.float32))
        np.testing.assert_array_equal(ds.test.y, test_labels)
    # Train + val are all five batches, images paired with their labels.
    x = np.concatenate([ds.train.x, ds.val.x]).reshape(20, -1)
    y = np.concatenate([ds.train.y, ds.val.y])
    ref_x = np.concatenate([b[0] for b in batches]).reshape(20, -1).astype(np.float32) / 255
    ref_y = np.concatenate([b[1] for b in batches])
    order, ref_order = np.lexsort(x.T), np.lexsort(ref_x.T)
    np.testing.assert_array_equal(x[order], ref_x[ref_order])
    np.testing.assert_array_equal(y[order], ref_y[ref_order])


def test_chw_rows_become_nhwc_pixels(tmp_path):
    """Writes the pickles by hand, independently of write_cifar10_batch."""
    # Channel c, row h, column w of an image sits at index c * 1024 + h * 32 + w of its row.
    data = np.zeros((1, 3072), np.uint8)
    data[0, 1 * 1024 + 2 * 32 + 5] = 200  # green at (h=2, w=5)
    data[0, 2 * 1024 + 31 * 32 + 0] = 51  # blue at (h=31, w=0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(tmp_path / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": [3], b"batch_label": b"x"}, f, protocol=2)
    ds = load_cifar10(tmp_path, val_fraction=0.0)
    image = ds.test.x[0]
    assert image.shape == (32, 32, 3)
    assert image[2, 5, 1] == np.float32(200 / 255)
    assert image[31, 0, 2] == np.float32(51 / 255)
    assert np.count_nonzero(image) == 2
    assert ds.class_names is None  # No batches.meta.
    # write_cifar10_batch produces the same rows.
    write_cifar10_batch(tmp_path / "again", (image[None] * 255).round().astype(np.uint8), [3])
    with open(tmp_path / "again", "rb") as f:
        np.testing.assert_array_equal(pickle.load(f, encoding="bytes")[b"data"], data)


class _Py2Pickler(pickle._Pickler):
    """Writes str and bytes as Python 2 byte strings, as the original CIFAR files do."""

    def _save_str8(self, obj):
        obj = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[bytes] = _save_str8
    dispatch[str] = _save_str8


def test_python2_numpy1_pickles(tmp_path):
    """Byte-string opcodes and the numpy.core global of files pickled by Python 2 and NumPy 1."""
    _write_dir(tmp_path, meta=False)
    data = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump({"data": data, "labels": [4, 5], "batch_label": "t"})
    raw = buf.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in raw and pickle.SHORT_BINSTRING + b"\x04data" in raw
    (tmp_path / "test_batch").write_bytes(raw)
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump({"label_names": NAMES})
    (tmp_path / "batches.meta").write_bytes(buf.getvalue())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_cifar10(tmp_path)
    np.testing.assert_array_equal(ds.test.y, [4, 5])
    np.testing.assert_array_equal(
        ds.test.x * 255, data.reshape(2, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float32)
    )
    assert ds.class_names == tuple(NAMES)


def test_python3_str_keys_are_accepted(tmp_path):
    _write_dir(tmp_path, meta=False)
    images = np.full((2, 3072), 7, np.uint8)
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({"data": images, "labels": np.array([1, 2])}, f, protocol=4)
    ds = load_cifar10(tmp_path)
    np.testing.assert_array_equal(ds.test.y, [1, 2])


def test_determinism(tmp_path):
    _write_dir(tmp_path)
    a, b = load_cifar10(tmp_path, seed=0), load_cifar10(tmp_path, seed=0)
    c = load_cifar10(tmp_path, seed=1, val_fraction=0.5)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_array_equal(a.val.y, b.val.y)
    assert c.sizes["val"] == 10


def test_missing_batch_names_the_path(tmp_path):
    _write_dir(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "data_batch_3"))):
        load_cifar10(tmp_path)


def test_empty_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "cifar-10-batches-py"))):
        load_cifar10(tmp_path)


def _pickle(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ([1, 2, 3], "must hold a dict, got list"),
        ({b"data": np.zeros((1, 3072), np.uint8)}, "must have keys b'data' and b'labels'"),
        ({b"data": np.zeros((1, 3071), np.uint8), b"labels": [0]}, "must be uint8 \\[N, 3072\\]"),
        ({b"data": np.zeros((1, 3072), np.float32), b"labels": [0]}, "must be uint8"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "must have N = 2 entries"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}, "labels must lie in"),
        ({b"data": collections.OrderedDict(), b"labels": [0]}, "collections.OrderedDict"),
    ],
)
def test_malformed_batch(tmp_path, obj, match):
    _write_dir(tmp_path)
    _pickle(tmp_path / "data_batch_2", obj)
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(tmp_path)
    assert str(tmp_path / "data_batch_2") in str(info.value)


def test_not_a_pickle(tmp_path):
    _write_dir(tmp_path)
    (tmp_path / "test_batch").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="is not a valid pickle"):
        load_cifar10(tmp_path)


def test_malformed_meta(tmp_path):
    _write_dir(tmp_path, meta=False)
    _pickle(tmp_path / "batches.meta", {b"label_names": [b"a", b"b"]})
    with pytest.raises(ValueError, match="label_names' must have 10 entries"):
        load_cifar10(tmp_path)


def test_writer_errors(tmp_path):
    with pytest.raises(ValueError, match="images must be uint8 \\[N, 32, 32, 3\\]"):
        write_cifar10_batch(tmp_path / "b", np.zeros((1, 3, 32, 32), np.uint8), [0])
    with pytest.raises(ValueError, match="labels must be 1 integers"):
        write_cifar10_batch(tmp_path / "b", np.zeros((1, 32, 32, 3), np.uint8), [0, 1])
    with pytest.raises(ValueError, match="label_names must have 10 entries"):
        write_cifar10_meta(tmp_path / "m", ["a"])
