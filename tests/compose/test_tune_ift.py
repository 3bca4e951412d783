"""Tuning x IFT (issue 19, composition 5): the step-budget glue, the nested jobs, the figure."""

import json

import numpy as np
import pytest

from experiments.compose.tune_ift import MIN_SEEDS, Config, run, summarize
from experiments.harness import read_json
from experiments.harness.config import make_config
from jaxml.tune import Param, Reporter, TuneSpec, best_so_far, open_study, trial_records
from jaxml.tune.digits import DIGITS_SCALES, IFT_SCALES, ift_job, ift_step_cost, mlp_job
from jaxml.tune.nested import (
    best_within_budget,
    nested_ift_job,
    nested_ift_spec,
    run_to_budget,
    shared_lr_job,
    shared_lr_spec,
    steps_spent,
)
from jaxml.tune.spec import spec_from_dict

TINY = DIGITS_SCALES["tiny"]  # 20 steps, eval every 10, 8 hidden units
TERMS = IFT_SCALES["tiny"]["num_terms"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tune_ift")
    return workdir, run(make_config(Config, "tiny"), workdir)


def test_tiny_run_spends_the_same_step_budget_in_both_studies(tiny):
    workdir, metrics = tiny
    assert (workdir / "tune_ift.png").is_file() and (workdir / "tune.db").is_file()
    assert read_json(workdir / "metrics.json")["step_budget"] == 80
    nested, black = metrics["per_method"]["nested"]["0"], metrics["per_method"]["black_box"]["0"]
    # Every inner step and every hyperstep counted: 20 inner steps + 2 hypersteps (10 each).
    assert nested["trial_steps"] == [20 + 2 * ift_step_cost(TERMS)] * 3  # 36, 72, then 108 > 80
    assert black["trial_steps"] == [20] * 4  # stops exactly at the budget
    assert nested["steps_spent"] == 108.0 and black["steps_spent"] == 80.0
    assert nested["trials_in_budget"] == 2 and black["trials_in_budget"] == 4
    assert nested["best_end_steps"] <= 80 and black["best_end_steps"] <= 80
    assert set(nested["best_params"]) == {"lr", "inner_steps"}
    assert set(black["best_params"]) == {"lr", "wd_dense_0", "wd_head"}
    for r in (nested, black):
        xs, ys = map(np.asarray, r["curve"])
        assert np.all(np.diff(xs) > 0) and np.all(np.diff(ys) <= 0)
        assert 0.0 <= r["best_test_accuracy"] <= 1.0
        # the winner's loss is the curve's value at the budget
        assert r["best_val_loss"] == ys[xs <= 80][-1]
    assert not summarize(metrics).matches  # one seed: never a verdict at tiny


def test_a_rerun_reuses_the_studies_in_its_database(tiny):
    workdir, metrics = tiny
    again = run(make_config(Config, "tiny"), workdir)  # no new trial: the budget is spent
    assert again["per_method"] == metrics["per_method"]


def test_nested_jobs_are_the_digits_jobs_with_shared_values(tiny):
    # Same compiled programs as the tiny run (module fixture first); exact equality expected.
    names = ("dense_0", "head")
    a, b = Reporter(), Reporter()
    got = nested_ift_job({"lr": 0.05, "inner_steps": 10}, a, init_wd=2e-3, **TINY, **_ift())
    per_layer = {**{f"lr_{n}": 0.05 for n in names}, **{f"wd_{n}": 2e-3 for n in names}}
    want = ift_job(per_layer, b, inner_steps=10, **TINY, **_ift())
    assert got == want and a.steps == b.steps == 36 and a.attrs == b.attrs
    cfg = {"lr": 0.02, "wd_dense_0": 1e-4, "wd_head": 3e-2}
    a, b = Reporter(), Reporter()
    got = shared_lr_job(cfg, a, **TINY)
    want = mlp_job(
        {"lr_dense_0": 0.02, "lr_head": 0.02, "wd_dense_0": 1e-4, "wd_head": 3e-2}, b, **TINY
    )
    assert got == want and a.steps == b.steps == 20
    with pytest.raises(ValueError, match="inner_steps"):
        nested_ift_job({"lr": 0.05}, Reporter(), **TINY)
    with pytest.raises(ValueError, match="lr"):
        shared_lr_job({"wd_dense_0": 1e-4, "wd_head": 1e-4}, Reporter(), **TINY)


def _ift():
    return {k: v for k, v in IFT_SCALES["tiny"].items() if k != "inner_steps"}


def _toy_spec(tmp_path, **kw):
    base = dict(
        proposer="random",
        n_trials=50,
        params=(Param("x", low=0.0, high=1.0),),
        job="jaxml.tune.toy:quadratic_job",
        job_kwargs={"num_steps": 3},
        workdir=str(tmp_path),
    )
    return TuneSpec(**{**base, **kw})


def test_run_to_budget_stops_once_the_steps_are_spent_and_resumes(tmp_path):
    spec = _toy_spec(tmp_path)
    out = run_to_budget(spec, 10, progress=False)
    records = trial_records(open_study(spec))
    assert out["train_steps"] == 12.0 == steps_spent(records)  # 4 trials of 3 steps: 12 >= 10
    assert [r["state"] for r in records] == ["COMPLETE"] * 4
    xs = [r["params"]["x"] for r in records]
    assert len(set(xs)) == 4  # one sampler for all trials: no repeated proposals
    run_to_budget(spec, 16, progress=False)  # resume with a larger budget: 2 more trials
    xs = [r["params"]["x"] for r in trial_records(open_study(spec))]
    assert len(xs) == 6 and len(set(xs)) == 6
    capped = _toy_spec(tmp_path, n_trials=2, study_name="capped")
    assert run_to_budget(capped, 100, progress=False)["train_steps"] == 6.0
    with pytest.raises(ValueError, match="n_parallel"):
        run_to_budget(_toy_spec(tmp_path, n_parallel=2), 10)
    with pytest.raises(ValueError, match="max_steps"):
        run_to_budget(spec, 0)


def _rec(state, value, steps):
    return {"state": state, "value": value, "train_steps": steps, "trace": []}


def test_best_within_budget_matches_best_so_far_and_brute_force():
    rng = np.random.default_rng(0)
    states = ["COMPLETE", "FAIL", "PRUNED", "COMPLETE", "COMPLETE", "COMPLETE", "FAIL"]
    records = [
        _rec(s, float(rng.uniform()) if s == "COMPLETE" else None, int(rng.integers(1, 50)))
        for s in states
    ]
    records.insert(3, _rec("FAIL", None, None))  # a surplus trial that never ran
    ends = np.cumsum([r["train_steps"] or 0 for r in records])
    xs, ys = best_so_far(records, anytime=False)
    for budget in (float(ends[0]), float(ends[4]), float(ends[-1]) - 0.5, 1e9):
        win = best_within_budget(records, budget)
        done = [
            (r["value"], e)
            for r, e in zip(records, ends, strict=True)
            if r["state"] == "COMPLETE" and e <= budget
        ]
        assert win["value"] == min(done)[0] and win["end_steps"] <= budget
        assert win["value"] == ys[xs <= budget][-1]
    assert best_within_budget(records, float(ends[0]) - 1) is None


def test_specs_check_their_arguments_and_round_trip(tmp_path):
    spec = nested_ift_spec(tmp_path, scale="tiny", inner_steps=(5, 10), seed=1)
    assert spec_from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert "inner_steps" not in spec.job_kwargs and spec.job_kwargs["init_wd"] == 1e-3
    assert [p.name for p in shared_lr_spec(tmp_path, scale="tiny").params] == [
        "lr",
        "wd_dense_0",
        "wd_head",
    ]
    with pytest.raises(ValueError, match="inner_steps must divide eval_every=10"):
        nested_ift_spec(tmp_path, scale="tiny", inner_steps=(3, 5))
    with pytest.raises(ValueError, match="proposer"):
        nested_ift_spec(tmp_path, proposer="ift")
    with pytest.raises(ValueError, match="lr_range"):
        shared_lr_spec(tmp_path, lr_range=(0.3, 0.01))


def _metrics(nested, black, seeds=(0, 1, 2)):
    per = {
        m: {
            str(s): {
                "best_val_loss": v[i],
                "best_test_accuracy": 0.9,
                "best_params": {"lr": 0.01, "inner_steps": 10} if m == "nested" else {},
                "trials_in_budget": 3,
                "best_end_steps": 600.0,
            }
            for i, s in enumerate(seeds)
        }
        for m, v in (("nested", nested), ("black_box", black))
    }
    return {"per_method": per, "seeds": list(seeds), "step_budget": 3000}


def test_verdict_needs_every_seed_at_or_below_the_black_box():
    assert summarize(_metrics([0.10, 0.20, 0.15], [0.12, 0.20, 0.30])).matches  # a tie is fine
    one_worse = summarize(_metrics([0.10, 0.21, 0.15], [0.12, 0.20, 0.30]))
    assert not one_worse.matches and "seed 1: nested val loss 0.2100 > black box 0.2000" in (
        one_worse.verdict
    )
    missing = summarize(_metrics([0.10, None, 0.15], [0.12, 0.20, 0.30]))
    assert not missing.matches and "no nested trial finished" in missing.verdict
    few = summarize(
        _metrics([0.1] * (MIN_SEEDS - 1), [0.2] * (MIN_SEEDS - 1), range(MIN_SEEDS - 1))
    )
    assert not few.matches and "seed(s) <" in few.verdict


def test_config_refuses_duplicate_seeds():
    with pytest.raises(ValueError, match="seeds"):
        Config(seeds=(1, 1))
