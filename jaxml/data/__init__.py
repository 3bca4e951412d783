"""Dataset loaders: embedded defaults (no network) and readers for real-format files.

Every classification loader returns a :class:`Dataset` of ``train``/``val``/``test``
:class:`Split` s with deterministic splits from a seed or JAX PRNG key.
"""

from jaxml.data.cifar import load_cifar10, write_cifar10_batch, write_cifar10_meta
from jaxml.data.digits import load_digits
from jaxml.data.idx import load_mnist_idx, read_idx, write_idx
from jaxml.data.mnist1d import load_mnist1d
from jaxml.data.splits import Dataset, Split, make_dataset, split_indices, to_numpy_rng
from jaxml.data.synthetic import LinearGaussianSample, Tree, linear_gaussian, random_tree

__all__ = [
    "Dataset",
    "LinearGaussianSample",
    "Split",
    "Tree",
    "linear_gaussian",
    "load_cifar10",
    "load_digits",
    "load_mnist1d",
    "load_mnist_idx",
    "make_dataset",
    "random_tree",
    "read_idx",
    "split_indices",
    "to_numpy_rng",
    "write_cifar10_batch",
    "write_cifar10_meta",
    "write_idx",
]
