"""Alvarez-Melis et al. (2020) at a larger scale: how the alignment cost grows with the hierarchy.

WordNet 3.0 vs 3.3 closures below roots of increasing size (full scale: primate.n.02, 106 nodes,
up to animal.n.01, 4,017 nodes) are embedded independently (the fast Poincare schedule, one seed
per version) and aligned by Euclidean Wasserstein-Procrustes, Gromov-Wasserstein, isometric
hyperbolic OT and deep hyperbolic OT (``compare_methods``). Reported per size and method: seconds
per alignment (the last of ``repeats`` = 2 identical runs, i.e. compiled; tiny runs once), P@1 /
P@10 against the lemma ground truth, the dense working set of the
method (fp32 bytes of the ``n x m`` cost and plan, the ``n x m x d`` difference tensor of the
Poincare distance and, for GW, the two ``n x n`` distance matrices; deep HOT holds one set per
restart) and the process' peak RSS after each size. The log-log slope of seconds vs ``n`` gives
the growth, and the dense limit is the ``n`` at which deep HOT's working set would exceed the
host's RAM. Low-rank Sinkhorn (ott's ``LRSinkhorn`` on ``PointCloud.to_LRCGeometry``) avoids the
dense matrices but was not used: measured on 4,000 points against an exact copy it took 108 s
with P@1 0.012 (docs/hyperbolic.md), so up to the sizes here the dense solvers are the better
choice (ott 0.6's online ``batch_size`` mode fails under jax 0.10).

Verdict rule (``summarize``; thresholds in ``Summary.thresholds``): every method completes with
a finite plan at every size, at least MIN_SIZES sizes ran and they span at least MIN_SPAN x in
``n`` (a slope fitted over less than a decade, or from sizes whose times sit at the timer's noise,
is no evidence of growth), and each method's log-log slope of seconds vs ``n`` is <= MAX_SLOPE (no
worse than cubic growth). Quick: monkey.n.01 (39 nodes), primate.n.02 (106) and insect.n.01
(455), an 11.7x span.

    python -m experiments.hyperbolic.large_hierarchy --scale quick
    python -m experiments.hyperbolic.large_hierarchy --scale full   # up to animal.n.01
"""

import dataclasses
import os
import resource
import time
from pathlib import Path
from typing import ClassVar

import numpy as np

from experiments.harness import (
    Summary,
    cache_key,
    cached_record,
    experiment_main,
    judge,
    write_outputs,
)
from experiments.harness.plotting import plt, save_figure
from experiments.hyperbolic._settings import TINY_ALIGNMENT, compare_kwargs
from jaxml.hyperbolic import (
    COLUMN_LABELS,
    compare_methods,
    match_by_lemmas,
    permute_hierarchy,
    train_poincare_embeddings,
    wordnet_hierarchy,
)
from jaxml.train import seed_keys

PAPER = "Alvarez-Melis, Mroueh & Jaakkola 2020 (AISTATS), scaling to a larger WordNet hierarchy"
MIN_SIZES = 3
MIN_SPAN = 10.0
MAX_SLOPE = 3.0
CLAIM = (
    "Hyperbolic OT alignment scales to a several-thousand-node WordNet hierarchy: every method "
    "completes with a finite plan at every size and its time per alignment grows no faster than "
    "n^3 (log-log slope <= 3 over >= 3 sizes spanning >= 10x in n)."
)
METHODS = ("euclidean_procrustes", "gromov_wasserstein", "hyperbolic_ot", "deep_hot")


@dataclasses.dataclass(frozen=True)
class Config:
    """Alignment cost vs hierarchy size. Defaults: quick scale."""

    scale: str = "quick"
    seed: int = 0
    roots: tuple[str, ...] = ("monkey.n.01", "primate.n.02", "insect.n.01")
    dim: int = 5
    num_epochs: int = 100
    repeats: int = 2
    num_restarts: int = 4
    num_iters: int = 10
    restart_subsample: int = 300
    gw_iterations: int = 10
    deep_restarts: int = 2
    deep_outer: int = 3
    deep_inner: int = 10
    deep_hidden: int = 16
    deep_fit_steps: int = 100

    SCALES: ClassVar[dict] = {
        "full": {
            "roots": (
                "primate.n.02",
                "carnivore.n.01",
                "mammal.n.01",
                "vertebrate.n.01",
                "animal.n.01",
            ),
            "num_epochs": 200,
            "num_restarts": 8,
            "num_iters": 20,
            "gw_iterations": 20,
            "deep_restarts": 8,
            "deep_outer": 5,
            "deep_inner": 20,
            "deep_hidden": 32,
        },
        # monkey.n.01 (39 nodes), d = 3 and the settings of wordnet_matching's tiny scale and of
        # tests/hyperbolic: the smoke test reuses their compiled programs.
        "tiny": {
            **TINY_ALIGNMENT,
            "roots": ("monkey.n.01",),
            "repeats": 1,
            "num_epochs": 10,
        },
    }

    def __post_init__(self):
        if not self.roots:
            raise ValueError("roots must be non-empty")
        if self.repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {self.repeats}")
        if self.deep_hidden < self.dim:
            raise ValueError(f"deep_hidden must be >= dim = {self.dim}, got {self.deep_hidden}")


def dense_bytes(n: int, m: int, d: int, restarts: int) -> dict[str, int]:
    """fp32 bytes of each method's dense working set (see the module docstring)."""
    pair = 4 * n * m * (d + 2)  # difference tensor, cost, plan
    return {
        "euclidean_procrustes": pair,
        "hyperbolic_ot": pair,
        "gromov_wasserstein": pair + 4 * (n * n + m * m) * (d + 1),
        "deep_hot": restarts * pair,
    }


def _embed(h, config, seed):
    kw = dict(batch_size=32, learning_rate=10.0, num_negatives=20, lr_decay="linear")
    return np.asarray(
        train_poincare_embeddings(
            h.edges,
            h.num_nodes,
            config.dim,
            seed_keys([seed]),
            num_epochs=config.num_epochs,
            burn_in_epochs=min(10, config.num_epochs - 1),
            **kw,
        )
    )[0]


def _row(config, root: str) -> dict:
    """One subtree: both embeddings, every column's score and time, its memory (a JSON record)."""
    source = wordnet_hierarchy(root, version="3.0")
    target, _ = permute_hierarchy(wordnet_hierarchy(root, version="3.3"), config.seed + 1)
    truth = match_by_lemmas(source.lemmas, target.lemmas)
    x = _embed(source, config, 2 * config.seed)
    y = _embed(target, config, 2 * config.seed + 1)
    fields = ("num_restarts", "num_iters", "restart_subsample", "gw_iterations")
    kwargs = compare_kwargs(config, fields)
    for _ in range(config.repeats):  # the last run is timed compiled
        res = compare_methods(x, y, truth, config.seed, columns=METHODS, **kwargs)
    n, m = source.num_nodes, target.num_nodes
    row = {
        "root": root,
        "num_nodes": n,
        "num_target_nodes": m,
        "relations": int(len(source.edges)),
        "results": res,
        "dense_bytes": dense_bytes(n, m, config.dim, config.deep_restarts),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    return row


def run(config: Config, workdir: Path) -> dict:
    workdir = Path(workdir)
    t0 = time.perf_counter()
    rows = []
    for root in config.roots:
        key = cache_key(config=dataclasses.asdict(config), root=root)
        rows.append(cached_record(workdir, f"root_{root}", key, lambda r=root: _row(config, r)))
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    per_n2 = dense_bytes(1, 1, config.dim, config.deep_restarts)["deep_hot"]
    metrics = {
        "rows": rows,
        "slopes": _slopes(rows),
        "host_ram_bytes": int(ram),
        "dense_limit_n": int(np.sqrt(ram / per_n2)),
        "wall_seconds": time.perf_counter() - t0,
    }
    figures = ["cost_vs_n.png"]
    _plot(config, metrics, workdir / figures[0])
    return write_outputs(workdir, config, metrics, figures=figures)


def _slopes(rows):
    """Per method, the least-squares slope of log(seconds) vs log(n) (NaN with < 2 sizes)."""
    out = {}
    for method in METHODS:
        n = np.asarray([r["num_nodes"] for r in rows], np.float64)
        s = np.asarray([r["results"][method]["seconds"] for r in rows], np.float64)
        ok = np.isfinite(s) & (s > 0)
        out[method] = (
            float(np.polyfit(np.log(n[ok]), np.log(s[ok]), 1)[0]) if ok.sum() >= 2 else np.nan
        )
    return out


def _plot(config, metrics, path):
    rows = metrics["rows"]
    n = [r["num_nodes"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for k, method in enumerate(METHODS):
        sec = [r["results"][method]["seconds"] for r in rows]
        slope = metrics["slopes"][method]
        axes[0].loglog(
            n, sec, "o-", color=f"C{k}", label=f"{COLUMN_LABELS[method]} (slope {slope:.2f})"
        )
        mem = [r["dense_bytes"][method] / 2**20 for r in rows]
        axes[1].loglog(n, mem, "o-", color=f"C{k}", label=COLUMN_LABELS[method])
        p1 = [r["results"][method]["p_at_1"] for r in rows]
        axes[2].semilogx(n, p1, "o-", color=f"C{k}", label=COLUMN_LABELS[method])
    axes[1].loglog(n, [r["peak_rss_mb"] for r in rows], "k:", label="process peak RSS")
    compiled = "compiled" if config.repeats > 1 else "incl. compilation"
    axes[0].set(xlabel="nodes n", ylabel=f"seconds per alignment ({compiled})")
    axes[1].set(xlabel="nodes n", ylabel="dense working set (MiB, fp32)")
    axes[1].set_title(f"dense limit (deep HOT) n ~ {metrics['dense_limit_n']}", fontsize=9)
    axes[2].set(xlabel="nodes n", ylabel="P@1 (WordNet 3.0 vs 3.3)")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.suptitle(f"WordNet closures {', '.join(config.roots)}; d = {config.dim}, 1 seed")
    save_figure(fig, path)


def summarize(metrics: dict) -> Summary:
    """Applies the rule of the module docstring."""
    rows, slopes = metrics["rows"], metrics["slopes"]
    numbers = {"sizes": [r["num_nodes"] for r in rows]}
    failures = []
    for r in rows:
        for method in METHODS:
            res = r["results"][method]
            where = f"{r['root']} (n={r['num_nodes']}) {method}"
            numbers[f"{where}: seconds, P@1, P@10, dense MiB"] = (
                f"{res['seconds']:.1f}, {res['p_at_1']:.3f}, {res['p_at_10']:.3f}, "
                f"{r['dense_bytes'][method] / 2**20:.0f}"
            )
            if res.get("diverged") or not np.isfinite(res["p_at_1"]):
                failures.append(f"{where} did not complete with a finite plan")
        numbers[f"{r['root']}: process peak RSS MiB"] = f"{r['peak_rss_mb']:.0f}"
    for method, slope in slopes.items():
        numbers[f"{method}: log-log slope of seconds vs n"] = f"{slope:.2f}"
        if not slope <= MAX_SLOPE:
            failures.append(f"{method}: slope {slope:.2f} > {MAX_SLOPE} (or too few sizes)")
    if len(rows) < MIN_SIZES:
        failures.append(f"only {len(rows)} size(s) (need {MIN_SIZES})")
    sizes = [r["num_nodes"] for r in rows]
    if rows and not max(sizes) >= MIN_SPAN * min(sizes):
        failures.append(
            f"sizes span {max(sizes) / min(sizes):.1f}x in n (need {MIN_SPAN:g}x for a slope)"
        )
    numbers["dense limit n (deep HOT working set = host RAM)"] = metrics["dense_limit_n"]
    thresholds = {
        "min sizes": MIN_SIZES,
        "min span of n (max / min)": MIN_SPAN,
        "max log-log slope": MAX_SLOPE,
        "all finite": True,
    }
    detail = f"largest n = {max(numbers['sizes'])}, slopes " + ", ".join(
        f"{m} {s:.2f}" for m, s in slopes.items()
    )
    ok, verdict = judge(failures, detail)
    return Summary(numbers, ok, verdict, thresholds)


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
