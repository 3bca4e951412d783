"""One worker: runs trials of a study until its budget is met (``python -m jaxml.tune.worker``).

Any number of workers, on any number of machines, may run the same spec against one storage.
Each loops: fail stale trials (dead workers; Optuna re-enqueues them), count the COMPLETE and
PRUNED trials, stop at ``n_trials``; wait while the remaining budget is held by RUNNING trials
(one may still die and need a retry); otherwise run one trial with ``study.optimize`` (which
keeps the heartbeat). Job errors are retried through the same Optuna callback as dead workers.

    python -m jaxml.tune.worker runs/mlp/spec.json
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable

import optuna

from jaxml.tune.job import DONE_STATES, make_objective, resolve_job
from jaxml.tune.proposers import make_pruner, make_sampler
from jaxml.tune.spec import TuneSpec, load_spec
from jaxml.tune.storage import spec_storage

TrialState = optuna.trial.TrialState
POLL_S = 0.2
#: Exit code of a worker that stopped because too many trials failed (not restarted).
EXIT_TOO_MANY_FAILURES = 4


def open_study(spec: TuneSpec) -> optuna.Study:
    """Creates or loads ``spec.study_name`` in the spec's storage, with its sampler and pruner."""
    if not isinstance(spec, TuneSpec):
        raise TypeError(f"spec must be a TuneSpec; got {type(spec).__name__}")
    return optuna.create_study(
        storage=spec_storage(spec),
        study_name=spec.study_name,
        sampler=make_sampler(spec),
        pruner=make_pruner(spec),
        direction=spec.direction,
        load_if_exists=True,
    )


def budget_counts(study: optuna.Study, *, retries: int | None = None) -> dict[str, int]:
    """``{"done", "running", "waiting", "failed", "retry_pending"}``.

    ``failed`` excludes trials never run. ``retry_pending`` (only with ``retries``, the spec's
    retries per job) counts failed trials that Optuna's retry callback will copy but has not yet:
    a dead worker's trial (failed stale) or a job error, with retries left and no copy yet. The
    trial is marked FAIL before its WAITING copy is added, so a worker that read the counts in
    between would otherwise start a fresh trial in its place and the retry would exceed the budget.
    """
    if not isinstance(study, optuna.Study):
        raise TypeError(f"study must be an optuna Study; got {type(study).__name__}")
    trials = study.get_trials(deepcopy=False)
    counts = {"done": 0, "running": 0, "waiting": 0, "failed": 0, "retry_pending": 0}
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", ())}
    for t in trials:
        if t.state in DONE_STATES:
            counts["done"] += 1
        elif t.state == TrialState.RUNNING:
            counts["running"] += 1
        elif t.state == TrialState.WAITING:
            counts["waiting"] += 1
        elif t.user_attrs.get("fail_kind") not in ("surplus", "duplicate"):
            counts["failed"] += 1
            if (
                retries is not None
                and t.user_attrs.get("fail_kind") in (None, "error")
                and t.number not in retried
                and len(t.system_attrs.get("retry_history", ())) < retries
            ):
                counts["retry_pending"] += 1
    return counts


def _retry_failed_jobs(spec: TuneSpec) -> Callable:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=spec.retries)

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state == TrialState.FAIL and trial.user_attrs.get("fail_kind") == "error":
            retry(study, trial)

    return callback


def _next_action(spec: TuneSpec, study: optuna.Study, counts: dict[str, int]) -> str:
    """ "stop" (budget met or grid exhausted), "fail" (too many failures), "wait" (the rest of
    the budget is RUNNING; one may die and need a retry) or "run" (start another trial)."""
    if counts["done"] >= spec.n_trials:
        return "stop"
    if counts["failed"] > spec.failure_limit:
        return "fail"
    busy = counts["running"] > 0 or counts["waiting"] > 0 or counts["retry_pending"] > 0
    if spec.proposer == "grid" and not busy and study.sampler.is_exhausted(study):
        return "stop"  # every grid point was tried (some failed for good)
    if counts["done"] + counts["running"] + counts["retry_pending"] >= spec.n_trials:
        return "wait"
    return "run"


def run_worker(
    spec: TuneSpec,
    *,
    on_trial: Callable[[dict], None] | None = None,
    job: Callable | None = None,
    study: optuna.Study | None = None,
    reseed: bool = False,
) -> dict[str, int]:
    """Runs trials of ``spec`` until the study holds ``n_trials`` COMPLETE/PRUNED trials.

    One ``study.optimize`` call runs trials back to back; after each trial a callback reads the
    study's counts once (the only read between trials) and stops the loop when the budget is met,
    too many trials failed, or the rest of the budget is RUNNING elsewhere (then this worker waits
    and fails stale trials, so a dead worker's trial is retried).

    Args:
        spec: the tuning spec.
        on_trial: called with :func:`budget_counts` after each trial (e.g. a progress bar).
        job: the job callable (default: import ``spec.job``, or ``spec.ift_job`` for "ift").
        study: the study already opened by :func:`open_study` (default: open it).
        reseed: draw a fresh sampler seed (Optuna's ``reseed_rng``). Parallel workers must, or
            every worker seeded with ``spec.seed`` would propose the same configurations.

    Returns:
        The final :func:`budget_counts`.

    Raises:
        RuntimeError: more than ``spec.failure_limit`` trials failed.
    """
    if not isinstance(spec, TuneSpec):
        raise TypeError(f"spec must be a TuneSpec; got {type(spec).__name__}")
    if job is None:
        job = resolve_job(spec.ift_job if spec.proposer == "ift" else spec.job)
    study = open_study(spec) if study is None else study
    if reseed:
        study.sampler.reseed_rng()
    objective = make_objective(spec, job)
    retry = _retry_failed_jobs(spec)
    counts = budget_counts(study, retries=spec.retries)

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        nonlocal counts
        retry(study, trial)
        counts = budget_counts(study, retries=spec.retries)
        if on_trial is not None:
            on_trial(counts)
        if _next_action(spec, study, counts) != "run":
            study.stop()

    while True:
        action = _next_action(spec, study, counts)
        if action == "stop":
            return counts
        if action == "fail":
            raise RuntimeError(
                f"study {spec.study_name!r}: {counts['failed']} failed trials exceed the limit "
                f"{spec.failure_limit} (max_failures); see each trial's fail_reason"
            )
        if action == "wait":
            # (Before each trial, study.optimize fails stale trials itself.)
            time.sleep(POLL_S)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
            counts = budget_counts(study, retries=spec.retries)
            continue
        study.optimize(
            objective,
            catch=(Exception,),
            callbacks=[after_trial],
            gc_after_trial=False,
            show_progress_bar=False,
        )


def _exit_with_parent(parent: int) -> None:
    """A worker whose driver died (even by SIGKILL) stops too, leaving its trial to go stale."""
    try:  # Linux: the kernel sends SIGKILL when the parent dies.
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m jaxml.tune.worker SPEC.json", file=sys.stderr)
        return 2
    parent = int(os.environ.get("JAXML_TUNE_PARENT", "0"))
    if parent:
        _exit_with_parent(parent)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        counts = run_worker(load_spec(argv[0]), reseed=True)
    except RuntimeError as e:  # too many failed trials: the driver must not restart us
        print(f"error: {e}", file=sys.stderr, flush=True)
        return EXIT_TOO_MANY_FAILURES
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
