"""Tests for jaxml.data.idx."""

import gzip
import re

import numpy as np
import pytest

from jaxml.data.idx import load_mnist_idx, read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def _random_array(dtype, shape, rng):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_every_dtype(tmp_path, dtype, suffix):
    rng = np.random.default_rng(0)
    array = _random_array(dtype, (3, 4, 5), rng)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, array)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == (suffix == ".gz")
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative and out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, array)
    out[0, 0, 0] = 0  # Writable.


@pytest.mark.parametrize("shape", [(7,), (0,), (2, 0, 3), (1, 1, 1, 1, 2)])
def test_round_trip_shapes(tmp_path, shape):
    array = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    write_idx(tmp_path / "a", array)
    out = read_idx(tmp_path / "a")
    assert out.shape == shape
    np.testing.assert_array_equal(out, array)


def test_round_trip_big_endian_input(tmp_path):
    array = np.array([1.5, -2.0, 3.25], dtype=">f8")
    write_idx(tmp_path / "a", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), [1.5, -2.0, 3.25])


def test_hand_written_bytes(tmp_path):
    # int16 [2, 3]: magic 00 00, type 0B, ndim 2, dims 2 and 3, six big-endian int16 values.
    raw = bytes.fromhex(
        "0000 0B 02 00000002 00000003 0001 FFFF 0100 7FFF 8000 0002".replace(" ", "")
    )
    (tmp_path / "i16").write_bytes(raw)
    np.testing.assert_array_equal(read_idx(tmp_path / "i16"), [[1, -1, 256], [32767, -32768, 2]])
    # uint8 labels [4], the MNIST idx1 layout (magic 0x00000801).
    (tmp_path / "u8").write_bytes(bytes.fromhex("000008010000000407020100"))
    labels = read_idx(tmp_path / "u8")
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, [7, 2, 1, 0])
    # float32 [2]: 0x3F800000 = 1.0, 0xC0000000 = -2.0; int32 [1]: 0x01020304.
    (tmp_path / "f32").write_bytes(bytes.fromhex("00000D01000000023F800000C0000000"))
    np.testing.assert_array_equal(read_idx(tmp_path / "f32"), np.array([1.0, -2.0], np.float32))
    (tmp_path / "i32").write_bytes(bytes.fromhex("00000C010000000101020304"))
    assert read_idx(tmp_path / "i32")[0] == 0x01020304
    # The same file gzip-compressed under a name without .gz is still recognized.
    (tmp_path / "i16_no_ext").write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(read_idx(tmp_path / "i16_no_ext"), read_idx(tmp_path / "i16"))
    # And a plain file named .gz is read as plain.
    (tmp_path / "plain.gz").write_bytes(raw)
    np.testing.assert_array_equal(read_idx(tmp_path / "plain.gz"), read_idx(tmp_path / "i16"))


def test_write_idx_header_bytes(tmp_path):
    write_idx(tmp_path / "a", np.array([[1, 2]], dtype=np.uint8))
    assert (tmp_path / "a").read_bytes() == bytes.fromhex("0000080200000001000000020102")


def _header(code, *dims):
    return bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (_header(0x08, 2, 3) + bytes(5), "is truncated: shape \\(2, 3\\) of uint8 needs 6"),
        (_header(0x0C, 2) + bytes(7), "is truncated: shape \\(2,\\) of int32 needs 8"),
        (_header(0x08, 2) + bytes(3), "1 unexpected trailing bytes"),
        (_header(0x08, 2, 3)[:9], "is truncated: its header declares 2 dimensions"),
        (b"\x00\x00", "shorter than the 4-byte header"),
        (b"\x01\x00\x08\x01" + bytes(5), "is not an IDX file"),
        (_header(0x0A, 1) + bytes(1), "unknown type code 0x0A"),
    ],
)
def test_malformed_files_name_the_path(tmp_path, raw, match):
    path = tmp_path / "bad-file-idx"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "bad.gz"
    write_idx(path, np.arange(1000, dtype=np.int32))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match=re.escape(str(path))):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        read_idx(tmp_path / "nope")


def test_write_idx_errors(tmp_path):
    with pytest.raises(TypeError, match="array must have dtype uint8"):
        write_idx(tmp_path / "a", np.zeros(3, np.uint16))
    with pytest.raises(TypeError, match="array must have dtype"):
        write_idx(tmp_path / "a", np.zeros(3, bool))


# ---------------------------------------------------------------------------------------------
# load_mnist_idx on a tiny directory written by the test.

N_TRAIN, N_TEST = 40, 12


def _write_mnist(directory, *, names=None, n_train=N_TRAIN, n_test=N_TEST, n_train_labels=None):
    rng = np.random.default_rng(0)
    names = names or {
        "train_images": "train-images-idx3-ubyte",
        "train_labels": "train-labels-idx1-ubyte",
        "test_images": "t10k-images-idx3-ubyte",
        "test_labels": "t10k-labels-idx1-ubyte",
    }
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": (
            np.arange(n_train if n_train_labels is None else n_train_labels) % 10
        ).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 10).astype(np.uint8),
    }
    arrays["train_images"][:, 0, 0] = 255  # Full range.
    arrays["train_images"][:, 0, 1] = 0
    for key, name in names.items():
        write_idx(directory / name, arrays[key])
    return arrays


def test_load_mnist_idx(tmp_path):
    arrays = _write_mnist(tmp_path)
    ds = load_mnist_idx(tmp_path, val_fraction=0.25)
    assert ds.name == "mnist" and ds.num_classes == 10 and ds.input_shape == (28, 28, 1)
    assert ds.sizes == {"train": 30, "val": 10, "test": N_TEST}
    for split in ds[:3]:
        assert split.x.dtype == np.float32 and split.y.dtype == np.int32
        assert split.x.min() >= 0.0 and split.x.max() <= 1.0
    assert ds.train.x.max() == 1.0 and ds.train.x.min() == 0.0
    # The test split is the t10k files, in order.
    np.testing.assert_array_equal(ds.test.x[..., 0] * 255, arrays["test_images"].astype(np.float32))
    np.testing.assert_array_equal(ds.test.y, arrays["test_labels"])
    # Train + val are exactly the train files, images paired with their labels.
    x = np.concatenate([ds.train.x, ds.val.x])[..., 0]
    y = np.concatenate([ds.train.y, ds.val.y])
    ref = arrays["train_images"].astype(np.float32) / 255
    order, ref_order = np.lexsort(x.reshape(len(x), -1).T), np.lexsort(ref.reshape(N_TRAIN, -1).T)
    np.testing.assert_array_equal(x[order], ref[ref_order])
    np.testing.assert_array_equal(y[order], arrays["train_labels"][ref_order])


def test_load_mnist_idx_flatten_gz_dotted_and_determinism(tmp_path):
    _write_mnist(
        tmp_path,
        names={
            "train_images": "train-images.idx3-ubyte.gz",
            "train_labels": "train-labels.idx1-ubyte",
            "test_images": "t10k-images-idx3-ubyte.gz",
            "test_labels": "t10k-labels.idx1-ubyte.gz",
        },
    )
    flat = load_mnist_idx(tmp_path, flatten=True, seed=3)
    img = load_mnist_idx(str(tmp_path), seed=3)
    assert flat.input_shape == (784,)
    np.testing.assert_array_equal(flat.train.x, img.train.x.reshape(-1, 784))
    other = load_mnist_idx(tmp_path, seed=4)
    assert not np.array_equal(img.val.y, other.val.y) or not np.array_equal(img.val.x, other.val.x)


def test_load_mnist_idx_missing_file(tmp_path):
    _write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist_idx(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message
    for name in ["t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz", "t10k-labels.idx1-ubyte"]:
        assert name in message
    assert "train-images" not in message  # Only the missing role is listed.


def test_load_mnist_idx_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "absent"))):
        load_mnist_idx(tmp_path / "absent")


def test_load_mnist_idx_count_mismatch(tmp_path):
    _write_mnist(tmp_path, n_train_labels=N_TRAIN - 1)
    with pytest.raises(ValueError, match="image/label count mismatch.*40 images.*39 labels"):
        load_mnist_idx(tmp_path)


def test_load_mnist_idx_bad_label_range(tmp_path):
    _write_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.full(N_TEST, 10, np.uint8))
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte must lie in"):
        load_mnist_idx(tmp_path)
