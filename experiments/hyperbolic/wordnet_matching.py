"""Alvarez-Melis et al. (2020), WordNet alignment: match WordNet 3.0 to WordNet 3.3, unsupervised.

The mammal closure of WordNet 3.0 and of 3.3 (relabelled at random, with 0/10/30% of its relations
removed) are embedded in the Poincare ball independently; the six ``jaxml.hyperbolic.COLUMNS``
(``compare_methods``) match them without correspondences: Euclidean Wasserstein-Procrustes,
Gromov-Wasserstein, isometric hyperbolic OT, the oracle isometry (fitted WITH the true pairs),
deep hyperbolic OT (``registration="mlp"``) and GW-then-HOT. Ground truth: identical lemma names.
P@1/P@10 ranked by the plan's log, over ``seeds``, with seconds per alignment and the
structure-only bound (``hierarchy_orbit_sizes``: mean 1/orbit over the ground-truth nodes).
Quick: 3 seeds, 0% and 30% removed, 4 isometric and 1 deep restart. ``--scale full``: 10% too,
5 seeds, 8 deep restarts, and one compiled 8-restart deep-HOT alignment timed (the 60 s target).

Verdict rule (``summarize``; thresholds in ``Summary.thresholds``): >= 3 seeds, no diverged deep
registration, and at EVERY removal fraction deep HOT's mean P@1 and P@10 >= MIN_MARGIN above both
isometric HOT's and Euclidean Procrustes' means, its P@1 above both on every seed, and
GW-then-HOT's mean P@1 >= GW's + MIN_MARGIN.

    python -m experiments.hyperbolic.wordnet_matching --scale quick
"""

import dataclasses
import os
import time
from pathlib import Path
from typing import ClassVar

import jax
import numpy as np

from experiments.harness import (
    Summary,
    cache_key,
    cached_record,
    experiment_main,
    format_stats,
    judge,
    load_cached,
    save_cached,
    seed_stats,
    write_outputs,
)
from experiments.harness.plotting import plt, save_figure
from experiments.hyperbolic._settings import TINY_ALIGNMENT, compare_kwargs
from jaxml.hyperbolic import (
    COLUMN_LABELS,
    COLUMNS,
    align,
    compare_methods,
    hierarchy_orbit_sizes,
    match_by_lemmas,
    permute_hierarchy,
    reconstruction_metrics,
    remove_edges,
    time_align,
    train_poincare_embeddings,
    wordnet_hierarchy,
)
from jaxml.train import seed_keys

PAPER = "Alvarez-Melis, Mroueh & Jaakkola 2020 (AISTATS), WordNet hierarchy alignment"
# The verdict rule's thresholds (see the module docstring).
MIN_SEEDS = 3
MIN_MARGIN = 0.02
CLAIM = (
    "A deep registration trained end to end with hyperbolic OT matches two independently "
    "embedded versions of a WordNet hierarchy better than isometric hyperbolic OT and Euclidean "
    "Wasserstein-Procrustes, and GW-then-HOT improves on GW. Rule: >= 3 seeds, no diverged "
    "registration; at every removal fraction deep HOT's mean P@1 and P@10 >= 0.02 above both "
    "baselines' means and its P@1 above both on every seed; GW-then-HOT mean P@1 >= GW + 0.02."
)


@dataclasses.dataclass(frozen=True)
class Config:
    """WordNet 3.0 vs 3.3 matching. Defaults: quick scale."""

    scale: str = "quick"
    seed: int = 0
    seeds: tuple[int, ...] = (0, 1, 2)
    root: str = "mammal.n.01"
    source_version: str = "3.0"
    target_version: str = "3.3"
    dim: int = 5
    num_epochs: int = 200
    burn_in_epochs: int = 20
    removed_fractions: tuple[float, ...] = (0.0, 0.3)
    num_restarts: int = 4
    num_iters: int = 10
    restart_subsample: int = 200
    gw_iterations: int = 20
    deep_restarts: int = 1
    deep_outer: int = 3
    deep_inner: int = 10
    deep_hidden: int = 32
    deep_fit_steps: int = 50
    timing_restarts: int = 0

    SCALES: ClassVar[dict] = {
        "full": {
            "seeds": (0, 1, 2, 3, 4),
            "removed_fractions": (0.0, 0.1, 0.3),
            "num_epochs": 300,
            "num_restarts": 32,
            "num_iters": 40,
            "restart_subsample": 1000,
            "gw_iterations": 100,
            "deep_restarts": 8,
            "deep_outer": 5,
            "deep_inner": 20,
            "deep_fit_steps": 200,
            "timing_restarts": 8,
        },
        # monkey.n.01: 39 nodes / 94 relations in 3.0 and 3.3 (sizes shared with the tests).
        "tiny": {
            **TINY_ALIGNMENT,
            "root": "monkey.n.01",
            "seeds": (0, 1),
            "num_epochs": 10,
            "burn_in_epochs": 2,
            "removed_fractions": (0.0, 0.3),
        },
    }

    def __post_init__(self):
        if any(not 0.0 <= f < 1.0 for f in self.removed_fractions):
            raise ValueError(f"removed_fractions must be in [0, 1), got {self.removed_fractions}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be non-empty and distinct, got {self.seeds}")
        if self.deep_hidden < self.dim:
            raise ValueError(f"deep_hidden must be >= dim = {self.dim}, got {self.deep_hidden}")


def _embed(workdir, config, h, name, seeds):
    """One embedding of ``h`` per seed (one vmapped program), cached under ``name``."""
    key = cache_key(
        config=dataclasses.asdict(config), name=name, seeds=list(seeds), relations=int(len(h.edges))
    )
    cached = load_cached(workdir, name, key)
    if cached is None:
        emb, _, rate, seconds = train_poincare_embeddings(
            h.edges,
            h.num_nodes,
            config.dim,
            seed_keys(seeds),
            num_epochs=config.num_epochs,
            burn_in_epochs=config.burn_in_epochs,
            return_info=True,
        )
        emb = np.asarray(emb)
        recs = [reconstruction_metrics(e, h.edges) for e in emb]
        cached = dict(
            emb=emb,
            rate=rate,
            seconds=seconds,
            map=np.asarray([float(r.map) for r in recs]),
            mean_rank=np.asarray([float(r.mean_rank) for r in recs]),
        )
        save_cached(workdir, name, key, **cached)
    info = {k: np.asarray(cached[k]).tolist() for k in ("map", "mean_rank")}
    info |= {"relations_per_second": float(cached["rate"]), "relations": int(len(h.edges))}
    return np.asarray(cached["emb"]), info


def run(config: Config, workdir: Path) -> dict:
    workdir = Path(workdir)
    t0 = time.perf_counter()
    source = wordnet_hierarchy(config.root, version=config.source_version)
    target, _ = permute_hierarchy(
        wordnet_hierarchy(config.root, version=config.target_version), config.seed + 1
    )
    truth = match_by_lemmas(source.lemmas, target.lemmas)
    orbits = hierarchy_orbit_sizes(source.parent_edges, source.num_nodes)
    xs, source_info = _embed(workdir, config, source, "source", [2 * s for s in config.seeds])
    results, targets = {}, {}
    for fraction in config.removed_fractions:
        tag = f"removed_{fraction:g}"
        h = remove_edges(target, fraction, config.seed + 2)
        ys, info = _embed(workdir, config, h, f"target_{tag}", [2 * s + 1 for s in config.seeds])
        targets[tag] = ys

        def compute(xs=xs, ys=ys, info=info):
            runs = [_compare(config, xs[i], ys[i], truth, s) for i, s in enumerate(config.seeds)]
            keys = ("p_at_1", "p_at_10", "seconds", "diverged")
            return {"embedding": info} | {
                col: {k: [r[col][k] for r in runs] for k in keys} for col in COLUMNS
            }

        key = cache_key(config=dataclasses.asdict(config), tag=tag)
        results[tag] = cached_record(workdir, f"match_{tag}", key, compute)
    timing = _time_deep(config, xs[0], targets[next(iter(targets))][0])
    figures = ["p_at_k.png"]
    bound = orbits.p_at_1_bound(np.flatnonzero(truth >= 0))
    _plot(config, results, bound, workdir / figures[0])
    metrics = {
        "root": config.root,
        "versions": [config.source_version, config.target_version],
        "seeds": list(config.seeds),
        "num_nodes": [source.num_nodes, target.num_nodes],
        "num_ground_truth_pairs": int(np.sum(truth >= 0)),
        "chance_p_at_1": 1.0 / target.num_nodes,
        "structure_bound": orbits.p_at_1_bound(np.flatnonzero(truth >= 0)),
        "structure_bound_exact": orbits.exact,
        "source_embedding": source_info,
        "deep_timing": timing,
        "results": results,
        "wall_seconds": time.perf_counter() - t0,
    }
    return write_outputs(workdir, config, metrics, figures=figures)


def _compare(config, x, y, truth, seed):
    fields = ("num_restarts", "num_iters", "restart_subsample", "gw_iterations")
    return compare_methods(x, y, truth, seed, **compare_kwargs(config, fields))


def _time_deep(config, x, y):
    """One compiled 8-restart deep-HOT alignment from the isometric solution (first seed and
    removal fraction); None when ``timing_restarts = 0``."""
    if config.timing_restarts == 0:
        return None
    kw = dict(key=jax.random.key(config.seeds[0]), num_iters=config.num_iters)
    kw["init"] = align(x, y, num_restarts=config.num_restarts, **kw)
    kw |= {k: getattr(config, k) for k in ("deep_outer", "deep_inner")}
    r = config.timing_restarts
    out = time_align(x, y, "hyperbolic_ot", registration="mlp", hidden=config.deep_hidden,
                     num_restarts=r, **kw)  # fmt: skip
    return dict(out, restarts=r, num_nodes=len(x), load=os.getloadavg()[0])


def _plot(config, results, bound, path):
    tags = list(results)
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.8), sharey=True)
    width = 0.8 / len(COLUMNS)
    pos = np.arange(len(tags))
    for ax, k_name in zip(axes, ("p_at_1", "p_at_10"), strict=True):
        for k, method in enumerate(COLUMNS):
            st = [seed_stats(results[t][method][k_name]) for t in tags]
            mean, lo, hi = (np.array([x[q] for x in st]) for q in ("mean", "min", "max"))
            sec = np.nanmean([results[t][method]["seconds"] for t in tags])
            at = pos + (k - 2.5) * width
            label = f"{COLUMN_LABELS[method]}, {sec:.1f} s"
            ax.bar(
                at, mean, width, yerr=[mean - lo, hi - mean], capsize=3, color=f"C{k}", label=label
            )
            for p, m, h in zip(at, mean, hi, strict=True):
                ax.annotate(f"{m:.2f}", (p, h), ha="center", va="bottom", fontsize=5)
        removed = [f"{float(t.split('_')[1]):.0%} of 3.3 relations removed" for t in tags]
        ax.set_xticks(pos, removed, fontsize=8)
        ax.set(
            title=f"{'P@1' if k_name == 'p_at_1' else 'P@10'}: WordNet "
            f"{config.source_version} vs {config.target_version}, {config.root} (d = "
            f"{config.dim})",
            ylabel=f"precision (mean, min-max, {len(config.seeds)} seeds); legend: s/alignment",
        )
        if k_name == "p_at_1":
            ax.axhline(bound, color="k", ls=":", label=f"structure-only bound {bound:.2f}")
        ax.legend(fontsize=8)
    save_figure(fig, path)


def summarize(metrics: dict) -> Summary:
    """Applies the rule of the module docstring to every removal fraction."""
    results = metrics["results"]
    numbers = {
        "seeds": len(metrics["seeds"]),
        "ground-truth pairs": metrics["num_ground_truth_pairs"],
        "chance P@1": f"{metrics['chance_p_at_1']:.4f}",
        "structure-only P@1 bound (mean 1/orbit over ground-truth nodes)": (
            f"{metrics['structure_bound']:.3f}"
            + ("" if metrics.get("structure_bound_exact", True) else " (upper bracket)")
        ),
        "source embedding MAP": format_stats(metrics["source_embedding"]["map"]),
    }
    if t := metrics.get("deep_timing"):
        numbers[f"deep HOT, {t['restarts']} restarts, n = {t['num_nodes']}: s / alignment"] = (
            f"{t['seconds']:.1f} wall, {t['cpu_seconds']:.1f} CPU (compiled; first call "
            f"{t['first_seconds']:.1f} s; load {t['load']:.1f})"
        )
    for tag, row in results.items():
        for col in COLUMNS:
            numbers[f"{tag}: {col} P@1, mean +- std [min, max]"] = format_stats(row[col]["p_at_1"])
            numbers[f"{tag}: {col} P@10"] = format_stats(row[col]["p_at_10"])
            numbers[f"{tag}: {col} seconds per alignment"] = format_stats(row[col]["seconds"], 1)
    thresholds = {
        "min seeds": MIN_SEEDS,
        "diverged deep registrations allowed": 0,
        "min margin of deep HOT over isometric HOT and Euclidean (mean P@1 and P@10)": MIN_MARGIN,
        "deep HOT P@1 above both on every seed": True,
        "min margin of GW-then-HOT over GW (mean P@1)": MIN_MARGIN,
    }
    failures = []
    num_seeds = len(metrics["seeds"])
    if num_seeds < MIN_SEEDS:
        failures.append(f"only {num_seeds} seed(s) (need {MIN_SEEDS})")
    parts = []
    for tag, row in results.items():
        get = {
            c: {k: np.asarray(row[c][k], np.float64) for k in ("p_at_1", "p_at_10")}
            for c in COLUMNS
        }
        deep, gwh = get["deep_hot"], get["gw_then_hot"]
        diverged = sum(map(bool, row["deep_hot"].get("diverged", []))) + sum(
            map(bool, row["gw_then_hot"].get("diverged", []))
        )
        parts.append(
            f"{tag}: P@1 deep HOT {format_stats(deep['p_at_1'])}, isometric HOT "
            f"{format_stats(get['hyperbolic_ot']['p_at_1'])}, Euclidean "
            f"{format_stats(get['euclidean_procrustes']['p_at_1'])}, GW "
            f"{format_stats(get['gromov_wasserstein']['p_at_1'])}, GW-then-HOT "
            f"{format_stats(gwh['p_at_1'])}"
        )
        if diverged:
            failures.append(f"{tag}: {diverged} deep registration(s) diverged (not scored)")
        for base in ("hyperbolic_ot", "euclidean_procrustes"):
            for k in ("p_at_1", "p_at_10"):
                a, b = np.nanmean(deep[k]), np.nanmean(get[base][k])
                if not a >= b + MIN_MARGIN:
                    failures.append(
                        f"{tag}: deep HOT mean {k} {a:.3f} < {base} {b:.3f} + {MIN_MARGIN}"
                    )
            if deep["p_at_1"].shape != get[base]["p_at_1"].shape or not np.all(
                deep["p_at_1"] > get[base]["p_at_1"]
            ):
                failures.append(f"{tag}: deep HOT P@1 not above {base} on every seed")
        a, b = np.nanmean(gwh["p_at_1"]), np.nanmean(get["gromov_wasserstein"]["p_at_1"])
        if not a >= b + MIN_MARGIN:
            failures.append(f"{tag}: GW-then-HOT mean P@1 {a:.3f} < GW {b:.3f} + {MIN_MARGIN}")
    detail = f"{num_seeds} seeds, chance P@1 {metrics['chance_p_at_1']:.4f}; " + "; ".join(parts)
    ok, verdict = judge(failures, detail)
    return Summary(numbers, ok, verdict, thresholds)


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
