"""Jobs and what they report: the bridge between a plain Python function and an Optuna trial.

A job is any callable ``job(config, reporter, **job_kwargs) -> score``: ``config`` is the dict of
proposed values, ``reporter`` a :class:`Reporter` to which the job reports intermediate scores
(so pruners can stop it early), counts its training steps and attaches extra results. The
objective built by :func:`make_objective` stores in the trial (Optuna's database): the config
(the trial's params), its status (Optuna's trial state RUNNING/COMPLETE/FAIL/PRUNED), the
intermediate values, the score, and the user attributes ``wall_time_s``, ``train_steps``,
``worker``, ``result`` (the per-report ``trace`` and whatever the job attached with
:meth:`Reporter.set`) and, for a failed trial, ``fail_reason`` and ``fail_kind``.
"""

from __future__ import annotations

import importlib
import math
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import optuna

from jaxml import _validation as chk
from jaxml.tune.space import suggest
from jaxml.tune.spec import TuneSpec, check_job_ref
from jaxml.tune.storage import write_trial_results

#: ``fail_kind`` values: a job exception (retried), a non-finite score (not retried: the same
#: config would fail again), a surplus trial started by a worker racing another for the last
#: budget slot (never run), a duplicate grid point taken by a racing worker (never run).
FAIL_KINDS = ("error", "nonfinite", "surplus", "duplicate")
DONE_STATES = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


class NonFiniteScoreError(ValueError):
    """A job reported or returned NaN/inf; its trial is recorded FAIL and never becomes best."""


class _NotRun(RuntimeError):
    """A trial this worker must not run (budget already taken, or a duplicate grid point)."""


class Reporter:
    """What a job talks to. ``Reporter(None)`` records without pruning (for a plain loop).

    Under a pruner each report goes to the database at once (the pruner decides on it); under
    Optuna's ``NopPruner`` nothing can stop the trial early, so the reports are kept here and
    stored with the trial's results in one transaction when the job ends (or fails).

    Attributes:
        steps: training steps counted with :meth:`add_steps`.
        values: ``{step: value}`` reported so far.
        attrs: extra results set with :meth:`set`, stored in the user attribute ``"result"``.
        trace: ``[step, steps spent, seconds spent, value]`` per report (stored as
            ``result["trace"]``: the anytime curve of the trial).
    """

    def __init__(self, trial: optuna.trial.Trial | None = None):
        if trial is not None and not isinstance(trial, optuna.trial.Trial):
            raise TypeError(f"trial must be an optuna Trial or None; got {type(trial).__name__}")
        self.trial = trial
        self._may_prune = trial is not None and not isinstance(
            trial.study.pruner, optuna.pruners.NopPruner
        )
        self.steps = 0
        self.values: dict[int, float] = {}
        self.attrs: dict[str, Any] = {}
        self.trace: list[list[float]] = []
        self._t0 = time.perf_counter()

    def report(self, value: float, step: int) -> None:
        """Reports the intermediate score ``value`` after ``step`` (the pruner's resource).

        Raises:
            NonFiniteScoreError: ``value`` is NaN or inf (the trial fails with this reason).
            optuna.TrialPruned: the study's pruner stops this trial here.
        """
        step = chk.check_int(step, "step", minimum=0)
        value = float(value)
        if not math.isfinite(value):
            raise NonFiniteScoreError(f"intermediate value at step {step} is {value}")
        self.values[step] = value
        self.trace.append([step, self.steps, time.perf_counter() - self._t0, value])
        if self._may_prune:  # the pruner needs every report in the database now
            self.trial.report(value, step)
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step} (value {value:.4g})")

    def add_steps(self, n: int) -> None:
        """Counts ``n`` more training steps (the budget axis of the comparison figures)."""
        self.steps += chk.check_int(n, "n", minimum=0)

    def set(self, key: str, value: Any) -> None:
        """Attaches a JSON-serializable result (e.g. test accuracy) to the trial."""
        chk.check_str(key, "key")
        self.attrs[key] = value


def resolve_job(ref: str | Callable) -> Callable:
    """The callable named ``"package.module:function"`` (a callable is returned as is)."""
    if callable(ref):
        return ref
    check_job_ref(ref, "ref")
    module_name, _, attr = ref.partition(":")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"ref {ref!r}: cannot import module {module_name!r}: {e}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"ref {ref!r}: {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"ref {ref!r} names a {type(obj).__name__}, not a callable")
    return obj


def _record(trial: optuna.trial.Trial, reporter: Reporter, t0: float, **extra: Any) -> None:
    # One transaction: the reports not yet stored (all of them under NopPruner), the two budget
    # numbers, and the trace with the job's own results as one JSON object.
    attrs = {
        "wall_time_s": time.perf_counter() - t0,
        "train_steps": reporter.steps,
        "result": {"trace": reporter.trace, **reporter.attrs},
        **extra,
    }
    pending = {} if reporter._may_prune else reporter.values
    write_trial_results(trial, pending, attrs)


def _check_budget(trial: optuna.trial.Trial, spec: TuneSpec) -> None:
    """Refuses a trial whose budget slot or grid point was taken by a racing worker.

    Trial numbers are unique and increasing, so among workers that asked at the same moment the
    lower numbers win: trial ``k`` runs only if fewer than ``n_trials`` trials numbered below
    ``k`` are RUNNING or done.
    """
    live = trial.study.get_trials(
        deepcopy=False, states=(*DONE_STATES, optuna.trial.TrialState.RUNNING)
    )
    earlier = [t for t in live if t.number < trial.number]
    if len(earlier) >= spec.n_trials:
        raise _NotRun("surplus")
    me = next(t for t in live if t.number == trial.number)  # this trial is RUNNING
    grid_id = me.system_attrs.get("grid_id")
    if grid_id is not None and any(t.system_attrs.get("grid_id") == grid_id for t in earlier):
        raise _NotRun("duplicate")


def make_objective(spec: TuneSpec, job: Callable) -> Callable[[optuna.trial.Trial], float]:
    """The Optuna objective that runs ``job`` on the proposed config and records everything.

    Host-side by nature (it talks to the database), so it is never jitted; the job jits its own
    training step.
    """
    if not isinstance(spec, TuneSpec):
        raise TypeError(f"spec must be a TuneSpec; got {type(spec).__name__}")
    chk.check_callable(job, "job")
    worker = f"{socket.gethostname()}:{os.getpid()}"

    def objective(trial: optuna.trial.Trial) -> float:
        try:
            _check_budget(trial, spec)
        except _NotRun as e:
            reason = f"{e}: not run (a racing worker took it)"
            write_trial_results(trial, {}, {"fail_kind": str(e), "fail_reason": reason})
            raise
        config = suggest(trial, spec.params)
        trial.set_user_attr("worker", worker)
        reporter = Reporter(trial)
        t0 = time.perf_counter()
        try:
            score = job(dict(config), reporter, **spec.job_kwargs)
            score = float(score)
            if not math.isfinite(score):
                raise NonFiniteScoreError(f"job returned a non-finite score {score}")
        except optuna.TrialPruned:
            _record(trial, reporter, t0)
            raise
        except NonFiniteScoreError as e:
            _record(trial, reporter, t0, fail_kind="nonfinite", fail_reason=str(e))
            raise
        except Exception as e:
            reason = f"{type(e).__name__}: {e}"[:500]
            _record(trial, reporter, t0, fail_kind="error", fail_reason=reason)
            raise
        # A retried trial inherits its failed original's attributes: clear the failure.
        clear = {k: None for k in ("fail_kind", "fail_reason") if k in trial.user_attrs}
        _record(trial, reporter, t0, **clear)
        return score

    return objective
