"""experiments.mlperf.scenarios: a smoke run and the verdict rule on crafted metrics."""

import copy
import json

import pytest

from experiments.mlperf.scenarios import THRESHOLDS, Config, run, summarize

SCEN = ("SingleStream", "MultiStream", "Server", "Offline")


def _metrics():
    ok = {"issued": 10, "completed_unique": 10, "duplicates": 0, "error_responses": 0}
    runs = {
        s: {
            "metric_name": "m",
            "metric_value": 1.0,
            "result_valid": True,
            "invalid_reasons": [],
            "latency_ns": {"50.00": 1, "90.00": 2, "99.00": 3},
            "completion": dict(ok),
            "raw_samples_per_s": 1.0,
        }
        for s in SCEN
    }
    runs["Server"]["search"] = {"peak_qps": 100.0, "curve": []}
    return {
        "runs": runs,
        "accuracy": {
            "metric": "accuracy",
            "loadgen": {"accuracy": 0.9},
            "outside_loadgen": {"accuracy": 0.9},
            "equal": True,
            "completion": dict(ok),
        },
        "compressed": None,
    }


def test_rule_passes_on_good_metrics():
    s = summarize(_metrics())
    assert s.matches is True and s.thresholds == THRESHOLDS


@pytest.mark.parametrize("condition", ["invalid", "duplicate", "missing", "accuracy", "no_peak"])
def test_rule_fails_each_condition(condition):
    m = copy.deepcopy(_metrics())
    if condition == "invalid":
        m["runs"]["MultiStream"]["result_valid"] = False
        m["runs"]["MultiStream"]["invalid_reasons"] = ["Min duration satisfied: NO"]
    elif condition == "duplicate":
        m["runs"]["Server"]["completion"]["duplicates"] = 1
    elif condition == "missing":
        m["accuracy"]["completion"]["completed_unique"] = 9
    elif condition == "accuracy":
        m["accuracy"]["equal"] = False
    else:
        m["runs"]["Server"]["search"]["peak_qps"] = None
    s = summarize(m)
    assert s.matches is False
    if condition == "invalid":
        assert "Min duration satisfied: NO" in s.verdict


def test_smoke_run(tmp_path):
    cfg = Config(
        scale="tiny",
        train_steps=5,
        compressed_model="",
        min_duration_ms=100,
        search_iterations=0,
        server_min_queries=100,
        buckets=(1, 8, 32),
    )
    m = run(cfg, tmp_path)
    assert (tmp_path / "mlperf_scenarios.png").is_file()
    assert json.loads((tmp_path / "metrics.json").read_text())["scale"] == "tiny"
    for s in SCEN:
        c = m["runs"][s]["completion"]
        assert c["completed_unique"] == c["issued"] > 0 and c["duplicates"] == 0
        assert (tmp_path / "mlp" / s / "mlperf_log_summary.txt").is_file()
        assert (tmp_path / "mlp" / s / "summary.json").is_file()
    assert m["accuracy"]["equal"] is True
    summarize(m)  # no verdict asserted: a tiny run is a smoke run


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="model"):
        Config(model="resnet")
    with pytest.raises(ValueError, match="min_duration_ms"):
        Config(min_duration_ms=0)
