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
from jaxml.compress.lc import LCState, lc, lc_theta
from jaxml.compress.pruning import BlockPrune, FilterPrune, NeuronPrune, Prune
from jaxml.compress.quantize import Quantize
from jaxml.compress.recovery import direct, hold_masks
from jaxml.compress.search import SearchResult, search_density
from jaxml.compress.shrink import ShrunkMLP, shrink_mlp
from jaxml.compress.storage import StorageReport, load_compressed, save_compressed

__all__ = [
    "BlockPrune",
    "Compose",
    "FilterPrune",
    "LCState",
    "Layers",
    "NeuronPrune",
    "Prune",
    "PruneAux",
    "QuantAux",
    "Quantize",
    "SearchResult",
    "ShrunkMLP",
    "StorageReport",
    "density",
    "direct",
    "hold_masks",
    "lc",
    "lc_theta",
    "load_compressed",
    "masks_of",
    "save_compressed",
    "search_density",
    "select_leaves",
    "shrink_mlp",
]
