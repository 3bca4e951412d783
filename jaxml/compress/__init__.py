"""Programmable model compression on parameter pytrees (Condensa; Joseph et al. 2019).

Schemes (:class:`Prune`, :class:`NeuronPrune`, :class:`FilterPrune`, :class:`BlockPrune`,
:class:`Quantize`, :class:`Compose`) are pure ``compress`` / ``decompress`` pairs over pytrees with
a path filter (:class:`Layers`); accuracy is recovered by direct fine-tuning with held masks or
by the L-C algorithm (:func:`lc`, an optax wrapper); :func:`search_density` finds the lowest
density within an accuracy bound with a Gaussian process; :func:`save_compressed` writes the
compressed bytes; :func:`shrink_mlp` turns a neuron-pruned MLP into a smaller dense one.
"""

from jaxml.compress._base import PruneAux, QuantAux
from jaxml.compress.compose import Compose
from jaxml.compress.density import density, masks_of
from jaxml.compress.layers import Layers, select_leaves
from jaxml.compress.pruning import BlockPrune, FilterPrune, NeuronPrune, Prune
from jaxml.compress.quantize import Quantize
from jaxml.compress.shrink import ShrunkMLP, shrink_mlp

__all__ = [
    "BlockPrune",
    "Compose",
    "FilterPrune",
    "Layers",
    "NeuronPrune",
    "Prune",
    "PruneAux",
    "QuantAux",
    "Quantize",
    "ShrunkMLP",
    "density",
    "masks_of",
    "select_leaves",
    "shrink_mlp",
]
