"""Nested tuning: an Optuna study whose trials are themselves IFT bilevel runs, on a step budget.

Two ways to tune the digits MLP of :mod:`jaxml.tune.digits` under one budget of training steps:

- **nested** (:func:`nested_ift_spec`, job :func:`nested_ift_job`): the outer study proposes one
  learning rate ``lr`` (every layer) and the number of inner steps ``inner_steps`` per
  hyperstep; each trial then tunes one L2 decay per weight by IFT hypergradients
  (:func:`jaxml.tune.digits.ift_job`, i.e. :func:`jaxml.implicit.bilevel`), every decay starting
  at ``init_wd``;
- **black box** (:func:`shared_lr_spec`, job :func:`shared_lr_job`): the study proposes the same
  ``lr`` and one decay per layer ``wd_<layer>``, and each trial trains with them fixed
  (:func:`jaxml.tune.digits.mlp_job`).

Both are ordinary :class:`~jaxml.tune.spec.TuneSpec` studies (any proposer, any storage).
:func:`run_to_budget` runs a study trial by trial until the training steps its trials spent
(inner steps, plus ``2 * num_terms + 2`` step-equivalents per IFT hyperstep, as the jobs count
them) reach a budget, and :func:`best_within_budget` picks the best trial that finished within
it, so the two are compared at the same number of training steps.

Host-side drivers (they talk to the database); the jobs jit their own training chunks.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

from jaxml import _validation as chk
from jaxml.tune.digits import (
    DIGITS_SCALES,
    IFT_SCALES,
    _check_hidden,
    ift_job,
    layer_names,
    mlp_job,
)
from jaxml.tune.driver import PROGRESS_ENV, prepare
from jaxml.tune.job import Reporter
from jaxml.tune.records import _check_records, study_summary, trial_records
from jaxml.tune.space import Param
from jaxml.tune.spec import TuneSpec
from jaxml.tune.worker import budget_counts, run_worker

__all__ = [
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
]

LR_RANGE = (1e-3, 0.3)
WD_RANGE = (1e-6, 0.1)


def _check_range(r: Any, name: str) -> tuple[float, float]:
    if isinstance(r, str) or not isinstance(r, Sequence) or len(r) != 2:
        raise TypeError(f"{name} must be a (low, high) pair; got {r!r}")
    low = chk.check_positive(r[0], name)
    high = chk.check_positive(r[1], name)
    if not low < high:
        raise ValueError(f"{name} must have low < high; got {tuple(r)}")
    return float(low), float(high)


def _check_inner_steps(inner_steps: Any, eval_every: int) -> tuple[int, ...]:
    if isinstance(inner_steps, str) or not isinstance(inner_steps, Sequence) or not inner_steps:
        raise TypeError(f"inner_steps must be a non-empty sequence of ints; got {inner_steps!r}")
    out = tuple(chk.check_int(s, "inner_steps", minimum=1) for s in inner_steps)
    if len(set(out)) != len(out):
        raise ValueError(f"inner_steps must be distinct; got {out}")
    bad = [s for s in out if eval_every % s]
    if bad:
        raise ValueError(
            f"inner_steps must divide eval_every={eval_every} (one report per whole number of "
            f"hypersteps); got {bad}"
        )
    return out


def nested_space(
    inner_steps: Sequence[int] = (10, 25, 50), *, lr_range: tuple[float, float] = LR_RANGE
) -> tuple[Param, ...]:
    """The outer space: ``lr`` (log scale) and ``inner_steps`` (categorical over the choices)."""
    if isinstance(inner_steps, str) or not isinstance(inner_steps, Sequence) or not inner_steps:
        raise TypeError(f"inner_steps must be a non-empty sequence of ints; got {inner_steps!r}")
    choices = tuple(chk.check_int(s, "inner_steps", minimum=1) for s in inner_steps)
    low, high = _check_range(lr_range, "lr_range")
    return (
        Param("lr", "float", low=low, high=high, log=True),
        Param("inner_steps", "categorical", choices=choices),
    )


def shared_lr_space(
    hidden: Sequence[int] = (32,),
    *,
    lr_range: tuple[float, float] = LR_RANGE,
    wd_range: tuple[float, float] = WD_RANGE,
) -> tuple[Param, ...]:
    """The black-box space: ``lr`` (all layers) and ``wd_<layer>`` per layer, log scale."""
    hidden = _check_hidden(hidden)
    low, high = _check_range(lr_range, "lr_range")
    wlow, whigh = _check_range(wd_range, "wd_range")
    wds = [Param(f"wd_{n}", "float", low=wlow, high=whigh, log=True) for n in layer_names(hidden)]
    return (Param("lr", "float", low=low, high=high, log=True), *wds)


def _lr(config: Any) -> float:
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict of proposed values; got {type(config).__name__}")
    if "lr" not in config:
        raise ValueError(f"config is missing 'lr'; got keys {sorted(config)}")
    return chk.check_positive(config["lr"], "config['lr']")


def shared_lr_job(
    config: dict, reporter: Reporter, *, hidden: Sequence[int] = (32,), **job: Any
) -> float:
    """:func:`~jaxml.tune.digits.mlp_job` with ``config["lr"]`` for every layer.

    Args:
        config: ``lr`` and ``wd_<layer>`` for every layer (:func:`shared_lr_space`).
        reporter: as for :func:`~jaxml.tune.digits.mlp_job`.
        hidden, **job: :func:`~jaxml.tune.digits.mlp_job`'s job arguments.
    Returns:
        The final validation loss.
    """
    lr = _lr(config)
    hidden = _check_hidden(hidden)
    per_layer = {f"lr_{n}": lr for n in layer_names(hidden)}
    per_layer.update({k: v for k, v in config.items() if k.startswith("wd_")})
    return mlp_job(per_layer, reporter, hidden=hidden, **job)


def nested_ift_job(
    config: dict,
    reporter: Reporter,
    *,
    init_wd: float = 1e-3,
    hidden: Sequence[int] = (32,),
    **job: Any,
) -> float:
    """One IFT bilevel run (one decay per weight) at the outer trial's ``lr`` and ``inner_steps``.

    Args:
        config: ``lr`` (every layer) and ``inner_steps`` (Adam steps per hyperstep; must divide
            ``eval_every``), from :func:`nested_space`.
        reporter: counts inner steps plus ``2 * num_terms + 2`` per hyperstep.
        init_wd: every weight's decay at the start (the hypergradient moves each from there).
        hidden, **job: :func:`~jaxml.tune.digits.ift_job`'s other arguments (``num_steps,
            eval_every, batch_size, seed, num_train, outer_lr, num_terms, neumann_alpha``).
    Returns:
        The final validation loss.
    """
    lr = _lr(config)
    if "inner_steps" not in config:
        raise ValueError(f"config is missing 'inner_steps'; got keys {sorted(config)}")
    inner = chk.check_int(config["inner_steps"], "config['inner_steps']", minimum=1)
    init_wd = chk.check_positive(init_wd, "init_wd")
    hidden = _check_hidden(hidden)
    names = layer_names(hidden)
    per_layer = {**{f"lr_{n}": lr for n in names}, **{f"wd_{n}": init_wd for n in names}}
    return ift_job(per_layer, reporter, inner_steps=inner, hidden=hidden, **job)


def _job_kwargs(scale: str, seed: int) -> dict:
    chk.check_choice(scale, "scale", tuple(DIGITS_SCALES))
    chk.check_int(seed, "seed", minimum=0)
    return {**DIGITS_SCALES[scale], "seed": seed}


def nested_ift_spec(
    workdir: str | os.PathLike,
    *,
    scale: str = "quick",
    seed: int = 0,
    inner_steps: Sequence[int] = (10, 25, 50),
    init_wd: float = 1e-3,
    lr_range: tuple[float, float] = LR_RANGE,
    proposer: str = "tpe",
    n_trials: int = 100,
    **spec_fields: Any,
) -> TuneSpec:
    """The outer study of the nested method on the digits problem at ``scale``.

    Args:
        workdir: the spec's workdir. scale: a :data:`~jaxml.tune.digits.DIGITS_SCALES` key.
        seed: data split, initialization and sampler seed.
        inner_steps: the choices of inner steps per hyperstep (each divides ``eval_every``).
        init_wd: the decay every weight starts from. lr_range: the ``lr`` range.
        proposer: the outer sampler (not "ift": the trials are already IFT runs).
        n_trials: a cap on trials (:func:`run_to_budget` usually stops first).
        **spec_fields: other :class:`~jaxml.tune.spec.TuneSpec` fields (storage, study_name...).
    """
    kwargs = _job_kwargs(scale, seed)
    choices = _check_inner_steps(inner_steps, kwargs["eval_every"])
    chk.check_positive(init_wd, "init_wd")
    if proposer == "ift":
        raise ValueError("proposer must be a black-box sampler here; 'ift' is the trials' job")
    ift = {k: v for k, v in IFT_SCALES[scale].items() if k != "inner_steps"}
    return TuneSpec(
        proposer=proposer,
        n_trials=n_trials,
        params=nested_space(choices, lr_range=lr_range),
        job=f"{__name__}:nested_ift_job",
        workdir=workdir,
        job_kwargs={**kwargs, **ift, "init_wd": float(init_wd)},
        seed=seed,
        **spec_fields,
    )


def shared_lr_spec(
    workdir: str | os.PathLike,
    *,
    scale: str = "quick",
    seed: int = 0,
    lr_range: tuple[float, float] = LR_RANGE,
    wd_range: tuple[float, float] = WD_RANGE,
    proposer: str = "tpe",
    n_trials: int = 100,
    **spec_fields: Any,
) -> TuneSpec:
    """The black-box study (``lr`` + per-layer decay) on the digits problem at ``scale``.

    Arguments as for :func:`nested_ift_spec`; ``wd_range`` is the per-layer decays' range.
    """
    kwargs = _job_kwargs(scale, seed)
    if proposer == "ift":
        raise ValueError("proposer must be a black-box sampler here; got 'ift'")
    return TuneSpec(
        proposer=proposer,
        n_trials=n_trials,
        params=shared_lr_space(tuple(kwargs["hidden"]), lr_range=lr_range, wd_range=wd_range),
        job=f"{__name__}:shared_lr_job",
        workdir=workdir,
        job_kwargs=kwargs,
        seed=seed,
        **spec_fields,
    )


def steps_spent(records: Sequence[dict[str, Any]]) -> float:
    """Training steps spent by every trial that ran (failed ones included), as
    :func:`~jaxml.tune.records.best_so_far` counts them."""
    _check_records(records)
    return float(sum(r["train_steps"] for r in records if r.get("train_steps") is not None))


def run_to_budget(spec: TuneSpec, max_steps: int, *, progress: bool = True) -> dict[str, Any]:
    """Runs ``spec``'s study one trial at a time until its trials spent ``max_steps`` steps.

    A trial starts while fewer than ``max_steps`` steps are spent and fewer than
    ``spec.n_trials`` trials are done, so the last one may end past the budget
    (:func:`best_within_budget` leaves it out). One sampler serves every trial (its random
    stream goes on), and a killed run resumes from the storage like :func:`run_study`; a
    resumed run reseeds its sampler (Optuna's ``reseed_rng``), or it would repeat the proposals
    made before the kill, so it is not reproducible bit for bit.

    Returns:
        :func:`~jaxml.tune.records.study_summary` plus ``"train_steps"`` (steps spent).

    Raises:
        ValueError: ``spec.n_parallel != 1`` (the budget is checked between trials).
    """
    if not isinstance(spec, TuneSpec):
        raise TypeError(f"spec must be a TuneSpec; got {type(spec).__name__}")
    max_steps = chk.check_int(max_steps, "max_steps", minimum=1)
    chk.check_bool(progress, "progress")
    if spec.n_parallel != 1:
        raise ValueError(f"spec must have n_parallel=1 for run_to_budget; got {spec.n_parallel}")
    study = prepare(spec)
    if study.get_trials(deepcopy=False):
        study.sampler.reseed_rng()  # resuming: a fresh sampler must not repeat earlier proposals
    bar = None
    if progress and os.environ.get(PROGRESS_ENV, "1") != "0":
        from tqdm.auto import tqdm

        bar = tqdm(total=max_steps, desc=f"{spec.study_name} ({spec.proposer})", unit="step")
    try:
        while True:
            spent = steps_spent(trial_records(study))
            if bar is not None:
                bar.n = min(int(spent), max_steps)
                bar.refresh()
            done = budget_counts(study)["done"]
            if spent >= max_steps or done >= spec.n_trials:
                break
            run_worker(dataclasses.replace(spec, n_trials=done + 1), study=study)
    finally:
        if bar is not None:
            bar.close()
    return {**study_summary(study), "train_steps": spent}


def within_budget(records: Sequence[dict[str, Any]], max_steps: float) -> list[dict[str, Any]]:
    """The COMPLETE trials that ended within ``max_steps``, in number order.

    Trials spend their ``train_steps`` in number order (as in
    :func:`~jaxml.tune.records.best_so_far`); a trial "ends" at the steps spent up to and
    including it. Each returned record carries that as ``"end_steps"``.
    """
    _check_records(records)
    max_steps = chk.check_positive(max_steps, "max_steps")
    spent, done = 0.0, []
    for r in records:
        if r.get("train_steps") is None:
            continue
        spent += float(r["train_steps"])
        if r["state"] == "COMPLETE" and spent <= max_steps:
            done.append({**r, "end_steps": spent})
    return done


def best_within_budget(
    records: Sequence[dict[str, Any]], max_steps: float
) -> dict[str, Any] | None:
    """The trial of :func:`within_budget` with the lowest score (the first on a tie), or None
    if no trial ended in budget."""
    done = within_budget(records, max_steps)
    return min(done, key=lambda r: r["value"]) if done else None
