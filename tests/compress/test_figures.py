"""The compression figures: verdict rules on crafted metrics, and tiny smoke runs."""

import numpy as np
import pytest

from experiments.compress.accuracy_density import Config as ADConfig
from experiments.compress.accuracy_density import run as ad_run
from experiments.compress.accuracy_density import summarize as ad_summarize
from experiments.compress.gp_search import Config as GPConfig
from experiments.compress.gp_search import run as gp_run
from experiments.compress.gp_search import summarize as gp_summarize
from experiments.compress.savings import Config as SVConfig
from experiments.compress.savings import run as sv_run
from experiments.compress.savings import summarize as sv_summarize


def _ad(lc_accs, direct_accs, dense=0.96, densities=(0.03, 0.05, 0.1)):
    runs = []
    for d, a, b in zip(densities, lc_accs, direct_accs, strict=True):
        runs += [
            {"density": d, "method": "lc", "test_accuracy": a},
            {"density": d, "method": "direct", "test_accuracy": b},
        ]
    return {"dense_test_accuracy": dense, "runs": runs}


def test_accuracy_density_rule():
    good = _ad([0.90, 0.95, 0.96], [0.80, 0.90, 0.95])  # L-C within bound from 0.05, direct 0.1
    tie = _ad([0.90, 0.93, 0.96], [0.80, 0.90, 0.95])
    assert ad_summarize({"models": {"mlp": good, "cnn": tie}, "bound": 0.02}).matches
    # no model strictly better
    s = ad_summarize({"models": {"mlp": tie}, "bound": 0.02})
    assert not s.matches and "strictly lower" in s.verdict
    # L-C worse than direct for one model
    worse = _ad([0.90, 0.93, 0.96], [0.80, 0.95, 0.95])
    s = ad_summarize({"models": {"mlp": good, "cnn": worse}, "bound": 0.02})
    assert not s.matches and "cnn: L-C needs density 0.1 > direct 0.05" in s.verdict
    # an untrained dense model
    s = ad_summarize(
        {"models": {"mlp": _ad([0.8, 0.85, 0.86], [0.7, 0.8, 0.85], dense=0.86)}, "bound": 0.02}
    )
    assert not s.matches and "dense accuracy" in s.verdict


def _gp(densities, accs, answer, grid_answer=0.05, target=0.94):
    return {
        "densities": densities,
        "accuracies": accs,
        "answer": answer,
        "target": target,
        "answer_test_accuracy": 0.95,
        "dense_val_accuracy": 0.96,
        "dense_test_accuracy": 0.96,
        "grid_answer": grid_answer,
    }


def test_gp_search_rule():
    ds = [1.0, 0.005, 0.1, 0.05, 0.04]
    accs = [0.96, 0.3, 0.95, 0.945, 0.90]
    assert gp_summarize(_gp(ds, accs, 0.05)).matches
    s = gp_summarize(_gp(ds * 3, accs * 3, 0.05))
    assert not s.matches and "15 L-C runs > 10" in s.verdict
    s = gp_summarize(_gp(ds, [0.9] * 5, float("nan")))
    assert not s.matches and "no sampled density" in s.verdict
    s = gp_summarize(_gp([1.0, 0.005, 0.1], [0.96, 0.3, 0.95], 0.1, grid_answer=0.1))
    assert not s.matches and "bracketed" in s.verdict  # 0.005 .. 0.1 is 1.3 decades
    s = gp_summarize(_gp(ds, accs, 0.05, grid_answer=0.02))
    assert not s.matches and "above the grid" in s.verdict


def _row(red, drop, gain=None, same=True):
    return {
        "bytes_reduction": red,
        "accuracy_drop": drop,
        "throughput_gain": gain,
        "loads_identical": same,
    }


def test_savings_rule():
    def table(**rows):
        return {"table": {"mlp": {"schemes": rows}}, "bound": 0.02}

    good = {"prune": _row(12.0, 0.01), "neurons": _row(3.0, 0.015, 1.8)}
    assert sv_summarize(table(**good)).matches
    s = sv_summarize(table(prune=_row(12.0, 0.03), neurons=_row(3.0, 0.015, 1.8)))
    assert not s.matches and "< 10x" in s.verdict  # the 12x scheme is outside the bound
    s = sv_summarize(table(prune=_row(12.0, 0.01), neurons=_row(3.0, 0.015, 1.2)))
    assert not s.matches and "1.5x faster" in s.verdict
    s = sv_summarize(table(prune=_row(12.0, 0.01), neurons=_row(3.0, 0.05, 1.8)))
    assert not s.matches and "1.5x faster" in s.verdict  # fast but outside the bound
    s = sv_summarize(table(prune=_row(12.0, 0.01, same=False), neurons=_row(3.0, 0.0, 1.8)))
    assert not s.matches and "logits differ" in s.verdict


@pytest.mark.parametrize("which", ["accuracy_density", "gp_search", "savings"])
def test_tiny_smoke_runs(tmp_path, which):
    cfg, run = {
        "accuracy_density": (ADConfig, ad_run),
        "gp_search": (GPConfig, gp_run),
        "savings": (SVConfig, sv_run),
    }[which]
    from experiments.harness import make_config

    metrics = run(make_config(cfg, "tiny"), tmp_path)
    assert metrics["scale"] == "tiny" and (tmp_path / metrics["figures"][0]).is_file()
    if which == "savings":
        rows = metrics["table"]["mlp"]["schemes"]
        assert all(r["loads_identical"] for r in rows.values())
        assert np.isfinite(rows["neurons 50%"]["throughput_gain"])
