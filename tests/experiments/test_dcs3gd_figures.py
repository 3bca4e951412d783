"""The DC-S3GD figures: tiny-size smoke runs (8 simulated devices, each as a subprocess) and
their verdict rules on crafted metrics.

The claims are checked at quick scale (see the module docstrings); here: the modules run end to
end, write their outputs, resume after a crash, and ``summarize`` gives True on a crafted set of
numbers that satisfies its rule and False when any one number breaks one condition.
"""

import copy
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from experiments.dcs3gd import convergence, scaling
from experiments.harness import read_json

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(module, workdir, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))  # the module adds the 8-device flag itself
    return subprocess.run(
        [sys.executable, "-m", module, "--scale", "tiny", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_convergence_tiny_resumes_after_a_crash(tmp_path):
    # Killed abruptly after the first chunk of the first run (sync): its checkpoint exists.
    proc = _run("experiments.dcs3gd.convergence", tmp_path, {"JAXML_CRASH_AT_STEP": "1"})
    assert proc.returncode == 17, proc.stderr[-3000:]
    assert not (tmp_path / "metrics.json").exists()
    proc = _run("experiments.dcs3gd.convergence", tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "convergence.png").read_bytes()[:8] == PNG_MAGIC
    metrics = read_json(tmp_path / "metrics.json")
    config = read_json(tmp_path / "config.json")
    assert config["scale"] == "tiny" and metrics["device"]["num_devices"] == 8
    lrs = config["learning_rates"]
    expected = {f"sync/lr{lr:g}/tau0" for lr in lrs} | {
        f"{m}/lr{lr:g}/tau{t}"
        for m in config["methods"]
        if m != "sync"
        for lr in lrs
        for t in config["stalenesses"]
    }
    assert set(metrics["runs"]) == expected
    for key, run in metrics["runs"].items():
        steps = run["history"]["step"]
        assert steps == list(range(0, config["num_steps"] + 1, config["eval_every"])), key
        assert np.shape(run["history"]["test_accuracy"]) == (len(steps), config["num_seeds"])
        assert len(run["final_test_accuracy"]) == config["num_seeds"]
        assert all(0.0 <= a <= 1.0 for a in run["final_test_accuracy"])
        # sync resumed from its checkpoint after one chunk; the rest ran fresh.
        assert run["resumed_from_step"] == (config["eval_every"] if key.startswith("sync") else 0)
    sync = metrics["runs"][f"sync/lr{lrs[-1]:g}/tau0"]
    assert sync["mean_test_accuracy"] > 0.3  # learns (chance is 0.1) in 20 tiny steps
    summary = convergence.summarize(metrics)
    assert any(k.startswith("sync, lr") for k in summary.numbers)
    # The tiny scale runs no stale SGD, so the rule (which compares DC-S3GD with it) cannot pass.
    assert "stale" not in config["methods"]
    assert summary.matches is False and "stale runs are missing" in summary.verdict
    assert (
        summary.thresholds
        and summary.thresholds["max gap of DC-S3GD below sync, every lr and tau"]
        == (config["match_tolerance"])
    )


def test_scaling_tiny(tmp_path):
    proc = _run("experiments.dcs3gd.scaling", tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "scaling.png").read_bytes()[:8] == PNG_MAGIC
    metrics = read_json(tmp_path / "metrics.json")
    single = metrics["single_process"]
    assert set(single) == {"1", "8"}
    for k, r in single.items():
        assert r["sync"]["step_ms"] > 0 and r["dc"]["step_ms"] > 0, k
    # The compiled-program check is exact even at tiny size.
    assert single["8"]["sync"]["params_depend_on_all_reduce"] is True
    assert single["8"]["dc"]["params_depend_on_all_reduce"] is False
    mp = metrics["multi_process"]
    assert metrics["multi_process_error"] is None
    assert mp["num_processes"] == 2 and mp["local_devices"] == 4 and mp["num_devices"] == 8
    assert mp["process_returncodes"] == [0, 0]
    # 2 processes x 4 devices compute the same losses as 1 process x 8 devices (float32).
    assert mp["max_loss_difference"] < 1e-5
    summary = scaling.summarize(metrics)
    assert "8 devices: DC-S3GD / sync (paired median; fastest repeats)" in summary.numbers
    # 2 repeats at tiny size: no 95 % interval, so the timing part is inconclusive (no match);
    # the compiled-program part of the verdict is exact.
    assert single["8"]["ratio_ci"] is None and summary.matches is False
    assert "inconclusive: no 95% interval" in summary.verdict
    assert "the compiled DC-S3GD update does not depend" in summary.verdict
    assert "sync's does;" in summary.verdict
    assert summary.thresholds[GOAL_KEY] == config_ratio_goal(tmp_path)


def config_ratio_goal(workdir):
    return read_json(workdir / "config.json")["ratio_goal"]


# ---- convergence: the verdict rule on crafted metrics -------------------------------------------


def _convergence_metrics():
    """Two learning rates x two stalenesses. Stale SGD fails only at lr 0.7, tau 4 (0.50 vs sync
    0.96); DC-S3GD is within 0.01 of sync everywhere and beats stale SGD there by 0.45."""
    sync = {"0.3": 0.95, "0.7": 0.96}
    return {
        "table": {
            "sync": {lr: {"1": a, "4": a} for lr, a in sync.items()},
            "stale": {"0.3": {"1": 0.95, "4": 0.94}, "0.7": {"1": 0.955, "4": 0.50}},
            "dc": {"0.3": {"1": 0.95, "4": 0.94}, "0.7": {"1": 0.96, "4": 0.95}},
            "local": {"0.3": {"1": 0.95, "4": 0.95}, "0.7": {"1": 0.96, "4": 0.30}},
        },
        "learning_rates": [0.3, 0.7],
        "main_learning_rate": 0.7,
        "stalenesses": [1, 4],
        "methods": ["sync", "stale", "dc", "local"],
        "match_tolerance": 0.02,
        "compensation_margin": 0.02,
    }


def test_convergence_rule_passes_on_crafted_numbers():
    summary = convergence.summarize(_convergence_metrics())
    assert summary.matches is True, summary.verdict
    assert summary.thresholds == {
        "max gap of DC-S3GD below sync, every lr and tau": 0.02,
        "stale SGD fails when below sync by more than": 0.02,
        "min DC-S3GD advantage over stale SGD where stale fails": 0.02,
        "cells required where stale SGD fails": 1,
    }
    assert summary.numbers["cells where stale SGD fails (more than tolerance below sync)"] == (
        "lr 0.7 tau 4"
    )
    assert "compensation did not matter" not in summary.verdict


def _set(metrics, method, lr, tau, value):
    metrics = copy.deepcopy(metrics)
    if method == "sync":
        for t in metrics["table"]["sync"][lr]:
            metrics["table"]["sync"][lr][t] = value
    else:
        metrics["table"][method][lr][tau] = value
    return metrics


@pytest.mark.parametrize(
    "method,lr,tau,value,says",
    [
        # 1. DC-S3GD more than 0.02 below sync at a cell where stale SGD is fine (not the main lr).
        ("dc", "0.3", "1", 0.92, "DC-S3GD is NOT within 0.02 of sync at lr 0.3 tau 1"),
        # 1. ... at the cell where stale SGD fails, even though it still beats stale SGD there.
        ("dc", "0.7", "4", 0.93, "DC-S3GD is NOT within 0.02 of sync at lr 0.7 tau 4"),
        # 1. ... through sync: sync at lr 0.3 rises to 0.975, DC-S3GD stays at 0.95.
        ("sync", "0.3", None, 0.975, "DC-S3GD is NOT within 0.02 of sync at lr 0.3 tau 1"),
        # 2. Stale SGD never fails: compensation did not matter.
        ("stale", "0.7", "4", 0.95, "compensation did not matter at these settings"),
        # 3. Stale SGD fails by a little (0.935, 0.025 below sync); DC-S3GD (0.95, within
        #    tolerance) beats it by only 0.015 < 0.02.
        ("stale", "0.7", "4", 0.935, "does NOT beat it by >= 0.02 at lr 0.7 tau 4"),
        # 3. A second failing cell (stale 0.925, 0.025 below sync) where DC-S3GD (0.94) beats
        #    stale SGD by only 0.015.
        ("stale", "0.3", "4", 0.925, "does NOT beat it by >= 0.02 at lr 0.3 tau 4"),
        # A NaN accuracy is never a pass.
        ("dc", "0.3", "4", math.nan, "NaN"),
        ("stale", "0.3", "1", math.nan, "NaN"),
    ],
)
def test_convergence_rule_fails_when_one_condition_breaks(method, lr, tau, value, says):
    summary = convergence.summarize(_set(_convergence_metrics(), method, lr, tau, value))
    assert summary.matches is False
    assert says in summary.verdict, summary.verdict
    assert summary.thresholds


def test_convergence_rule_uses_the_recorded_thresholds():
    strict_tol = dict(_convergence_metrics(), match_tolerance=0.005)  # DC-S3GD is 0.01 below
    assert convergence.summarize(strict_tol).matches is False
    big_margin = dict(_convergence_metrics(), compensation_margin=0.5)  # advantage is 0.45
    assert convergence.summarize(big_margin).matches is False
    loose = dict(_convergence_metrics(), compensation_margin=0.4)
    assert convergence.summarize(loose).matches is True
    assert (
        convergence.summarize(loose).thresholds[
            "min DC-S3GD advantage over stale SGD where stale fails"
        ]
        == 0.4
    )


@pytest.mark.parametrize("missing", ["stale", "dc"])
def test_convergence_rule_fails_without_stale_or_dc_runs(missing):
    metrics = _convergence_metrics()
    del metrics["table"][missing]
    summary = convergence.summarize(metrics)
    assert summary.matches is False
    assert f"the {missing} runs are missing" in summary.verdict
    assert summary.thresholds


# ---- scaling: the verdict rule on crafted metrics -----------------------------------------------


GOAL_KEY = "max DC-S3GD / sync step time at the largest device count (8), whole 95% interval"


def _scaling_metrics(ratio_8=0.98, ci_8=(0.95, 1.02), sync_dep=True, dc_dep=False, multi=True):
    def entry(sync_ms, dc_ms, ratio, ratio_min, ci):
        return {
            "sync": {"step_ms": sync_ms, "params_depend_on_all_reduce": sync_dep},
            "dc": {
                "step_ms": dc_ms,
                "params_depend_on_all_reduce": dc_dep,
                "async_collectives": 0,
            },
            "ratio_dc_over_sync": ratio,
            "ratio_dc_over_sync_min": ratio_min,
            "ratio_ci": ci and {"low": ci[0], "high": ci[1], "coverage": 0.961, "n": 9},
        }

    metrics = {
        "single_process": {
            "1": entry(24.0, 25.0, 1.04, 1.03, (1.01, 1.07)),
            "8": entry(40.0, 39.2, ratio_8, 0.97, ci_8),
        },
        "multi_process": None,
        "multi_process_error": None,
        "ratio_goal": 1.05,
        "cpu_count": 2,
    }
    if multi:
        metrics["multi_process"] = {
            "num_processes": 2,
            "devices_per_process": 4,
            "sync": {"step_ms": 36.0},
            "dc": {"step_ms": 37.0},
            "ratio_dc_over_sync": 1.03,
            "ratio_dc_over_sync_min": 1.01,
            "max_loss_difference": 2e-7,
        }
    return metrics


@pytest.mark.parametrize("multi", [True, False])
def test_scaling_rule_passes_on_crafted_numbers(multi):
    summary = scaling.summarize(_scaling_metrics(multi=multi))
    assert summary.matches is True, summary.verdict
    assert "XLA:CPU runs collectives synchronously" in summary.verdict
    assert "whole 95% interval [0.950, 1.020] is <= 1.05" in summary.verdict
    assert summary.thresholds == {
        GOAL_KEY: 1.05,
        "sync's compiled update must depend on its all-reduce": True,
        "DC-S3GD's compiled update must not depend on its all-reduce": True,
    }
    assert ("2 processes x 4 devices: sync / DC-S3GD step (ms)" in summary.numbers) is multi


@pytest.mark.parametrize(
    "kwargs,says",
    [
        # DC-S3GD's step costs 8 % more, the whole interval above the goal.
        ({"ratio_8": 1.08, "ci_8": (1.06, 1.10)}, "[1.060, 1.100] is NOT <= 1.05 (above it)"),
        # The median is below the goal but the interval straddles it: inconclusive, no match.
        ({"ratio_8": 1.03, "ci_8": (0.99, 1.07)}, "inconclusive: its 95% interval [0.990, 1.070]"),
        # ... and also when the median is above the goal.
        ({"ratio_8": 1.06, "ci_8": (1.04, 1.09)}, "straddles 1.05"),
        # The upper end exactly at the goal passes (<=); just above does not.
        ({"ci_8": (0.99, 1.0501)}, "straddles 1.05"),
        # Too few repeats for an interval: inconclusive, even with a median well below the goal.
        ({"ratio_8": 0.90, "ci_8": None}, "inconclusive: no 95% interval"),
        ({"ratio_8": math.nan, "ci_8": (math.nan, math.nan)}, "inconclusive"),
        ({"dc_dep": True}, "DEPENDS on the step's all-reduce"),
        ({"sync_dep": False}, "sync's does NOT"),
    ],
)
def test_scaling_rule_fails_when_one_condition_breaks(kwargs, says):
    summary = scaling.summarize(_scaling_metrics(**kwargs))
    assert summary.matches is False
    assert says in summary.verdict, summary.verdict
    assert summary.thresholds


def test_scaling_rule_reads_the_goal_and_the_largest_device_count():
    metrics = _scaling_metrics(ratio_8=1.08, ci_8=(1.06, 1.10))
    assert scaling.summarize(dict(metrics, ratio_goal=1.10)).matches is True
    assert scaling.summarize(dict(metrics, ratio_goal=1.099)).matches is False
    assert scaling.summarize(_scaling_metrics(ci_8=(0.99, 1.05))).matches is True
    # Only the largest device count is judged: a slow 1-device ratio does not matter...
    metrics = _scaling_metrics()
    metrics["single_process"]["1"]["ratio_dc_over_sync"] = 1.5
    assert scaling.summarize(metrics).matches is True
    # ...but a failed multi-process run is reported in the numbers.
    metrics = dict(_scaling_metrics(multi=False), multi_process_error="boom\ndetails")
    summary = scaling.summarize(metrics)
    assert summary.numbers["multi-process run"] == "FAILED: boom"
