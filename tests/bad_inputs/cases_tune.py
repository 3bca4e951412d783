"""Bad calls to jaxml.tune (see tests/bad_inputs/audit.py). None of them runs a job."""

import json
import os
import tempfile

import optuna

from jaxml import tune as t
from jaxml.testing import bad_calls

F = "jaxml.tune."
_DIR = tempfile.mkdtemp(prefix="jaxml-tune-bad-")
_SPACE = (t.Param("x", low=0.0, high=1.0),)
_JOB = "jaxml.tune.toy:quadratic_job"


def _spec(**kw):
    base = dict(proposer="random", n_trials=2, params=_SPACE, job=_JOB, workdir=_DIR)
    return t.TuneSpec(**{**base, **kw})


def _file(text, name):
    path = os.path.join(_DIR, name)
    with open(path, "w") as f:
        f.write(text)
    return path


_BLOCKER = _file("", "a-file")  # a file where a folder should be: unwritable even for root
_SPEC = _spec()
_STUDY = optuna.create_study()  # in-memory; never optimized here
_REC = [{"state": "COMPLETE", "value": 1.0, "train_steps": 1}]


def _cases(name, arg, items, errors=(ValueError, TypeError)):
    return bad_calls(F + name, arg, items, errors)


CASES = [
    *_cases(
        "Param",
        "low",
        [
            ("empty range", lambda: t.Param("x", low=1.0, high=1.0)),
            ("inverted range", lambda: t.Param("x", low=2.0, high=1.0)),
            ("log scale from 0", lambda: t.Param("x", low=0.0, high=1.0, log=True)),
            ("string low", lambda: t.Param("x", low="0", high=1.0)),
            ("float low of an int", lambda: t.Param("n", "int", low=0.5, high=3)),
            ("NaN low", lambda: t.Param("x", low=float("nan"), high=1.0)),
        ],
    ),
    *_cases("Param", "high", [("None", lambda: t.Param("x", low=0.0))]),
    *_cases("Param", "kind", [("unknown kind", lambda: t.Param("x", "real", low=0, high=1))]),
    *_cases("Param", "name", [("empty name", lambda: t.Param("", low=0.0, high=1.0))]),
    *_cases(
        "Param",
        "choices",
        [
            ("no choices", lambda: t.Param("c", "categorical", choices=())),
            ("a string", lambda: t.Param("c", "categorical", choices="ab")),
            ("a dict choice", lambda: t.Param("c", "categorical", choices=({},))),
        ],
    ),
    *_cases(
        "Param", "grid", [("outside range", lambda: t.Param("x", low=0.0, high=1.0, grid=(2.0,)))]
    ),
    *_cases("Param", "log", [("string log", lambda: t.Param("x", low=1.0, high=2.0, log="yes"))]),
    *_cases(
        "TuneSpec",
        "proposer",
        [("unknown", lambda: _spec(proposer="bayes")), ("None", lambda: _spec(proposer=None))],
    ),
    *_cases(
        "TuneSpec",
        "n_trials",
        [("zero", lambda: _spec(n_trials=0)), ("float", lambda: _spec(n_trials=2.0))],
    ),
    *_cases(
        "TuneSpec",
        "params",
        [
            ("empty", lambda: _spec(params=())),
            ("a dict", lambda: _spec(params={"x": 1})),
            ("duplicate names", lambda: _spec(params=_SPACE * 2)),
            ("inverted range", lambda: _spec(params=[{"name": "x", "low": 1, "high": 0}])),
        ],
    ),
    *_cases("TuneSpec", "job", [("no colon", lambda: _spec(job="jaxml.tune.toy"))]),
    *_cases("TuneSpec", "workdir", [("None", lambda: _spec(workdir=None))]),
    *_cases("TuneSpec", "direction", [("max", lambda: _spec(direction="max"))]),
    *_cases("TuneSpec", "n_parallel", [("zero", lambda: _spec(n_parallel=0))]),
    *_cases("TuneSpec", "retries", [("negative", lambda: _spec(retries=-1))]),
    *_cases("TuneSpec", "storage", [("a path", lambda: _spec(storage="runs/tune.db"))]),
    *_cases("TuneSpec", "study_name", [("empty", lambda: _spec(study_name=" "))]),
    *_cases("TuneSpec", "ift_job", [("missing for ift", lambda: _spec(proposer="ift"))]),
    *_cases("TuneSpec", "job_kwargs", [("not JSON", lambda: _spec(job_kwargs={"f": print}))]),
    *_cases("TuneSpec", "grace_period", [("<= heartbeat", lambda: _spec(grace_period=5))]),
    *_cases("TuneSpec", "heartbeat_interval", [("zero", lambda: _spec(heartbeat_interval=0))]),
    *_cases("TuneSpec", "reduction_factor", [("one", lambda: _spec(reduction_factor=1))]),
    *_cases(
        "TuneSpec", "n_trials", [("more than the grid", lambda: _spec(proposer="grid", n_trials=4))]
    ),
    *_cases("LocalPostgres", "timeout_s", [("zero", lambda: t.LocalPostgres(timeout_s=0))]),
    *_cases("Reporter", "trial", [("a FrozenTrial", lambda: t.Reporter(_STUDY.ask().number))]),
    *_cases(
        "best_so_far",
        "records",
        [("a dict", lambda: t.best_so_far({"a": 1})), ("wrong dicts", lambda: t.best_so_far([{}]))],
    ),
    *_cases("best_so_far", "x", [("epochs", lambda: t.best_so_far(_REC, x="epochs"))]),
    *_cases("best_so_far", "direction", [("up", lambda: t.best_so_far(_REC, direction="up"))]),
    *_cases("best_so_far", "anytime", [("string", lambda: t.best_so_far(_REC, anytime="no"))]),
    *_cases("budget_counts", "study", [("a name", lambda: t.budget_counts("tune"))]),
    *_cases(
        "budget_to_reach",
        "best",
        [("length mismatch", lambda: t.budget_to_reach([1.0, 2.0], [0.5], 0.1))],
    ),
    *_cases("budget_to_reach", "spent", [("2-D", lambda: t.budget_to_reach([[1.0]], [0.5], 0.1))]),
    *_cases("budget_to_reach", "target", [("NaN", lambda: t.budget_to_reach([1.0], [1.0], "a"))]),
    *_cases(
        "check_proposer_available", "proposer", [("bo", lambda: t.check_proposer_available("bo"))]
    ),
    *_cases("check_space", "params", [("a string", lambda: t.check_space("x"))]),
    *_cases(
        "check_workdir",
        "workdir",
        [
            ("under a file", lambda: t.check_workdir(os.path.join(_BLOCKER, "sub"))),
            ("an int", lambda: t.check_workdir(3)),
        ],
    ),
    *_cases("distributions", "params", [("empty", lambda: t.distributions([]))]),
    *_cases("grid_values", "grid_size", [("zero", lambda: t.grid_values(_SPACE, grid_size=0))]),
    *_cases("grid_values", "params", [("None", lambda: t.grid_values(None))]),
    *_cases(
        "load_spec",
        "path",
        [
            ("missing file", lambda: t.load_spec(os.path.join(_DIR, "none.json"))),
            ("not JSON", lambda: t.load_spec(_file("{", "bad.json"))),
        ],
        errors=(ValueError, TypeError, FileNotFoundError),
    ),
    *_cases(
        "load_spec",
        "d",
        [("a list", lambda: t.load_spec(_file("[1]", "list.json")))],
    ),
    *_cases("make_objective", "job", [("a string", lambda: t.make_objective(_SPEC, "job"))]),
    *_cases("make_objective", "spec", [("a dict", lambda: t.make_objective({}, print))]),
    *_cases("make_pruner", "spec", [("a dict", lambda: t.make_pruner({"proposer": "tpe"}))]),
    *_cases("make_sampler", "spec", [("a string", lambda: t.make_sampler("tpe"))]),
    *_cases(
        "open_storage",
        "url",
        [("a path", lambda: t.open_storage("tune.db")), ("None", lambda: t.open_storage(None))],
    ),
    *_cases(
        "open_storage",
        "heartbeat_interval",
        [("zero", lambda: t.open_storage("sqlite:///:memory:", heartbeat_interval=0))],
    ),
    *_cases(
        "open_storage",
        "retries",
        [("negative", lambda: t.open_storage("sqlite:///:memory:", retries=-1))],
    ),
    *_cases("open_study", "spec", [("a dict", lambda: t.open_study(_SPEC.to_dict()))]),
    *_cases("prepare", "spec", [("a path", lambda: t.prepare("spec.json"))]),
    *_cases(
        "prepare",
        "workdir",
        [("under a file", lambda: t.prepare(_spec(workdir=os.path.join(_BLOCKER, "w"))))],
    ),
    *_cases(
        "resolve_job",
        "ref",
        [
            ("no module", lambda: t.resolve_job("no_such_pkg_13:f")),
            ("no attribute", lambda: t.resolve_job("jaxml.tune.toy:nope")),
            ("not callable", lambda: t.resolve_job("jaxml.tune.spec:PROPOSERS")),
            ("an int", lambda: t.resolve_job(3)),
        ],
    ),
    *_cases("run_study", "spec", [("a dict", lambda: t.run_study(json.loads("{}")))]),
    *_cases(
        "run_study",
        "workdir",
        [("under a file", lambda: t.run_study(_spec(workdir=os.path.join(_BLOCKER, "w"))))],
    ),
    *_cases("run_worker", "spec", [("None", lambda: t.run_worker(None))]),
    *_cases(
        "spec_from_dict",
        "d",
        [
            ("unknown field", lambda: t.spec_from_dict({**_SPEC.to_dict(), "trials": 3})),
            ("missing fields", lambda: t.spec_from_dict({"proposer": "tpe"})),
            ("a list", lambda: t.spec_from_dict([])),
        ],
    ),
    *_cases("spec_storage", "spec", [("a URL", lambda: t.spec_storage("sqlite:///x.db"))]),
    *_cases("study_summary", "study", [("None", lambda: t.study_summary(None))]),
    *_cases("suggest", "trial", [("a dict", lambda: t.suggest({}, _SPACE))]),
    *_cases("suggest", "params", [("empty", lambda: t.suggest(_STUDY.ask(), []))]),
    *_cases("trial_records", "study", [("a name", lambda: t.trial_records("tune"))]),
]

EXEMPT = {
    F + "NonFiniteScoreError": "an exception class raised by the library, not called by users",
    F + "find_pg_bin": "takes no arguments; reports why no server can start",
}

# ---- nested tuning (jaxml.tune.nested, loaded lazily by jaxml.tune); none runs a job.
_NESTED_SPEC = t.shared_lr_spec(_DIR, scale="tiny", study_name="bad-nested")
CASES += [
    *_cases(
        "nested_space",
        "inner_steps",
        [("a string", lambda: t.nested_space("10")), ("zero", lambda: t.nested_space((0,)))],
    ),
    *_cases("nested_space", "lr_range", [("inverted", lambda: t.nested_space(lr_range=(1, 0.1)))]),
    *_cases("shared_lr_space", "hidden", [("a string", lambda: t.shared_lr_space("32"))]),
    *_cases(
        "shared_lr_space", "wd_range", [("from 0", lambda: t.shared_lr_space(wd_range=(0, 1)))]
    ),
    *_cases(
        "nested_ift_job",
        "config",
        [
            ("no inner_steps", lambda: t.nested_ift_job({"lr": 0.1}, t.Reporter())),
            ("a list", lambda: t.nested_ift_job([0.1, 10], t.Reporter())),
            ("lr = 0", lambda: t.nested_ift_job({"lr": 0, "inner_steps": 10}, t.Reporter())),
        ],
    ),
    *_cases(
        "nested_ift_job",
        "init_wd",
        [("negative", lambda: t.nested_ift_job({"lr": 0.1, "inner_steps": 10}, None, init_wd=-1))],
    ),
    *_cases("shared_lr_job", "config", [("no lr", lambda: t.shared_lr_job({}, t.Reporter()))]),
    *_cases(
        "nested_ift_spec",
        "inner_steps",
        [("3 does not divide 50", lambda: t.nested_ift_spec(_DIR, inner_steps=(3, 10)))],
    ),
    *_cases("nested_ift_spec", "scale", [("huge", lambda: t.nested_ift_spec(_DIR, scale="huge"))]),
    *_cases(
        "nested_ift_spec", "proposer", [("ift", lambda: t.nested_ift_spec(_DIR, proposer="ift"))]
    ),
    *_cases("nested_ift_spec", "init_wd", [("zero", lambda: t.nested_ift_spec(_DIR, init_wd=0))]),
    *_cases("shared_lr_spec", "seed", [("negative", lambda: t.shared_lr_spec(_DIR, seed=-1))]),
    *_cases(
        "shared_lr_spec",
        "lr_range",
        [("one number", lambda: t.shared_lr_spec(_DIR, lr_range=0.1))],
    ),
    *_cases("run_to_budget", "spec", [("a dict", lambda: t.run_to_budget({}, 10))]),
    *_cases(
        "run_to_budget",
        "spec",
        [
            (
                "n_parallel=2",
                lambda: t.run_to_budget(
                    t.shared_lr_spec(_DIR, scale="tiny", n_parallel=2, study_name="bad-par"), 10
                ),
            )
        ],
    ),
    *_cases("run_to_budget", "max_steps", [("zero", lambda: t.run_to_budget(_NESTED_SPEC, 0))]),
    *_cases(
        "run_to_budget",
        "progress",
        [("a string", lambda: t.run_to_budget(_NESTED_SPEC, 10, progress="no"))],
    ),
    *_cases(
        "best_within_budget",
        "records",
        [("a dict", lambda: t.best_within_budget({"state": "COMPLETE"}, 10))],
    ),
    *_cases(
        "best_within_budget",
        "max_steps",
        [("NaN", lambda: t.best_within_budget(_REC, float("nan")))],
    ),
    *_cases("steps_spent", "records", [("a string", lambda: t.steps_spent("trials"))]),
    *_cases("within_budget", "records", [("a dict", lambda: t.within_budget({"a": 1}, 10))]),
    *_cases("within_budget", "max_steps", [("0", lambda: t.within_budget(_REC, 0))]),
]
