"""GP search trace: the lowest density within an accuracy bound in at most 10 L-C runs
(Condensa, Joseph et al. 2019, Sec. 4 and Fig. 6).

The digits MLP is trained dense; :func:`jaxml.compress.search_density` then chooses densities for
L-C pruning runs (one compiled program: the density is a traced argument) with a Gaussian process
over log-density and a level-set acquisition, and returns the lowest sampled density whose
validation accuracy stays within ``bound`` of the dense model's. The answer is checked on the
test set, and against a brute-force sweep over a fixed density grid (not counted in the budget).

    python -m experiments.compress.gp_search --scale quick
    python -m experiments.compress.gp_search --scale full

Writes ``metrics.json``, ``config.json`` and ``gp_search.png`` under the workdir.
"""

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

import numpy as np

from experiments.compress._common import FULL, TINY, CompressionConfig, make_runner, train_dense
from experiments.harness import Summary, experiment_main, judge, write_outputs
from experiments.harness.config import require_at_least
from experiments.harness.plotting import plt, save_figure
from jaxml.compress import Prune, search_density

PAPER = "Condensa (Joseph et al. 2019), Sec. 4 / Fig. 6: sample-efficient constrained search"
CLAIM = (
    "A Gaussian-process model of accuracy vs density with a constrained level-set acquisition "
    "finds the lowest density whose accuracy stays within a bound of the dense model in at most "
    "10 L-C runs."
)
THRESHOLDS = {
    "max L-C runs": 10,
    "answer within bound on validation": True,
    "max log10 gap to the highest infeasible sample below": 0.15,
    "max log10 gap to the brute-force grid answer": 0.15,
}


@dataclasses.dataclass(frozen=True)
class Config(CompressionConfig):
    """Defaults are the quick scale."""

    lo: float = 0.005
    hi: float = 1.0
    max_evals: int = 10
    xtol: float = 0.02
    check_grid: tuple[float, ...] = (0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2)

    SCALES: ClassVar[dict] = {
        "full": FULL,  # (its "features" are unused: this figure prunes the MLP only)
        "tiny": {**TINY, "max_evals": 3, "check_grid": (0.5,)},
    }

    def __post_init__(self):
        super().__post_init__()
        require_at_least(self, 2, "max_evals")
        if not 0 < self.lo < self.hi <= 1:
            raise ValueError(f"need 0 < lo < hi <= 1; got lo={self.lo}, hi={self.hi}")


def run(config: Config, workdir: Path) -> dict:
    workdir = Path(workdir)
    t0 = time.perf_counter()
    trained = train_dense(config, "mlp")
    dense_val = trained.eval_val(trained.params)
    dense_test = trained.eval_test(trained.params)
    runner = make_runner(config, trained, Prune, "lc")
    target = dense_val - config.bound
    result = search_density(
        lambda d: trained.eval_val(runner(d)[2]),
        target=target,
        lo=config.lo,
        hi=config.hi,
        max_evals=config.max_evals,
        xtol=config.xtol,
    )
    answer_test = (
        trained.eval_test(runner(result.density)[2]) if np.isfinite(result.density) else None
    )
    grid_val = [trained.eval_val(runner(d)[2]) for d in config.check_grid]
    ok = [d for d, a in zip(config.check_grid, grid_val, strict=True) if a >= target]
    metrics = {
        "dense_val_accuracy": dense_val,
        "dense_test_accuracy": dense_test,
        "target": target,
        "bound": config.bound,
        "densities": result.densities.tolist(),
        "accuracies": result.accuracies.tolist(),
        "answer": result.density,
        "answer_test_accuracy": answer_test,
        "grid": result.grid.tolist(),
        "gp_mean": result.mean.tolist(),
        "gp_std": result.std.tolist(),
        "check_grid": list(config.check_grid),
        "check_grid_val_accuracy": grid_val,
        "grid_answer": min(ok) if ok else None,
        "max_evals": config.max_evals,
        "wall_seconds": time.perf_counter() - t0,
    }
    plot(metrics, workdir / "gp_search.png")
    return write_outputs(workdir, config, metrics, figures=["gp_search.png"])


def plot(m: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    g, mu, sd = np.asarray(m["grid"]), np.asarray(m["gp_mean"]), np.asarray(m["gp_std"])
    ax.plot(g, mu, color="C0", label="GP posterior mean")
    ax.fill_between(g, mu - 2 * sd, mu + 2 * sd, color="C0", alpha=0.2, label="+-2 sd")
    ax.plot(
        m["check_grid"],
        m["check_grid_val_accuracy"],
        "x",
        color="gray",
        label="brute-force grid (not in budget)",
    )
    for i, (d, a) in enumerate(zip(m["densities"], m["accuracies"], strict=True)):
        ax.plot(d, a, "o", color="C1")
        ax.annotate(str(i + 1), (d, a), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.axhline(m["target"], color="C3", ls="--", label=f"bound: dense - {m['bound']}")
    if m["answer"] is not None and np.isfinite(m["answer"]):
        ax.axvline(m["answer"], color="C2", label=f"answer {m['answer']:.4f}")
    ax.set(
        xscale="log",
        xlabel="density",
        ylabel="validation accuracy (L-C)",
        ylim=(max(0.0, m["target"] - 0.3), 1.0),
        title=f"digits MLP: GP search, {len(m['densities'])} L-C runs (numbered)",
    )
    ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, path)


def summarize(metrics: dict) -> Summary:
    ds, accs = np.asarray(metrics["densities"]), np.asarray(metrics["accuracies"])
    target, answer = metrics["target"], metrics["answer"]
    failures = []
    if len(ds) > THRESHOLDS["max L-C runs"]:
        failures.append(f"{len(ds)} L-C runs > 10")
    feasible = answer is not None and np.isfinite(answer)
    gap = grid_gap = float("inf")
    if not feasible:
        failures.append("no sampled density is within the bound")
    else:
        below = ds[(ds < answer) & (accs < target)]
        gap = float(np.log10(answer) - np.log10(below.max())) if below.size else float("inf")
        if gap > THRESHOLDS["max log10 gap to the highest infeasible sample below"]:
            failures.append(f"answer not bracketed tightly (log10 gap {gap:.3f} > 0.15)")
        ga = metrics["grid_answer"]
        if ga is not None:
            grid_gap = float(np.log10(answer) - np.log10(ga))
            if grid_gap > THRESHOLDS["max log10 gap to the brute-force grid answer"]:
                failures.append(f"answer {answer:.4f} above the grid's {ga} by {grid_gap:.3f} dex")
        else:
            grid_gap = 0.0
    numbers = {
        "L-C runs": len(ds),
        "answer density": round(answer, 4) if feasible else None,
        "answer val accuracy": round(float(accs[ds == answer][0]), 4) if feasible else None,
        "answer test accuracy": metrics["answer_test_accuracy"],
        "dense val / test accuracy": (
            round(metrics["dense_val_accuracy"], 4),
            round(metrics["dense_test_accuracy"], 4),
        ),
        "brute-force grid answer": metrics["grid_answer"],
        "log10 bracket gap": round(gap, 4),
    }
    ok, verdict = judge(
        failures,
        f"answer {numbers['answer density']} in {len(ds)} runs, "
        f"target val accuracy {target:.4f}, grid answer {metrics['grid_answer']}",
    )
    return Summary(numbers, ok, verdict, THRESHOLDS)


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
