"""Hyperbolic embeddings and optimal transport for unsupervised hierarchy matching.

Alvarez-Melis, Mroueh & Jaakkola, AISTATS 2020, on top of Poincare embeddings (Nickel & Kiela,
NeurIPS 2017) and gyrovector operations (Ganea et al., NeurIPS 2018).

* :mod:`~jaxml.hyperbolic.poincare`: the ball's geometry (distance, Mobius operations, exp/log).
* :mod:`~jaxml.hyperbolic.isometry`: rotations + Mobius translations.
* :class:`PoincareCost`: an ott-jax ``CostFn``.
* :func:`riemannian_sgd`, :func:`make_poincare_trainer`, :func:`train_poincare_embeddings`,
  :func:`reconstruction_metrics`: Poincare embeddings.
* :func:`align`: hyperbolic OT, Euclidean Wasserstein-Procrustes, Gromov-Wasserstein (an eager
  driver over the pure, jit/vmap-able :class:`RegistrationSolver` on an :class:`AlignmentProblem`).
* :class:`MobiusLinear`, :class:`HyperbolicMLP`, :func:`riemannian_adam`: hyperbolic layers
  (Ganea et al. 2018) and Riemannian Adam (Becigneul & Ganea 2019).
* ``align(..., registration="mlp")``, ``method="gw_then_hyperbolic"``, :class:`DeepRegistration`,
  :func:`register_from_isometry`, :func:`register_from_plan`: deep registration trained with OT;
  :func:`compare_methods`: every column of the matching figures on one pair of sets.
* :func:`precision_at_k`, :func:`match_by_lemmas`, ...: evaluation and ground truth.
* :func:`synthetic_hierarchy`, :func:`wordnet_hierarchy`, ...: hierarchy sources.
* :func:`selection_cost`, :func:`align_setting`, :func:`hot_selection_job`: label-free tuning of
  hyperbolic OT with :mod:`jaxml.tune`.
"""

from jaxml.hyperbolic import poincare
from jaxml.hyperbolic.alignment import (
    COLUMN_LABELS,
    COLUMNS,
    METHODS,
    REGISTRATIONS,
    TINY_ALIGNMENT,
    AlignmentProblem,
    AlignmentResult,
    EuclideanMap,
    RegistrationSolver,
    RegistrationState,
    align,
    align_precision,
    apply_map,
    compare_methods,
    pairwise_cost,
    time_align,
)
from jaxml.hyperbolic.cost import PoincareCost
from jaxml.hyperbolic.embeddings import (
    NEGATIVE_MODES,
    PoincareTrainState,
    TrainingResult,
    make_poincare_trainer,
    poincare_embedding_loss,
    train_poincare_embeddings,
)
from jaxml.hyperbolic.hierarchies import (
    HierarchyData,
    OrbitBounds,
    hierarchy_orbit_sizes,
    permute_hierarchy,
    remove_edges,
    synthetic_hierarchy,
    tree_orbit_sizes,
    wordnet_hierarchy,
)
from jaxml.hyperbolic.isometry import (
    Isometry,
    apply_isometry,
    compose_isometries,
    fit_isometry,
    identity_isometry,
    invert_isometry,
    noisy_isometric_copy,
    random_isometry,
    random_rotation,
)
from jaxml.hyperbolic.matching import (
    match_by_keys,
    match_by_lemmas,
    precision_at_k,
    true_match_from_permutation,
)
from jaxml.hyperbolic.nn import HyperbolicMLP, MobiusLinear, mobius_linear, mobius_pointwise
from jaxml.hyperbolic.radam import RiemannianAdamState, riemannian_adam
from jaxml.hyperbolic.reconstruction import ReconstructionMetrics, reconstruction_metrics
from jaxml.hyperbolic.registration import (
    DeepMap,
    DeepRegistration,
    register_from_isometry,
    register_from_plan,
)
from jaxml.hyperbolic.rsgd import RiemannianSGDState, riemannian_sgd
from jaxml.hyperbolic.selection import (
    DEFAULT_SETTING,
    SelectionResult,
    align_setting,
    hot_selection_job,
    load_validation_pairs,
    proxy_correlation,
    save_validation_pairs,
    selection_cost,
)

__all__ = [
    "COLUMNS",
    "COLUMN_LABELS",
    "TINY_ALIGNMENT",
    "METHODS",
    "NEGATIVE_MODES",
    "REGISTRATIONS",
    "AlignmentProblem",
    "AlignmentResult",
    "DeepMap",
    "DeepRegistration",
    "EuclideanMap",
    "HierarchyData",
    "HyperbolicMLP",
    "OrbitBounds",
    "Isometry",
    "MobiusLinear",
    "PoincareCost",
    "PoincareTrainState",
    "ReconstructionMetrics",
    "RegistrationSolver",
    "RegistrationState",
    "RiemannianAdamState",
    "RiemannianSGDState",
    "TrainingResult",
    "align",
    "align_precision",
    "apply_isometry",
    "apply_map",
    "compare_methods",
    "compose_isometries",
    "fit_isometry",
    "hierarchy_orbit_sizes",
    "identity_isometry",
    "invert_isometry",
    "make_poincare_trainer",
    "match_by_keys",
    "match_by_lemmas",
    "mobius_linear",
    "mobius_pointwise",
    "noisy_isometric_copy",
    "pairwise_cost",
    "permute_hierarchy",
    "poincare",
    "poincare_embedding_loss",
    "precision_at_k",
    "random_isometry",
    "random_rotation",
    "reconstruction_metrics",
    "register_from_isometry",
    "register_from_plan",
    "remove_edges",
    "riemannian_adam",
    "riemannian_sgd",
    "synthetic_hierarchy",
    "time_align",
    "train_poincare_embeddings",
    "tree_orbit_sizes",
    "true_match_from_permutation",
    "wordnet_hierarchy",
    # selection (label-free HOT tuning, issue 19)
    "DEFAULT_SETTING",
    "SelectionResult",
    "align_setting",
    "hot_selection_job",
    "load_validation_pairs",
    "proxy_correlation",
    "save_validation_pairs",
    "selection_cost",
]

# entropic Gromov-Wasserstein on the kernel-mode Sinkhorn (jaxml.hyperbolic.gw)
from jaxml.hyperbolic.gw import GWOutput, entropic_gw  # noqa: E402

__all__ += ["GWOutput", "entropic_gw"]
