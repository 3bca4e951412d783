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


def _wait_for(predicate, what, timeout=300.0):
    """Polls ``predicate()`` until it returns something truthy. The timeout only bounds a hung
    test: every wait is on database state or a file the job writes, never on elapsed time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _held(hold_dir, released=()):
    """The toy job's announcements of a trial held inside (after its first report)."""
    return [p for p in sorted(hold_dir.glob("held-*")) if p.name not in released]


def _trials(spec):
    try:
        study = optuna.load_study(study_name=spec.study_name, storage=spec.storage_url)
    except KeyError:
        return []  # the driver has not created the study yet
    return study.get_trials(deepcopy=False)


def _running(trials):
    return [t for t in trials if t.state.name == "RUNNING" and "worker" in t.user_attrs]


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
    # Grid: 9 points, 4 wanted. The toy job holds each trial after its first report while the
    # file "hold" exists: the first held trial is released and completes, the second is held when
    # the driver is killed. No timing is involved, so load cannot move the kill out of a trial.
    hold = tmp_path / "hold-dir"
    hold.mkdir()
    (hold / "hold").touch()
    spec = make_spec(proposer="grid", n_trials=4, job_kwargs={"hold_dir": str(hold)})
    proc = _start_driver(spec, tmp_path)
    try:
        (first,) = _wait_for(lambda: _held(hold), "the first trial to be held")
        (hold / f"release-{first.name}").touch()
        _wait_for(lambda: _held(hold, {first.name}), "the second trial to be held")
        trials = _trials(spec)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert [t.state.name for t in sorted(trials, key=lambda t: t.number)] == [
        "COMPLETE",
        "RUNNING",
    ]
    killed = [t.number for t in _running(open_study(spec).get_trials(deepcopy=False))]
    assert killed == [trials[-1].number]
    (hold / "hold").unlink()
    run_study(spec, progress=False)  # the same spec again: resume
    _check_exact_budget(spec, killed)


def test_killed_worker_trial_is_failed_and_retried_by_the_others(
    make_spec, server_storage, tmp_path
):
    # Two worker processes on a throwaway PostgreSQL server (SQLite if none can start here); the
    # driver runs in a thread (one process start fewer). Grid: 9 points, 4 wanted. Trials are held
    # after their first report while the file "hold" exists; a worker is SIGKILLed while held
    # (inside its trial whatever the load), then the hold is lifted.
    hold = tmp_path / "hold-dir"
    hold.mkdir()
    (hold / "hold").touch()
    spec = make_spec(
        proposer="grid",
        n_trials=4,
        n_parallel=2,
        storage=server_storage[0],
        job_kwargs={"hold_dir": str(hold)},
    )
    prepare(spec)  # create the tables before two threads of this process open the storage
    out = {}
    driver = threading.Thread(target=lambda: out.update(run_study(spec, progress=False)))
    driver.start()
    try:
        first = _wait_for(lambda: _held(hold), "a trial to be held")[0]
        pid = int(first.read_text())
        (victim,) = [
            t for t in _running(_trials(spec)) if t.user_attrs["worker"].endswith(f":{pid}")
        ]
        os.kill(pid, signal.SIGKILL)
    finally:
        (hold / "hold").unlink()
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
