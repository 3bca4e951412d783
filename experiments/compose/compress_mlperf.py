"""Compression x MLPerf: the L-C compressed classifier (structured pruning + int8) under LoadGen.

The digits ``mlp`` of :mod:`jaxml.bench` is compressed by the L-C algorithm with
``Compose([NeuronPrune(density), Quantize("int8")])``; :func:`jaxml.bench.int8_mlp` deletes the
pruned neurons (:func:`jaxml.compress.shrink_mlp`) and keeps the kernels int8, executed
dequantize-on-the-fly (``(h @ float32(q)) * scale + bias``; ``matmul="int8"`` gives the int8 x
int8 -> int32 matmul instead). The official LoadGen runs the dense and the compressed model in
Offline and SingleStream (PerformanceOnly) and in AccuracyOnly (Offline); the accuracy read back
from LoadGen's accuracy log must equal the model's accuracy outside LoadGen.

    python -m experiments.compose.compress_mlperf --scale quick
    python -m experiments.compose.compress_mlperf --scale full   # official 600 s per run

Writes ``metrics.json``, ``compress_mlperf.png``, ``compress_mlperf_table.md`` and LoadGen's
logs per run (``<model>/<scenario>/``) under the workdir. Development-length LoadGen runs at
quick scale (``min_duration_ms`` 600, not the official 600 000: no run is a submission).
"""

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

import numpy as np

from experiments.harness import Summary, experiment_main, judge, write_outputs
from experiments.harness.config import require_at_least
from experiments.harness.io import write_text_atomic
from experiments.harness.plotting import plt, save_figure
from jaxml.bench import (
    INT8_MATMULS,
    brief_summary,
    build_model,
    compress_classifier,
    run_benchmark,
    score_outside_loadgen,
)
from jaxml.data.digits import load_digits

PAPER = (
    "Condensa (Joseph et al. 2019; L-C: Carreira-Perpinan & Idelbayev 2018) x MLPerf Inference "
    "(Reddi et al. 2019): a compressed model served under the official LoadGen"
)
CLAIM = (
    "An L-C compressed MLP (75% of hidden neurons pruned, int8 weights run as int8) keeps its "
    "accuracy within 0.02 of the dense model in LoadGen's AccuracyOnly mode (equal to its "
    "accuracy outside LoadGen) and serves at least the dense model's Offline samples/s, every "
    "LoadGen performance run VALID; SingleStream p90 latency is reported beside."
)
EXCLUSIVE = True  # the verdict rests on wall-clock timings: reproduce runs this alone
SCENARIOS = ("Offline", "SingleStream")
THRESHOLDS = {
    "max accuracy drop, compressed vs dense (LoadGen AccuracyOnly)": 0.02,
    "min compressed / dense Offline samples/s (LoadGen)": 1.0,
    "LoadGen performance runs that must be VALID (2 models x Offline, SingleStream)": 4,
    "AccuracyOnly accuracy == accuracy outside LoadGen (rel. tol.)": 1e-5,
    "duplicate or missing sample completions allowed": 0,
}


@dataclasses.dataclass(frozen=True)
class Config:
    """Defaults are the quick scale."""

    scale: str = "quick"
    seed: int = 0
    train_steps: int = 300
    density: float = 0.25
    matmul: str = "dequantize"
    lc_steps: int = 600
    lc_l_steps: int = 25
    lc_learning_rate: float = 2e-3
    lc_mu_init: float = 1e-3
    lc_mu_growth: float = 1.5
    min_duration_ms: int = 600
    min_query_count: int = 0  # 0: LoadGen's mlperf.conf value (SingleStream: 1024 queries)
    buckets: tuple[int, ...] = (1, 512)

    SCALES: ClassVar[dict] = {
        "tiny": {"train_steps": 20, "lc_steps": 20, "lc_l_steps": 5, "min_duration_ms": 100,
                 "min_query_count": 64},
        "full": {"train_steps": 2000, "lc_steps": 3000, "lc_l_steps": 50, "lc_mu_growth": 1.2,
                 "min_duration_ms": 600_000},
    }  # fmt: skip

    def __post_init__(self):
        require_at_least(self, 1, "train_steps", "lc_steps", "lc_l_steps", "min_duration_ms")
        require_at_least(self, 0, "seed", "min_query_count")
        if not 0 < self.density <= 1:
            raise ValueError(f"density must lie in (0, 1]; got {self.density}")
        if self.matmul not in INT8_MATMULS:
            raise ValueError(f"matmul must be one of {INT8_MATMULS}; got {self.matmul!r}")
        if not self.lc_learning_rate > 0 or not self.lc_mu_init > 0 or self.lc_mu_growth < 1:
            raise ValueError("lc_learning_rate and lc_mu_init must be > 0, lc_mu_growth >= 1")
        if not self.buckets or min(self.buckets) < 1:
            raise ValueError(f"buckets must be positive batch sizes; got {self.buckets}")


def run(config: Config, workdir: Path) -> dict:
    workdir = Path(workdir)
    t0 = time.perf_counter()
    dense = build_model("mlp", workdir, train_steps=config.train_steps, seed=config.seed)
    train = load_digits(seed=config.seed, flatten=True).train
    small = compress_classifier(
        dense,
        train.x,
        train.y,
        density=config.density,
        matmul=config.matmul,
        num_steps=config.lc_steps,
        l_steps=config.lc_l_steps,
        learning_rate=config.lc_learning_rate,
        mu_init=config.lc_mu_init,
        mu_growth=config.lc_mu_growth,
        seed=config.seed,
    )
    common = {"min_duration_ms": config.min_duration_ms, "buckets": config.buckets}
    if config.min_query_count:
        common["overrides"] = {"min_query_count": config.min_query_count}
    models = {}
    for m in (dense, small):
        runs = {
            s: brief_summary(run_benchmark(m, s, "performance", workdir / m.name / s, **common))
            for s in SCENARIOS
        }
        acc = run_benchmark(m, "Offline", "accuracy", workdir / m.name / "accuracy", **common)
        models[m.name] = {
            "info": m.info,
            "weight_bytes": m.info.get("weight_bytes", small.info["dense_weight_bytes"]),
            "runs": runs,
            "accuracy": acc["accuracy"] | {"completion": acc["completion"]},
            "outside_loadgen": score_outside_loadgen(m),
        }
    metrics = {"dense": dense.name, "compressed": small.name, "matmul": config.matmul}
    metrics["models"] = models
    metrics["table"] = table(metrics)
    write_text_atomic(workdir / "compress_mlperf_table.md", metrics["table"])
    plot(metrics, workdir / "compress_mlperf.png")
    metrics["wall_seconds"] = time.perf_counter() - t0
    return write_outputs(workdir, config, metrics, figures=["compress_mlperf.png"])


def _row(m: dict) -> dict:
    off, ss, acc = m["runs"]["Offline"], m["runs"]["SingleStream"], m["accuracy"]
    return {
        "Offline samples/s": off["metric_value"],
        "Offline": "VALID" if off["result_valid"] else "INVALID",
        "SingleStream p90 (ms)": ss["latency_ns"]["90.00"] / 1e6,
        "SingleStream": "VALID" if ss["result_valid"] else "INVALID",
        "accuracy (LoadGen)": acc["loadgen"][acc["metric"]],
        "accuracy (outside)": m["outside_loadgen"][acc["metric"]],
        "weight bytes": m["weight_bytes"],
    }


def table(metrics: dict) -> str:
    """The markdown table: one row per model."""
    rows = {name: _row(m) for name, m in metrics["models"].items()}
    cols = list(next(iter(rows.values())))
    fmt = lambda x: f"{x:.4g}" if isinstance(x, float) else str(x)  # noqa: E731
    lines = ["| model | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {n} | " + " | ".join(fmt(r[c]) for c in cols) + " |" for n, r in rows.items()]
    return "\n".join(lines) + "\n"


def plot(metrics: dict, path: Path) -> None:
    names = list(metrics["models"])
    ms = [metrics["models"][n] for n in names]
    x = np.arange(len(names))
    labels = [f"{n}\n{m['info'].get('hidden', '')}" for n, m in zip(names, ms, strict=True)]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    ax.bar(x - 0.2, [m["runs"]["Offline"]["metric_value"] for m in ms], 0.4, label="LoadGen")
    ax.bar(x + 0.2, [m["runs"]["Offline"]["raw_samples_per_s"] for m in ms], 0.4, label="raw jit")
    for i, m in enumerate(ms):
        ok = m["runs"]["Offline"]["result_valid"]
        ax.annotate("VALID" if ok else "INVALID", (i - 0.2, 0), ha="center", va="bottom")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set(ylabel="samples/s", title="Offline throughput")
    ax.legend(fontsize=8)
    ax = axes[1]
    for j, p in enumerate(("50.00", "90.00", "99.00")):
        vals = [m["runs"]["SingleStream"]["latency_ns"][p] / 1e6 for m in ms]
        ax.bar(x + (j - 1) * 0.25, vals, 0.25, label=f"p{p[:2]}")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set(ylabel="latency (ms)", title="SingleStream latency (LoadGen)")
    ax.legend(fontsize=8)
    ax = axes[2]
    acc = [m["accuracy"]["loadgen"][m["accuracy"]["metric"]] for m in ms]
    out = [m["outside_loadgen"][m["accuracy"]["metric"]] for m in ms]
    ax.bar(x - 0.2, acc, 0.4, label="AccuracyOnly (LoadGen log)")
    ax.bar(x + 0.2, out, 0.4, label="outside LoadGen")
    bound = acc[0] - THRESHOLDS["max accuracy drop, compressed vs dense (LoadGen AccuracyOnly)"]
    ax.axhline(bound, color="k", ls=":", label="dense - 0.02")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set(ylim=(min(acc + out) - 0.05, 1.0), ylabel="test accuracy", title="Accuracy")
    ax.legend(fontsize=8, loc="lower left")
    fig.suptitle(
        f"{names[0]}: {ms[0]['weight_bytes']} B of weights; {names[1]}: {ms[1]['weight_bytes']} B "
        f"(int8 kernels executed {metrics['matmul']})",
        fontsize=10,
    )
    save_figure(fig, path)


def summarize(metrics: dict) -> Summary:
    dense, comp = metrics["models"][metrics["dense"]], metrics["models"][metrics["compressed"]]
    rd, rc = _row(dense), _row(comp)
    ratio = rc["Offline samples/s"] / rd["Offline samples/s"]
    drop = rd["accuracy (LoadGen)"] - rc["accuracy (LoadGen)"]
    numbers = {}
    for name, r in ((metrics["dense"], rd), (metrics["compressed"], rc)):
        for k, val in r.items():
            numbers[f"{name}: {k}"] = round(val, 6) if isinstance(val, float) else val
    numbers["compressed / dense Offline samples/s"] = round(ratio, 3)
    numbers["compressed / dense SingleStream p90"] = round(
        rc["SingleStream p90 (ms)"] / rd["SingleStream p90 (ms)"], 3
    )
    numbers["accuracy drop (dense - compressed)"] = round(drop, 4)
    th = list(THRESHOLDS.values())
    failures = []
    if not drop <= th[0]:
        failures.append(f"accuracy drop {drop:.4f} > {th[0]}")
    if not ratio >= th[1]:
        failures.append(f"compressed Offline samples/s {ratio:.3f}x dense < {th[1]}x")
    invalid = [
        f"{n} {s}: {', '.join(metrics['models'][n]['runs'][s]['invalid_reasons'])}"
        for n in (metrics["dense"], metrics["compressed"])
        for s in SCENARIOS
        if metrics["models"][n]["runs"][s]["result_valid"] is not True
    ]
    if invalid:
        failures.append("LoadGen judged INVALID: " + "; ".join(invalid))
    for n, m in ((metrics["dense"], dense), (metrics["compressed"], comp)):
        a = m["accuracy"]
        same = np.isclose(
            a["loadgen"][a["metric"]], m["outside_loadgen"][a["metric"]], rtol=th[3], atol=0
        )
        if not (a["equal"] and same):
            failures.append(f"{n}: AccuracyOnly accuracy differs from the accuracy outside")
        done = [r["completion"] for r in m["runs"].values()] + [a["completion"]]
        if any(c["duplicates"] or c["completed_unique"] != c["issued"] for c in done):
            failures.append(f"{n}: a sample was completed twice or never")
    matches, verdict = judge(
        failures,
        f"accuracy {rc['accuracy (LoadGen)']:.4f} vs dense {rd['accuracy (LoadGen)']:.4f}, "
        f"Offline {rc['Offline samples/s']:.0f} vs {rd['Offline samples/s']:.0f} samples/s "
        f"({ratio:.2f}x), SingleStream p90 {rc['SingleStream p90 (ms)']:.3f} vs "
        f"{rd['SingleStream p90 (ms)']:.3f} ms",
    )
    return Summary(numbers, matches, verdict, THRESHOLDS)


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
