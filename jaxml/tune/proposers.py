"""Proposers: Optuna's samplers and pruner, chosen by the spec's ``proposer`` name.

============  ==============================================================================
random        ``RandomSampler``
grid          ``GridSampler`` over :func:`jaxml.tune.space.grid_values`
tpe           ``TPESampler`` (Bergstra et al. 2011)
hyperband     ``RandomSampler`` + ``HyperbandPruner`` (Li et al. 2018: random configurations,
              successive halving on the reported intermediate scores)
cmaes         ``CmaEsSampler`` (needs the ``cmaes`` package)
ift           ``RandomSampler`` for the starting point; the job itself then follows
              hypergradients (:func:`jaxml.implicit.bilevel`)
============  ==============================================================================
"""

from __future__ import annotations

import importlib.util

import optuna

from jaxml import _validation as chk
from jaxml.tune.space import grid_values
from jaxml.tune.spec import PROPOSERS, TuneSpec


def check_proposer_available(proposer: str) -> None:
    """Raises ImportError (naming the missing package) if ``proposer`` cannot run here."""
    chk.check_choice(proposer, "proposer", PROPOSERS)
    if proposer == "cmaes" and importlib.util.find_spec("cmaes") is None:
        raise ImportError(
            "proposer 'cmaes' needs the 'cmaes' package (Optuna's CmaEsSampler imports it); "
            "it is not installed in this environment: pip install cmaes"
        )


def make_sampler(spec: TuneSpec) -> optuna.samplers.BaseSampler:
    """The sampler of ``spec.proposer``, seeded with ``spec.seed``."""
    if not isinstance(spec, TuneSpec):
        raise TypeError(f"spec must be a TuneSpec; got {type(spec).__name__}")
    check_proposer_available(spec.proposer)
    seed = spec.seed
    if spec.proposer == "grid":
        return optuna.samplers.GridSampler(grid_values(spec.params, spec.grid_size), seed=seed)
    if spec.proposer == "tpe":
        startup = (
            {} if spec.n_startup_trials is None else {"n_startup_trials": spec.n_startup_trials}
        )
        return optuna.samplers.TPESampler(seed=seed, **startup)
    if spec.proposer == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)  # random, hyperband, ift


def make_pruner(spec: TuneSpec) -> optuna.pruners.BasePruner:
    """``HyperbandPruner`` for "hyperband"; ``NopPruner`` otherwise (every trial runs fully)."""
    if not isinstance(spec, TuneSpec):
        raise TypeError(f"spec must be a TuneSpec; got {type(spec).__name__}")
    if spec.proposer == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=spec.min_resource,
            max_resource="auto" if spec.max_resource is None else spec.max_resource,
            reduction_factor=spec.reduction_factor,
        )
    return optuna.pruners.NopPruner()
