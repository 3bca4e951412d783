"""SIGKILL of the driver and of a worker, parallel workers, and the PostgreSQL path (toy jobs)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import optuna
import pytest

from jaxml.tune import open_study, prepare, run_study, trial_records

DRIVER = (
    "import sys; from jaxml.tune import load_spec, run_study; run_study(load_spec(sys.argv[1]))"
)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _start_driver(spec, tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec.to_dict()))
    env = {**os.environ, "JAXML_PROGRESS": "0"}
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: killpg reaches its workers too
    )


def _wait_for(predicate, spec, timeout=180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            trials = optuna.load_study(study_name=spec.study_name, storage=spec.storage_url)
            found = predicate(trials.get_trials(deepcopy=False))
            if found:
                return found
        except (KeyError, ValueError, optuna.exceptions.StorageInternalError):
            pass  # the driver has not created the study yet
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the study to reach the expected state")


def _running(trials):
    return [t for t in trials if t.state.name == "RUNNING" and "worker" in t.user_attrs]


def _fresh_running(trials):
    """RUNNING trials with at most one report: far from their end, so a kill lands inside."""
    return [t for t in _running(trials) if len(t.intermediate_values) <= 1]


def _check_exact_budget(spec, killed_numbers):
    records = trial_records(open_study(spec))
    done = [r for r in records if r["state"] == "COMPLETE"]
    assert len(done) == spec.n_trials
    keys = [tuple(sorted(r["params"].items())) for r in done]
    assert len(set(keys)) == len(keys), "a parameter set was completed twice"
    by_number = {r["number"]: r for r in records}
    for k in killed_numbers:
        assert by_number[k]["state"] == "FAIL"  # left RUNNING by the dead process: failed...
        retries = [r for r in records if r["retry_of"] == k]
        assert [r["state"] for r in retries] == ["COMPLETE"]  # ...and retried exactly once
        assert retries[0]["params"] == by_number[k]["params"]
    return records


def test_driver_killed_mid_trial_resumes_without_losing_or_repeating(make_spec, tmp_path):
    # Grid: 9 points, 4 wanted; each trial takes ~0.9 s and the kill lands early inside one.
    spec = make_spec(proposer="grid", n_trials=4, job_kwargs={"sleep_s": 0.3, "num_steps": 3})
    proc = _start_driver(spec, tmp_path)
    try:
        _wait_for(
            lambda ts: any(t.state.name == "COMPLETE" for t in ts) and _fresh_running(ts), spec
        )
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed = [t.number for t in _running(open_study(spec).get_trials(deepcopy=False))]
    assert killed, "the driver was killed between trials"
    run_study(spec, progress=False)  # the same spec again: resume
    _check_exact_budget(spec, killed)


def test_killed_worker_trial_is_failed_and_retried_by_the_others(make_spec, server_storage):
    # Two worker processes on a throwaway PostgreSQL server (SQLite if none can start here); the
    # driver runs in a thread (one process start fewer).
    # Grid: 9 points, 4 wanted, ~0.6 s per trial so the kill lands early inside one.
    spec = make_spec(
        proposer="grid",
        n_trials=4,
        n_parallel=2,
        storage=server_storage[0],
        job_kwargs={"sleep_s": 0.2, "num_steps": 3},
    )
    prepare(spec)  # create the tables before two threads of this process open the storage
    out = {}
    driver = threading.Thread(target=lambda: out.update(run_study(spec, progress=False)))
    driver.start()

    (victim, *_) = _wait_for(_fresh_running, spec)
    os.kill(int(victim.user_attrs["worker"].rsplit(":", 1)[1]), signal.SIGKILL)
    driver.join(timeout=300)
    assert not driver.is_alive() and out["states"]["COMPLETE"] == 4
    records = _check_exact_budget(spec, [victim.number])
    workers = {r["user_attrs"].get("worker") for r in records if r["state"] == "COMPLETE"}
    assert workers and victim.user_attrs["worker"] not in workers  # another worker retried it
    # No trial ran on two workers: every trial that did not complete was refused before running,
    # or is the killed one.
    for r in records:
        if r["state"] != "COMPLETE" and r["number"] != victim.number:
            assert r["fail_kind"] in ("surplus", "duplicate") and r["train_steps"] is None


def test_the_shared_storage_above_was_postgresql(server_storage):
    url, reason = server_storage
    if not url.startswith("postgresql"):
        pytest.skip(f"the worker-kill test ran on SQLite: no local PostgreSQL ({reason})")
