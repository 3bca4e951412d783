"""Implicit-differentiation hyperparameter optimization (Lorraine, Vicol & Duvenaud, 2020)."""

from jaxml.implicit import hparams
from jaxml.implicit.bilevel import Bilevel, BilevelState, bilevel
from jaxml.implicit.chunked import chunked_mean
from jaxml.implicit.hypergradient import MAX_EXACT_PARAMS, METHODS, HypergradInfo, hypergradient
from jaxml.implicit.inverse_hvp import (
    InverseHVPInfo,
    cg_inverse_hvp,
    hvp_fn,
    neumann_inverse_hvp,
    tree_norm,
    tree_vdot,
)
from jaxml.implicit.unrolled import unrolled_hypergradient

__all__ = [
    "MAX_EXACT_PARAMS",
    "METHODS",
    "Bilevel",
    "BilevelState",
    "HypergradInfo",
    "InverseHVPInfo",
    "bilevel",
    "cg_inverse_hvp",
    "chunked_mean",
    "hparams",
    "hvp_fn",
    "hypergradient",
    "neumann_inverse_hvp",
    "tree_norm",
    "tree_vdot",
    "unrolled_hypergradient",
]
