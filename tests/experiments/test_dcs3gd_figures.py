"""Tiny-size smoke tests of the DC-S3GD figures (8 simulated devices: each runs as a subprocess).

The claims are checked at quick scale (see the module docstrings); here: the modules run end to
end, write their outputs, resume after a crash, and their summaries work.
"""

import os
import subprocess
import sys

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
        steps = [h["step"] for h in run["history"]]
        assert steps == list(range(0, config["num_steps"] + 1, config["eval_every"])), key
        assert len(run["final_test_accuracy"]) == config["num_seeds"]
        assert all(0.0 <= a <= 1.0 for a in run["final_test_accuracy"])
        # sync resumed from its checkpoint after one chunk; the rest ran fresh.
        assert run["resumed_from_step"] == (config["eval_every"] if key.startswith("sync") else 0)
    sync = metrics["runs"][f"sync/lr{lrs[-1]:g}/tau0"]
    assert sync["mean_test_accuracy"] > 0.3  # learns (chance is 0.1) in 20 tiny steps
    summary = convergence.summarize(metrics)
    assert any(k.startswith("sync, lr") for k in summary.numbers)
    assert isinstance(summary.matches, bool) and summary.verdict


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
