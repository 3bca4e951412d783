"""The baseline experiment end to end: CLI, kill-and-resume, reproduce driver and report."""

import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from experiments.baselines import train_classifier as tc
from experiments.harness import Checkpointer, make_config, read_json

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(args, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=300
    )


def _final_params(workdir):
    with Checkpointer(workdir / "ckpt" / "mlp") as ckpt:
        step, state, record = ckpt.restore()
    return step, state, record


def test_killed_run_resumes_to_bit_identical_result(tmp_path):
    base = [
        "-m",
        "experiments.baselines.train_classifier",
        "--scale",
        "tiny",
        "--models",
        "mlp",
        "--num_steps",
        "40",
        "--checkpoint_every",
        "10",
        "--eval_every",
        "10",
    ]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    proc = _run(base + ["--workdir", str(straight)])
    assert proc.returncode == 0, proc.stderr[-3000:]

    # Killed abruptly after step 25: checkpoints at 10 and 20 exist, no metrics.json yet.
    proc = _run(base + ["--workdir", str(killed)], {"JAXML_CRASH_AT_STEP": "25"})
    assert proc.returncode == 17, proc.stderr[-3000:]
    assert not (killed / "metrics.json").exists()
    with Checkpointer(killed / "ckpt" / "mlp") as ckpt:
        assert ckpt.latest_step() == 20

    proc = _run(base + ["--workdir", str(killed)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    m_straight, m_killed = read_json(straight / "metrics.json"), read_json(killed / "metrics.json")
    assert m_straight["models"]["mlp"]["resumed_from_step"] == 0
    assert m_killed["models"]["mlp"]["resumed_from_step"] == 20
    # CLI overrides reached the run: only the MLP was trained, for 40 steps.
    assert list(m_killed["models"]) == ["mlp"]
    assert read_json(killed / "config.json")["num_steps"] == 40

    s1, p1, r1 = _final_params(straight)
    s2, p2, r2 = _final_params(killed)
    assert s1 == s2 == 40
    leaves1, leaves2 = jax.tree.leaves(p1), jax.tree.leaves(p2)
    assert len(leaves1) == len(leaves2) > 0
    for a, b in zip(leaves1, leaves2, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # bit-identical on CPU
    assert r1 == r2
    assert (
        m_straight["models"]["mlp"]["test_accuracy"] == m_killed["models"]["mlp"]["test_accuracy"]
    )


def test_reproduce_driver_writes_report_with_baseline(tmp_path):
    proc = _run(
        [
            "-m",
            "experiments.reproduce",
            "--only",
            "baselines",
            "--scale",
            "tiny",
            "--results",
            str(tmp_path),
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = (tmp_path / "REPORT.md").read_text()
    assert "## baselines/train_classifier" in report
    assert tc.CLAIM in report
    # A tiny run is a smoke test: the report must not print a verdict against the paper claim.
    assert "smoke run, no verdict" in report
    assert "Conclusion matches" not in report
    assert "**Thresholds used.** min test accuracy of every model = 0.95" in report
    image = "baselines/train_classifier/train_curves.png"
    assert f"![baselines/train_classifier train_curves.png]({image})" in report
    png = tmp_path / "baselines" / "train_classifier" / "train_curves.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    metrics = read_json(tmp_path / "baselines" / "train_classifier" / "metrics.json")
    for name in ("mlp", "cnn"):
        m = metrics["models"][name]
        assert m["test_accuracy"] > 0.3  # well above chance (0.1) after 40 tiny steps
        assert m["steps_per_s"] > 0 and m["step_memory"]["peak_estimate_bytes"] > 0
        assert m["history"][0]["step"] == 0 and m["history"][-1]["step"] == 40
        assert m["history"][-1]["train_loss"] < m["history"][0]["train_loss"]
    summary = tc.summarize(metrics)
    assert "mlp test accuracy" in summary.numbers


def _baseline_metrics(mlp_acc, cnn_acc, target=0.95):
    def model(acc):
        return {"test_accuracy": acc, "steps_per_s": 100.0, "num_params": 10, "step_memory": {}}

    return {
        "models": {"mlp": model(mlp_acc), "cnn": model(cnn_acc)},
        "max_rss_mb": 500.0,
        "target_accuracy": target,
    }


@pytest.mark.parametrize(
    "mlp_acc, cnn_acc, expected",
    [(0.97, 0.98, True), (0.95, 0.96, True), (0.94, 0.98, False), (0.97, 0.90, False)],
)
def test_summarize_on_crafted_metrics(mlp_acc, cnn_acc, expected):
    summary = tc.summarize(_baseline_metrics(mlp_acc, cnn_acc))
    assert summary.matches is expected
    assert summary.thresholds == {"min test accuracy of every model": 0.95}


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("dataset", "cifar", "dataset must be one of"),
        ("optimizer", "lbfgs", "optimizer must be one of"),
        ("num_steps", 0, "num_steps must be >= 1"),
        ("learning_rate", -1.0, "learning_rate must be > 0"),
    ],
)
def test_config_rejects_bad_values(field, value, match):
    with pytest.raises(ValueError, match=match):
        make_config(tc.Config, "quick", **{field: value})
