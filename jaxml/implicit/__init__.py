"""Implicit-differentiation hyperparameter optimization (Lorraine, Vicol & Duvenaud, 2020)."""

from jaxml.implicit import hparams
from jaxml.implicit.augment_arms import (
    AugmentationArms,
    arm_curve_record,
    arm_metrics,
    augmentation_arms,
    augmentation_losses,
    evaluate_arms,
    paired_difference,
    subset_split,
)
from jaxml.implicit.bilevel import Bilevel, BilevelState, bilevel
from jaxml.implicit.chunked import chunked_mean
from jaxml.implicit.distill import SeededDistillation, distill_seeds
from jaxml.implicit.fresh import fresh_accuracy, fresh_trainer
from jaxml.implicit.hypergradient import (
    HVP_MODES,
    MAX_EXACT_PARAMS,
    METHODS,
    HypergradInfo,
    hypergradient,
)
from jaxml.implicit.inner_solve import lbfgs_minimize
from jaxml.implicit.inverse_hvp import (
    InverseHVPInfo,
    cg_inverse_hvp,
    hvp_fn,
    neumann_inverse_hvp,
    tree_norm,
    tree_vdot,
)
from jaxml.implicit.resets import with_inner_resets
from jaxml.implicit.spectrum import hessian_extremes, hypergradient_error, power_iteration
from jaxml.implicit.unrolled import unrolled_hypergradient

__all__ = [
    "AugmentationArms",
    "HVP_MODES",
    "MAX_EXACT_PARAMS",
    "METHODS",
    "Bilevel",
    "BilevelState",
    "HypergradInfo",
    "InverseHVPInfo",
    "arm_curve_record",
    "arm_metrics",
    "SeededDistillation",
    "augmentation_arms",
    "augmentation_losses",
    "bilevel",
    "cg_inverse_hvp",
    "chunked_mean",
    "distill_seeds",
    "evaluate_arms",
    "fresh_accuracy",
    "fresh_trainer",
    "hessian_extremes",
    "hparams",
    "hvp_fn",
    "hypergradient",
    "hypergradient_error",
    "lbfgs_minimize",
    "neumann_inverse_hvp",
    "paired_difference",
    "power_iteration",
    "subset_split",
    "tree_norm",
    "tree_vdot",
    "unrolled_hypergradient",
    "with_inner_resets",
]
