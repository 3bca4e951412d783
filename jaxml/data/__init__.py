"""Dataset loaders: embedded defaults (no network) and readers for real-format files.

Every classification loader returns a :class:`Dataset` of ``train``/``val``/``test``
:class:`Split` s with deterministic splits from a seed or JAX PRNG key.
"""

from jaxml.data.cifar import load_cifar10, write_cifar10_batch, write_cifar10_meta
from jaxml.data.diabetes import load_diabetes
from jaxml.data.digits import load_digits
from jaxml.data.idx import load_mnist_idx, read_idx, write_idx
from jaxml.data.mnist1d import load_mnist1d
from jaxml.data.splits import (
    Dataset,
    Split,
    disjoint_subsets,
    make_dataset,
    split_indices,
    to_numpy_rng,
)
from jaxml.data.synthetic import LinearGaussianSample, Tree, linear_gaussian, random_tree
from jaxml.data.wordnet import (
    SUPPORTED_VERSIONS,
    Hierarchy,
    Synset,
    load_wordnet_hierarchy,
    read_noun_synsets,
    wordnet_dir,
)

__all__ = [
    "SUPPORTED_VERSIONS",
    "Dataset",
    "Hierarchy",
    "Synset",
    "LinearGaussianSample",
    "Split",
    "Tree",
    "disjoint_subsets",
    "linear_gaussian",
    "load_diabetes",
    "load_cifar10",
    "load_digits",
    "load_mnist1d",
    "load_mnist_idx",
    "load_wordnet_hierarchy",
    "make_dataset",
    "random_tree",
    "read_idx",
    "read_noun_synsets",
    "split_indices",
    "to_numpy_rng",
    "write_cifar10_batch",
    "write_cifar10_meta",
    "wordnet_dir",
    "write_idx",
]
