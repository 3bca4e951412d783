"""scripts/gpu_bench.sh at --scale tiny on CPU (so it cannot rot) and the report it writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jaxml.perf.report import collect, markdown

ROOT = Path(__file__).resolve().parents[2]


def test_report_gathers_rooflines_ratios_and_failures(tmp_path):
    roof = {"seconds": 0.01, "flop_fraction": 0.5, "bandwidth_fraction": 0.1, "bound": "compute"}
    roof["fraction_of_roofline"] = 0.5
    data = {
        "device": {"backend": "cpu"},
        "rows": [{"plain": {"roofline": roof}, "time_ratio": 2.5}],
    }
    (tmp_path / "a.json").write_text(json.dumps(data))
    (tmp_path / "runs.tsv").write_text("a\t0\t3\nb\t1\t7\n")
    s = collect(tmp_path)
    assert s["benchmarks"]["a"]["rooflines"][0]["where"] == "rows[0].plain.roofline"
    assert s["benchmarks"]["a"]["ratios"] == [{"where": "rows[0].time_ratio", "value": 2.5}]
    assert s["benchmarks"]["b"]["exit_code"] == 1 and "missing" in s["benchmarks"]["b"]
    md = markdown(s)
    assert "| a | 0 | 3 | 1 | 1 |" in md and "| rows[0].plain.roofline | 10.00 | 50.0 |" in md
    with pytest.raises(FileNotFoundError, match="directory"):
        collect(tmp_path / "nope")


def test_gpu_bench_script_runs_at_tiny_scale_on_cpu(tmp_path):
    # One benchmark keeps this under ~15 s on an idle 2-core machine; BENCHMARKS is the script's
    # own switch, and the full list runs the same loop.
    env = dict(os.environ, BENCHMARKS="dcs3gd_step", PYTHON=sys.executable, JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        ["bash", "scripts/gpu_bench.sh", "--scale", "tiny", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    summary = json.loads((tmp_path / "gpu_bench.json").read_text())
    bench = summary["benchmarks"]["dcs3gd_step"]
    assert bench["exit_code"] == 0 and {r["where"].split(".")[-2] for r in bench["rooflines"]} == {
        "sync",
        "dc",
    }
    assert "## dcs3gd_step" in (tmp_path / "gpu_bench.md").read_text()
