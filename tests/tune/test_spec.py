"""The spec, the space, the records: clear errors before any job runs; exact bookkeeping."""

import json
import math
import os

import numpy as np
import optuna
import pytest

from jaxml.tune import (
    NonFiniteScoreError,
    Param,
    Reporter,
    TuneSpec,
    best_so_far,
    budget_to_reach,
    grid_values,
    load_spec,
    run_study,
)
from tests.tune.conftest import TOY_JOB, TOY_SPACE, toy_spec


def test_spec_round_trips_through_json(tmp_path):
    spec = toy_spec(tmp_path, proposer="grid", n_trials=3, job_kwargs={"num_steps": 2})
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec.to_dict()))
    assert load_spec(path) == spec
    assert spec.storage_url == f"sqlite:///{tmp_path.absolute() / 'tune.db'}"
    # The JSON form accepts "type" for the kind, as in the docs.
    d = {**spec.to_dict(), "params": [{"name": "a", "type": "int", "low": 1, "high": 4}]}
    path.write_text(json.dumps(d))
    assert load_spec(path).params == (Param("a", "int", low=1, high=4),)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"proposer": "bayes"}, ValueError, "proposer must be one of"),
        ({"params": [{"name": "x", "low": 1.0, "high": 1.0}]}, ValueError, "empty range"),
        ({"params": [{"name": "x", "low": 2.0, "high": 1.0}]}, ValueError, "inverted range"),
        ({"params": [{"name": "x", "low": 0.0, "high": 1.0, "log": True}]}, ValueError, "> 0"),
        ({"params": ()}, ValueError, "empty space"),
        ({"proposer": "grid", "n_trials": 10}, ValueError, "grid.s 9 points"),
        ({"storage": "tune.db"}, ValueError, "SQLAlchemy URL"),
        ({"job": "not a ref"}, ValueError, "package.module:function"),
        ({"proposer": "ift"}, ValueError, "ift_job"),
    ],
)
def test_bad_specs_fail_before_any_job(tmp_path, kwargs, error, words):
    base = dict(proposer="random", n_trials=2, params=TOY_SPACE, job=TOY_JOB, workdir=tmp_path)
    with pytest.raises(error, match=words):
        TuneSpec(**{**base, **kwargs})
    assert not (tmp_path / "tune.db").exists()


def test_non_writable_workdir_fails_before_any_job(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where a folder should be: unwritable even for root
    spec = toy_spec(blocker / "sub")
    with pytest.raises(ValueError, match="workdir .* is not a writable folder"):
        run_study(spec, progress=False)
    if os.geteuid() != 0:  # permission bits only stop non-root users
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(ValueError, match="not a writable folder"):
            run_study(toy_spec(ro), progress=False)


def test_unimportable_job_and_missing_package_fail_before_any_job(tmp_path):
    spec = toy_spec(tmp_path, job="jaxml.tune.toy:no_such_job")
    with pytest.raises(ValueError, match="has no attribute"):
        run_study(spec, progress=False)
    assert not (tmp_path / "tune.db").exists()
    try:
        import cmaes  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs the 'cmaes' package"):
            run_study(toy_spec(tmp_path, proposer="cmaes"), progress=False)


def test_grid_values_spread_on_the_right_scale():
    g = grid_values(
        [
            Param("a", low=1e-4, high=1e-2, log=True),
            Param("b", low=0.0, high=1.0),
            Param("c", "int", low=1, high=3),
            Param("d", "categorical", choices=("u", "v")),
            Param("e", low=0.0, high=1.0, grid=(0.25,)),
        ],
        grid_size=3,
    )
    np.testing.assert_allclose(g["a"], [1e-4, 1e-3, 1e-2], rtol=1e-12)
    assert g["b"] == [0.0, 0.5, 1.0] and g["c"] == [1, 2, 3] and g["d"] == ["u", "v"]
    assert g["e"] == [0.25]


def test_reporter_refuses_nan_and_keeps_a_trace():
    r = Reporter()
    r.add_steps(3)
    r.report(0.5, 3)
    assert r.values == {3: 0.5} and r.trace[0][:2] == [3, 3] and r.trace[0][3] == 0.5
    with pytest.raises(NonFiniteScoreError, match="step 4 is nan"):
        r.report(float("nan"), 4)


def _rec(state, value, steps, trace=()):
    return {
        "state": state,
        "value": value,
        "train_steps": steps,
        "wall_time_s": steps / 10,
        "intermediate": {},
        "trace": [list(t) for t in trace],
    }


def test_best_so_far_matches_a_hand_computation():
    records = [
        _rec("COMPLETE", 0.5, 10, [(5, 5, 0.5, 0.8), (10, 10, 1.0, 0.5)]),
        _rec("FAIL", None, 4, [(2, 2, 0.2, 0.3)]),  # a reached value counts even if it failed
        _rec("PRUNED", None, 5, [(5, 5, 0.5, 0.9)]),
        _rec("COMPLETE", 0.2, 10, [(10, 10, 1.0, 0.2)]),
    ]
    xs, ys = best_so_far(records)
    np.testing.assert_array_equal(xs, [5, 10, 10, 12, 19, 29, 29])
    np.testing.assert_array_equal(ys, [0.8, 0.5, 0.5, 0.3, 0.3, 0.2, 0.2])
    xs, ys = best_so_far(records, anytime=False)  # final scores of COMPLETE trials only
    np.testing.assert_array_equal(xs, [10, 29])
    np.testing.assert_array_equal(ys, [0.5, 0.2])
    xs, _ = best_so_far(records, x="wall_time_s", anytime=False)
    np.testing.assert_allclose(xs, [1.0, 2.9])
    assert budget_to_reach(*best_so_far(records), 0.3) == 12
    assert math.isinf(budget_to_reach(*best_so_far(records), 0.1))
    _, ys = best_so_far([_rec("COMPLETE", 0.4, 1), _rec("COMPLETE", 0.9, 1)], direction="maximize")
    np.testing.assert_array_equal(ys, [0.4, 0.9])


def test_optuna_distributions_come_from_the_space():
    from jaxml.tune import distributions

    d = distributions(TOY_SPACE)
    assert d["x"] == optuna.distributions.FloatDistribution(0.0, 1.0)
    assert d["y"] == optuna.distributions.IntDistribution(0, 2)
