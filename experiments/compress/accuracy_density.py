"""Accuracy against density: direct compression vs L-C (Condensa, Joseph et al. 2019, Sec. 5).

Global magnitude pruning (:class:`jaxml.compress.Prune`) of an MLP and the SmallCNN trained on
8x8 digits, at several densities; each pruned model recovers its accuracy with the same training
budget either directly (fine-tune with the masks held) or with the L-C algorithm.

    python -m experiments.compress.accuracy_density --scale quick
    python -m experiments.compress.accuracy_density --scale full

Writes ``metrics.json``, ``config.json`` and ``accuracy_density.png`` under the workdir.
"""

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

from tqdm.auto import tqdm

from experiments.compress._common import (
    FULL,
    TINY,
    CompressionConfig,
    cached,
    make_runner,
    train_dense,
)
from experiments.harness import Summary, experiment_main, judge, write_outputs
from experiments.harness.plotting import plt, save_figure
from jaxml.compress import Prune, density

PAPER = "Condensa (Joseph et al. 2019), Fig. 4-5: accuracy vs compression, L-C vs direct"
CLAIM = (
    "Recovering accuracy with the L-C algorithm keeps a pruned model within a small bound of "
    "the dense model's accuracy at lower density than direct compression (prune, then fine-tune "
    "with the masks held) given the same training budget."
)
THRESHOLDS = {"accuracy bound (drop from dense)": 0.02, "min dense test accuracy": 0.9}


@dataclasses.dataclass(frozen=True)
class Config(CompressionConfig):
    """Defaults are the quick scale."""

    models: tuple[str, ...] = ("mlp", "cnn")
    densities: tuple[float, ...] = (0.03, 0.05, 0.08, 0.12)

    SCALES: ClassVar[dict] = {
        "full": {**FULL, "densities": (0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2)},
        "tiny": {**TINY, "models": ("mlp",), "features": (4, 8), "densities": (0.2, 0.5)},
    }

    def __post_init__(self):
        super().__post_init__()
        if not self.models or any(m not in ("mlp", "cnn") for m in self.models):
            raise ValueError(f"models must name 'mlp' and/or 'cnn'; got {self.models}")
        if not self.densities or any(not 0 < d <= 1 for d in self.densities):
            raise ValueError(f"densities must lie in (0, 1]; got {self.densities}")


def run(config: Config, workdir: Path) -> dict:
    workdir = Path(workdir)
    t0 = time.perf_counter()
    per_model = {}
    for name in config.models:
        trained = train_dense(config, name)
        dense_acc = trained.eval_test(trained.params)
        rows = []
        runners = {m: make_runner(config, trained, Prune, m) for m in ("direct", "lc")}
        jobs = [(d, m) for d in config.densities for m in ("direct", "lc")]
        for d, method in tqdm(jobs, desc=f"{name}: density x method"):

            def compute(d=d, method=method, trained=trained, runner=runners[method]):
                _, aux, p = runner(d)
                return {
                    "density": d,
                    "method": method,
                    "kept_fraction": float(density(p, aux)),
                    "test_accuracy": trained.eval_test(p),
                }

            rows.append(cached(workdir, config, f"{name}_{method}_{d}", compute))
        per_model[name] = {"dense_test_accuracy": dense_acc, "runs": rows}
    plot(config, per_model, workdir / "accuracy_density.png")
    metrics = {
        "models": per_model,
        "bound": config.bound,
        "wall_seconds": time.perf_counter() - t0,
    }
    return write_outputs(workdir, config, metrics, figures=["accuracy_density.png"])


def lowest_within(runs: list[dict], method: str, dense: float, bound: float) -> float:
    """The lowest density whose ``method`` run stays within ``bound`` of ``dense`` (inf: none)."""
    ok = [
        r["density"] for r in runs if r["method"] == method and r["test_accuracy"] >= dense - bound
    ]
    return min(ok) if ok else float("inf")


def plot(config: Config, per_model: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, len(per_model), figsize=(5 * len(per_model), 3.8), squeeze=False)
    for ax, (name, m) in zip(axes[0], per_model.items(), strict=True):
        for method, style in (("direct", "s--"), ("lc", "o-")):
            rs = sorted((r for r in m["runs"] if r["method"] == method), key=lambda r: r["density"])
            ax.plot(
                [r["density"] for r in rs],
                [r["test_accuracy"] for r in rs],
                style,
                label="L-C" if method == "lc" else "direct (fine-tune, masks held)",
            )
        dense = m["dense_test_accuracy"]
        ax.axhline(dense, color="k", lw=0.8, label=f"dense {dense:.3f}")
        ax.axhline(dense - config.bound, color="gray", ls=":", label=f"bound (-{config.bound})")
        ax.set(
            xscale="log",
            xlabel="density (fraction of weights kept)",
            ylabel="test accuracy",
            title=f"digits {name}: global magnitude pruning",
        )
        ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, path)


def summarize(metrics: dict) -> Summary:
    bound = metrics["bound"]
    numbers, failures, strictly = {}, [], []
    for name, m in metrics["models"].items():
        dense = m["dense_test_accuracy"]
        d_lc = lowest_within(m["runs"], "lc", dense, bound)
        d_dir = lowest_within(m["runs"], "direct", dense, bound)
        numbers[f"{name} dense test accuracy"] = round(dense, 4)
        numbers[f"{name} lowest density within bound, L-C"] = d_lc
        numbers[f"{name} lowest density within bound, direct"] = d_dir
        low = min(r["density"] for r in m["runs"])
        for method in ("lc", "direct"):
            acc = [r for r in m["runs"] if r["method"] == method and r["density"] == low]
            numbers[f"{name} accuracy at density {low}, {method}"] = round(
                acc[0]["test_accuracy"], 4
            )
        if dense < THRESHOLDS["min dense test accuracy"]:
            failures.append(f"{name} dense accuracy {dense:.3f} < 0.9")
        if d_lc > d_dir:
            failures.append(f"{name}: L-C needs density {d_lc} > direct {d_dir}")
        strictly.append(d_lc < d_dir)
    if not any(strictly):
        failures.append("L-C reaches a strictly lower density than direct for no model")
    detail = "; ".join(f"{k}={v}" for k, v in numbers.items() if "lowest density" in k)
    ok, verdict = judge(failures, detail)
    return Summary(
        numbers,
        ok,
        verdict,
        {**THRESHOLDS, "rule": "L-C density <= direct for every model, < for at least one"},
    )


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
