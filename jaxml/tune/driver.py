"""The driver: checks a spec, then runs ``n_parallel`` workers on this machine against its storage.

``run_study(spec)`` is what the CLI calls. Everything that can be wrong with the spec (an unknown
proposer, an empty or inverted range, a non-writable workdir, a job that cannot be imported, a
proposer whose package is missing, an unreachable database) raises before any job runs. With
``n_parallel == 1`` the worker loop runs in this process; otherwise the driver starts
``python -m jaxml.tune.worker`` processes (each dies with the driver), shows one progress bar
over the study's COMPLETE/PRUNED count, and restarts a worker that died while budget remains.
Killing the driver at any point loses nothing: run the same command again and it resumes from
the database (trials its workers left RUNNING go stale, fail and are retried).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna

from jaxml.tune.job import resolve_job
from jaxml.tune.proposers import check_proposer_available
from jaxml.tune.records import study_summary
from jaxml.tune.spec import TuneSpec, check_workdir
from jaxml.tune.worker import (
    EXIT_TOO_MANY_FAILURES,
    POLL_S,
    budget_counts,
    open_study,
    run_worker,
)

PROGRESS_ENV = "JAXML_PROGRESS"


def _progress(total: int, initial: int, desc: str):
    if os.environ.get(PROGRESS_ENV, "1") == "0":
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=min(initial, total), desc=desc, unit="trial")


def prepare(spec: TuneSpec) -> optuna.Study:
    """Every check that must pass before a job runs; returns the (created or loaded) study.

    Records the spec as the study's user attribute ``"spec"`` so the database says how its
    trials were produced.
    """
    if not isinstance(spec, TuneSpec):
        raise TypeError(f"spec must be a TuneSpec; got {type(spec).__name__}")
    check_proposer_available(spec.proposer)
    workdir = check_workdir(spec.workdir, "workdir")
    resolve_job(spec.ift_job if spec.proposer == "ift" else spec.job)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(spec)
    study.set_user_attr("spec", spec.to_dict())
    (workdir / f"spec-{spec.study_name}.json").write_text(json.dumps(spec.to_dict(), indent=1))
    return study


def run_study(spec: TuneSpec, *, progress: bool = True) -> dict[str, Any]:
    """Runs ``spec`` to its budget (resuming whatever the storage already holds).

    Returns:
        :func:`jaxml.tune.records.study_summary` of the study.

    Raises:
        ValueError / TypeError / ImportError: a bad spec, before any job runs.
        RuntimeError: too many failed trials, or workers keep dying.
    """
    study = prepare(spec)
    start = budget_counts(study)["done"]
    bar = (
        _progress(spec.n_trials, start, f"{spec.study_name} ({spec.proposer})")
        if progress
        else None
    )

    def on_trial(counts):
        done = min(counts["done"], spec.n_trials)
        if bar is not None and bar.n != done:
            bar.n = done
            bar.refresh()

    try:
        if spec.n_parallel == 1:
            run_worker(spec, on_trial=on_trial if bar is not None else None, study=study)
        else:
            _run_processes(spec, study, on_trial)
    finally:
        if bar is not None:
            bar.close()
    return study_summary(study)


def _run_processes(spec: TuneSpec, study: optuna.Study, on_trial) -> None:
    workdir = Path(spec.workdir)
    spec_path = workdir / f"spec-{spec.study_name}.json"
    env = {**os.environ, "JAXML_TUNE_PARENT": str(os.getpid())}
    logs_dir = workdir / "logs"
    logs_dir.mkdir(exist_ok=True)
    restarts_left = spec.n_parallel * (spec.retries + 1)

    def start(slot: int) -> subprocess.Popen:
        log = open(logs_dir / f"{spec.study_name}-worker{slot}.log", "ab")  # noqa: SIM115
        return subprocess.Popen(
            [sys.executable, "-m", "jaxml.tune.worker", str(spec_path)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    procs = {slot: start(slot) for slot in range(spec.n_parallel)}
    try:
        while procs:
            time.sleep(POLL_S)
            counts = budget_counts(study)
            on_trial(counts)
            for slot, proc in list(procs.items()):
                rc = proc.poll()
                if rc is None:
                    continue
                del procs[slot]
                if rc == EXIT_TOO_MANY_FAILURES:
                    raise RuntimeError(
                        f"study {spec.study_name!r}: more than {spec.failure_limit} failed "
                        f"trials (max_failures); see each trial's fail_reason and {logs_dir}"
                    )
                # Restart a dead worker while more trials remain than live workers (the live
                # ones retry its trial once its heartbeat goes stale).
                if rc != 0 and spec.n_trials - counts["done"] > len(procs):
                    if restarts_left == 0:
                        raise RuntimeError(
                            f"workers of study {spec.study_name!r} keep dying (last exit code "
                            f"{rc}); see {logs_dir}"
                        )
                    restarts_left -= 1
                    procs[slot] = start(slot)
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
    counts = budget_counts(study)
    on_trial(counts)
    if counts["done"] < spec.n_trials and spec.proposer != "grid":
        raise RuntimeError(
            f"study {spec.study_name!r} ended with {counts['done']} of {spec.n_trials} trials; "
            f"see the worker logs in {logs_dir}"
        )
