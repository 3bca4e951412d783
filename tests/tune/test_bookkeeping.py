"""Every proposer end to end on the toy job, and the failure / retry / NaN bookkeeping in the DB."""

import importlib.util

import optuna
import pytest

from jaxml.tune import open_study, run_study, study_summary, trial_records

ATTRS = ("wall_time_s", "train_steps", "worker", "result")


def _by_state(records, state):
    return [r for r in records if r["state"] == state]


@pytest.mark.parametrize("proposer", ["random", "grid", "tpe", "hyperband", "cmaes"])
def test_each_proposer_runs_to_its_budget_and_stores_everything(make_spec, proposer):
    if proposer == "cmaes" and importlib.util.find_spec("cmaes") is None:
        pytest.skip("proposer 'cmaes' needs the 'cmaes' package, not installed here")
    n = 9 if proposer == "hyperband" else 6
    spec = make_spec(proposer=proposer, n_trials=n, job_kwargs={"num_steps": 9})
    summary = run_study(spec, progress=False)
    records = trial_records(open_study(spec))
    done = _by_state(records, "COMPLETE") + _by_state(records, "PRUNED")
    assert len(done) == n == summary["states"]["COMPLETE"] + summary["states"]["PRUNED"]
    for r in done:
        assert set(ATTRS) <= set(r["user_attrs"]) and set(r["params"]) == {"x", "y"}
        want = sum((v - 0.3) ** 2 for v in r["params"].values())
        first = r["intermediate"][0]
        assert first == pytest.approx(2 * want)  # the toy job's step-0 report: score * (1 + 1)
        assert r["train_steps"] == len(r["intermediate"]) == len(r["trace"])
        if r["state"] == "COMPLETE":
            assert r["value"] == pytest.approx(want) and r["train_steps"] == 9
    if proposer == "hyperband":
        assert _by_state(records, "PRUNED"), "Hyperband pruned nothing in 9 trials"
    if proposer == "grid":
        assert len({tuple(sorted(r["params"].items())) for r in done}) == n
    best = summary["best"]
    assert best["value"] == min(r["value"] for r in _by_state(records, "COMPLETE"))


def test_nan_jobs_fail_with_a_reason_and_never_become_best(make_spec):
    # x, y in [0,1] x {0,1,2}: y = 2 scores > 2.89 -> NaN; y in {0, 1} scores < 1.

    spec = make_spec(n_trials=3, job_kwargs={"nan_if_above": 1.0}, max_failures=30)
    summary = run_study(spec, progress=False)
    records = trial_records(open_study(spec))
    failed = _by_state(records, "FAIL")
    assert failed, "no config scored above 0.5: the NaN path was not exercised"
    for r in failed:
        assert r["fail_kind"] == "nonfinite" and "non-finite score nan" in r["fail_reason"]
        assert r["value"] is None
    assert all(r["retry_of"] is None for r in records)  # NaN is a property of the config
    assert summary["states"]["COMPLETE"] == 3
    assert summary["best"]["number"] not in {r["number"] for r in failed}


def test_failed_jobs_are_retried_with_the_same_config(make_spec, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    spec = make_spec(n_trials=3, retries=1, job_kwargs={"fail_first_attempt_dir": str(marks)})
    run_study(spec, progress=False)
    records = trial_records(open_study(spec))
    failed, done = _by_state(records, "FAIL"), _by_state(records, "COMPLETE")
    assert len(done) == 3 and len(failed) == 3
    for f in failed:
        assert f["fail_kind"] == "error" and "fails on purpose" in f["fail_reason"]
        (retry,) = [r for r in records if r["retry_of"] == f["number"]]
        assert retry["state"] == "COMPLETE" and retry["params"] == f["params"]
        assert retry["fail_reason"] is None  # inherited attribute cleared on success


def test_a_job_that_always_fails_stops_at_the_failure_limit(make_spec, tmp_path):
    spec = make_spec(n_trials=2, retries=0, job="jaxml.tune.toy:no_job_here")
    with pytest.raises(ValueError, match="no attribute"):
        run_study(spec, progress=False)
    marks = tmp_path / "m"
    marks.mkdir()
    spec = make_spec(
        n_trials=2,
        retries=0,
        max_failures=1,
        job_kwargs={"fail_first_attempt_dir": str(marks)},
    )
    with pytest.raises(RuntimeError, match="exceed the limit 1"):
        run_study(spec, progress=False)


def test_a_finished_study_resumes_without_running_anything(make_spec):
    spec = make_spec(n_trials=3)
    run_study(spec, progress=False)
    before = trial_records(open_study(spec))
    run_study(spec, progress=False)
    assert trial_records(open_study(spec)) == before
    states = study_summary(open_study(spec))["states"]
    assert states["COMPLETE"] == 3 and states["RUNNING"] == 0
    assert optuna.load_study(study_name=spec.study_name, storage=spec.storage_url).user_attrs[
        "spec"
    ]


def test_a_failed_trial_awaiting_its_retry_holds_its_budget_slot():
    """Optuna marks a dead worker's trial FAIL before it adds the WAITING copy; a worker reading
    the counts in between must wait, not start a fresh trial that the retry would then exceed."""
    from jaxml.tune.worker import budget_counts

    study = optuna.create_study()
    dist = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}
    for _ in range(3):
        study.add_trial(optuna.create_trial(params={"x": 0.5}, distributions=dist, value=1.0))
    stale = optuna.create_trial(
        state=optuna.trial.TrialState.FAIL, params={"x": 0.1}, distributions=dist
    )
    study.add_trial(stale)  # number 3, no fail_kind: a worker died inside it
    assert budget_counts(study, retries=1)["retry_pending"] == 1
    assert budget_counts(study, retries=0)["retry_pending"] == 0  # never retried: no slot held
    assert budget_counts(study)["retry_pending"] == 0  # without the spec's retries: not counted
    optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)(study, study.trials[3])
    counts = budget_counts(study, retries=1)
    assert (counts["retry_pending"], counts["waiting"], counts["failed"]) == (0, 1, 1)
