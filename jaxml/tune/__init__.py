"""Hyperparameter tuning on Optuna (Auptimizer, Liu et al. 2019): one spec, many proposers, one DB.

A :class:`TuneSpec` names a proposer (random, grid, TPE, Hyperband, CMA-ES, or gradient-based
IFT), a search space, a budget and a job; :func:`run_study` runs it with ``n_parallel`` workers
against Optuna's RDB storage (SQLite, or PostgreSQL across machines), where every trial's config,
status, intermediate values, score, wall time and training steps are stored, and from which a
killed run resumes. See docs/tune.md.
"""

from jaxml.tune.driver import prepare, run_study
from jaxml.tune.job import FAIL_KINDS, NonFiniteScoreError, Reporter, make_objective, resolve_job
from jaxml.tune.postgres import LocalPostgres, find_pg_bin
from jaxml.tune.proposers import check_proposer_available, make_pruner, make_sampler
from jaxml.tune.records import X_AXES, best_so_far, budget_to_reach, study_summary, trial_records
from jaxml.tune.space import KINDS, Param, check_space, distributions, grid_values, suggest
from jaxml.tune.spec import (
    PROPOSERS,
    TuneSpec,
    check_workdir,
    load_spec,
    spec_from_dict,
)
from jaxml.tune.storage import open_storage, spec_storage
from jaxml.tune.worker import budget_counts, open_study, run_worker

__all__ = [
    "FAIL_KINDS",
    "KINDS",
    "LocalPostgres",
    "PROPOSERS",
    "X_AXES",
    "NonFiniteScoreError",
    "Param",
    "Reporter",
    "TuneSpec",
    "best_so_far",
    "budget_counts",
    "budget_to_reach",
    "check_proposer_available",
    "check_space",
    "check_workdir",
    "distributions",
    "find_pg_bin",
    "grid_values",
    "load_spec",
    "make_objective",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "open_study",
    "prepare",
    "resolve_job",
    "run_study",
    "run_worker",
    "spec_from_dict",
    "spec_storage",
    "study_summary",
    "suggest",
    "trial_records",
]

# Nested tuning (jaxml.tune.nested: an Optuna study whose trials are IFT bilevel runs, on a
# budget of training steps) imports JAX and the digits problem, so it loads on first use: a
# plain `import jaxml.tune` (every worker process does one) stays free of JAX.
_NESTED = (
    "best_within_budget",
    "nested_ift_job",
    "nested_ift_spec",
    "nested_space",
    "run_to_budget",
    "shared_lr_job",
    "shared_lr_spec",
    "shared_lr_space",
    "steps_spent",
    "within_budget",
)
__all__ += list(_NESTED)


def __getattr__(name):
    if name in _NESTED:
        import importlib

        return getattr(importlib.import_module("jaxml.tune.nested"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
