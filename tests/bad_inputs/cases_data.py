"""Bad calls to jaxml.data (see tests/bad_inputs/audit.py). Files are written to a temp folder."""

import tempfile
from pathlib import Path

import jax
import numpy as np

from jaxml import data as d
from jaxml.testing import bad_calls

F = "jaxml.data."
_TMP = Path(tempfile.mkdtemp(prefix="jaxml-bad-inputs-"))
_x = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
_y = np.arange(40) % 2


_SPLIT = d.Split(np.ones((5, 2)), np.arange(5))


def _cases(name, arg, items):
    # A missing file or folder is a FileNotFoundError (naming the argument), the rest ValueError/
    # TypeError.
    return [
        c
        for what, call in items
        for c in bad_calls(
            F + name,
            arg,
            [(what, call)],
            (FileNotFoundError,) if "missing" in what else (ValueError, TypeError),
        )
    ]


def _lg(**kw):
    args = {"key": 0, "num_samples": 10, "data_dim": 4, "latent_dim": 2}
    args.update(kw)
    return d.linear_gaussian(**args)


def _ds(**kw):
    args = {"x": _x, "y": _y, "name": "t", "num_classes": 2, "val_fraction": 0.2}
    args.update(kw)
    return d.make_dataset(**args)


CASES = [
    *_cases(
        "linear_gaussian",
        "num_samples",
        [("0", lambda: _lg(num_samples=0)), ("2.5", lambda: _lg(num_samples=2.5))],
    ),
    *_cases(
        "linear_gaussian",
        "data_dim",
        [("0", lambda: _lg(data_dim=0)), ("'4'", lambda: _lg(data_dim="4"))],
    ),
    *_cases(
        "linear_gaussian",
        "latent_dim",
        [("> data_dim", lambda: _lg(latent_dim=5)), ("-1", lambda: _lg(latent_dim=-1))],
    ),
    *_cases(
        "linear_gaussian",
        "sigma2",
        [
            ("negative", lambda: _lg(sigma2=-0.1)),
            ("NaN", lambda: _lg(sigma2=float("nan"))),
            ("string", lambda: _lg(sigma2="0.1")),
        ],
    ),
    *_cases(
        "linear_gaussian",
        "w",
        [
            ("wrong shape", lambda: _lg(w=np.ones((3, 2)))),
            ("NaN", lambda: _lg(w=np.full((4, 2), np.nan))),
        ],
    ),
    *_cases(
        "linear_gaussian",
        "mu",
        [("wrong length", lambda: _lg(mu=np.ones(3))), ("inf", lambda: _lg(mu=np.full(4, np.inf)))],
    ),
    *_cases(
        "linear_gaussian",
        "key",
        [("a string", lambda: _lg(key="0")), ("negative seed", lambda: _lg(key=-1))],
    ),
    *_cases(
        "load_digits",
        "flatten",
        [
            ("'no'", lambda: d.load_digits(flatten="no")),
            ("None", lambda: d.load_digits(flatten=None)),
        ],
    ),
    *_cases(
        "load_digits",
        "val_fraction",
        [
            ("1.5", lambda: d.load_digits(val_fraction=1.5)),
            ("-0.1", lambda: d.load_digits(val_fraction=-0.1)),
            ("'0.1'", lambda: d.load_digits(val_fraction="0.1")),
        ],
    ),
    *_cases(
        "load_digits",
        "test_fraction",
        [
            ("sum > 1", lambda: d.load_digits(val_fraction=0.6, test_fraction=0.6)),
            ("NaN", lambda: d.load_digits(test_fraction=float("nan"))),
        ],
    ),
    *_cases(
        "load_digits",
        "seed",
        [
            ("a string", lambda: d.load_digits(seed="a")),
            ("a float", lambda: d.load_digits(seed=1.5)),
        ],
    ),
    *_cases(
        "load_mnist1d",
        "num_samples",
        [
            ("0", lambda: d.load_mnist1d(num_samples=0, cache=False)),
            ("a float", lambda: d.load_mnist1d(num_samples=10.0, cache=False)),
        ],
    ),
    *_cases(
        "load_mnist1d",
        "val_fraction",
        [("1.0", lambda: d.load_mnist1d(num_samples=50, val_fraction=1.0, cache=False))],
    ),
    *_cases(
        "load_mnist1d",
        "generator_seed",
        [("a string", lambda: d.load_mnist1d(num_samples=50, generator_seed="x", cache=False))],
    ),
    *_cases(
        "load_mnist1d",
        "cache",
        [("'yes'", lambda: d.load_mnist1d(num_samples=50, cache="yes"))],
    ),
    *_cases(
        "load_mnist_idx",
        "directory",
        [
            ("missing folder", lambda: d.load_mnist_idx(_TMP / "nope")),
            ("an int", lambda: d.load_mnist_idx(3)),
        ],
    ),
    *_cases(
        "load_mnist_idx",
        "num_classes",
        [("1", lambda: d.load_mnist_idx(_TMP, num_classes=1))],
    ),
    *_cases(
        "load_cifar10",
        "directory",
        [
            ("missing folder", lambda: d.load_cifar10(_TMP / "nope")),
            ("None", lambda: d.load_cifar10(None)),
        ],
    ),
    *_cases(
        "load_cifar10",
        "val_fraction",
        [("1.0", lambda: d.load_cifar10(_TMP, val_fraction=1.0))],
    ),
    *_cases(
        "load_wordnet_hierarchy",
        "root",
        [
            ("unknown synset", lambda: d.load_wordnet_hierarchy("nosuchthing.n.01")),
            ("a float", lambda: d.load_wordnet_hierarchy(1.5)),
        ],
    ),
    *_cases(
        "load_wordnet_hierarchy",
        "version",
        [
            ("2.1", lambda: d.load_wordnet_hierarchy(version="2.1")),
            ("3", lambda: d.load_wordnet_hierarchy(version=3)),
        ],
    ),
    *_cases(
        "load_wordnet_hierarchy",
        "directory",
        [("missing folder", lambda: d.load_wordnet_hierarchy(directory=_TMP / "nope"))],
    ),
    *_cases(
        "load_wordnet_hierarchy",
        "include_instances",
        [("'no'", lambda: d.load_wordnet_hierarchy(include_instances="no"))],
    ),
    *_cases(
        "make_dataset",
        "x",
        [
            ("NaN", lambda: _ds(x=np.where(np.eye(40, 3) > 0, np.nan, _x))),
            ("1-D", lambda: _ds(x=np.ones(40))),
            ("a string", lambda: _ds(x="abc")),
        ],
    ),
    *_cases(
        "make_dataset",
        "y",
        [
            ("wrong length", lambda: _ds(y=_y[:30])),
            ("label out of range", lambda: _ds(y=np.where(_y == 1, 2, 0))),
            ("negative label", lambda: _ds(y=-_y)),
            ("float labels", lambda: _ds(y=_y + 0.5)),
        ],
    ),
    *_cases(
        "make_dataset",
        "num_classes",
        [("0", lambda: _ds(num_classes=0)), ("a float", lambda: _ds(num_classes=2.0))],
    ),
    *_cases(
        "make_dataset",
        "name",
        [("None", lambda: _ds(name=None)), ("empty", lambda: _ds(name=""))],
    ),
    *_cases(
        "make_dataset",
        "class_names",
        [
            ("wrong count", lambda: _ds(class_names=["a"])),
            ("a string", lambda: _ds(class_names="ab")),
        ],
    ),
    *_cases(
        "make_dataset",
        "test",
        [("not a Split", lambda: _ds(test=(1, 2)))],
    ),
    *_cases(
        "random_tree",
        "num_nodes",
        [
            ("0", lambda: d.random_tree(0, num_nodes=0)),
            ("a float", lambda: d.random_tree(0, num_nodes=10.0)),
        ],
    ),
    *_cases(
        "random_tree",
        "branching",
        [
            ("0", lambda: d.random_tree(0, branching=0, depth=2)),
            ("-2", lambda: d.random_tree(0, branching=-2, depth=2)),
        ],
    ),
    *_cases(
        "random_tree",
        "depth",
        [("-1", lambda: d.random_tree(0, branching=2, depth=-1))],
    ),
    *_cases(
        "random_tree",
        "seed",
        [("a string", lambda: d.random_tree("s", num_nodes=5))],
    ),
    *_cases(
        "read_idx",
        "path",
        [
            ("missing file", lambda: d.read_idx(_TMP / "missing.idx")),
            ("not an IDX file", lambda: d.read_idx(_write(_TMP / "junk.idx", b"hello world"))),
            ("an int", lambda: d.read_idx(5)),
        ],
    ),
    *_cases(
        "write_idx",
        "array",
        [
            ("float16", lambda: d.write_idx(_TMP / "a.idx", np.ones(3, np.float16))),
            ("a string", lambda: d.write_idx(_TMP / "a.idx", "abc")),
            ("0-D", lambda: d.write_idx(_TMP / "a.idx", np.float32(1.0))),
        ],
    ),
    *_cases(
        "write_idx",
        "path",
        [("None", lambda: d.write_idx(None, np.ones(3, np.uint8)))],
    ),
    *_cases(
        "read_noun_synsets",
        "directory",
        [
            ("missing folder", lambda: d.read_noun_synsets(_TMP / "nope")),
            ("None", lambda: d.read_noun_synsets(None)),
        ],
    ),
    *_cases(
        "split_indices",
        "n",
        [
            ("0", lambda: d.split_indices(0, seed=0, val_fraction=0.1, test_fraction=0.1)),
            ("a float", lambda: d.split_indices(10.0, seed=0, val_fraction=0.1, test_fraction=0.1)),
        ],
    ),
    *_cases(
        "split_indices",
        "val_fraction",
        [("-0.5", lambda: d.split_indices(10, seed=0, val_fraction=-0.5, test_fraction=0.1))],
    ),
    *_cases(
        "split_indices",
        "labels",
        [
            (
                "wrong length",
                lambda: d.split_indices(
                    10, seed=0, val_fraction=0.2, test_fraction=0.2, labels=np.zeros(5, int)
                ),
            ),
            (
                "2-D",
                lambda: d.split_indices(
                    10, seed=0, val_fraction=0.2, test_fraction=0.2, labels=np.zeros((10, 2), int)
                ),
            ),
        ],
    ),
    *_cases(
        "to_numpy_rng",
        "seed",
        [
            ("a string", lambda: d.to_numpy_rng("a")),
            ("negative", lambda: d.to_numpy_rng(-3)),
            ("a float", lambda: d.to_numpy_rng(0.5)),
            ("a key array batch", lambda: d.to_numpy_rng(jax.random.split(jax.random.key(0), 2))),
        ],
    ),
    *_cases(
        "write_cifar10_batch",
        "images",
        [
            (
                "wrong shape",
                lambda: d.write_cifar10_batch(_TMP / "b", np.zeros((2, 8, 8, 3), np.uint8), [0, 1]),
            ),
            ("floats", lambda: d.write_cifar10_batch(_TMP / "b", np.zeros((2, 32, 32, 3)), [0, 1])),
        ],
    ),
    *_cases(
        "write_cifar10_batch",
        "labels",
        [
            (
                "wrong count",
                lambda: d.write_cifar10_batch(_TMP / "b", np.zeros((2, 32, 32, 3), np.uint8), [0]),
            ),
            (
                "label 10",
                lambda: d.write_cifar10_batch(
                    _TMP / "b", np.zeros((2, 32, 32, 3), np.uint8), [0, 10]
                ),
            ),
        ],
    ),
    *_cases(
        "write_cifar10_meta",
        "label_names",
        [
            ("a string", lambda: d.write_cifar10_meta(_TMP / "m", "cat")),
            ("ints", lambda: d.write_cifar10_meta(_TMP / "m", [1, 2])),
        ],
    ),
    *_cases(
        "wordnet_dir",
        "version",
        [("2.0", lambda: d.wordnet_dir("2.0")), ("a float", lambda: d.wordnet_dir(3.0))],
    ),
    *_cases(
        "load_diabetes",
        "num_train",
        [
            ("442 (nothing left to validate)", lambda: d.load_diabetes(num_train=442)),
            ("1", lambda: d.load_diabetes(num_train=1)),
            ("300.0", lambda: d.load_diabetes(num_train=300.0)),
        ],
    ),
    *_cases("load_diabetes", "seed", [("-1", lambda: d.load_diabetes(seed=-1))]),
    *_cases(
        "disjoint_subsets",
        "sizes",
        [
            ("too many rows", lambda: d.disjoint_subsets(_SPLIT, (3, 3))),
            ("0", lambda: d.disjoint_subsets(_SPLIT, (0, 2))),
            ("empty", lambda: d.disjoint_subsets(_SPLIT, ())),
            ("an int", lambda: d.disjoint_subsets(_SPLIT, 2)),
        ],
    ),
    *_cases(
        "disjoint_subsets",
        "split",
        [("a tuple", lambda: d.disjoint_subsets((np.ones((4, 2)), np.ones(4)), (2,)))],
    ),
]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


EXEMPT = {
    F + "Dataset": "a NamedTuple container built by the loaders",
    F + "Split": "a NamedTuple container built by the loaders",
    F + "Hierarchy": "a NamedTuple container built by load_wordnet_hierarchy",
    F + "Synset": "a NamedTuple record built by read_noun_synsets",
    F + "LinearGaussianSample": "a NamedTuple container built by linear_gaussian",
    F + "Tree": "a NamedTuple container built by random_tree",
}
