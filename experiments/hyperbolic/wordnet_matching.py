"""Alvarez-Melis et al. (2020), WordNet alignment: match WordNet 3.0 to WordNet 3.3, unsupervised.

The mammal closure (or another root) of WordNet 3.0 and of WordNet 3.3 are embedded in the
Poincare ball independently (different seeds, the 3.3 nodes randomly relabelled); the three
methods then match the two point sets without any correspondence. Ground truth: synsets with
identical lemma names (``match_by_lemmas``: identical lemma sets, then unique one-to-one lemma
overlaps; ambiguous synsets are left out). We also remove 10% and 30% of the 3.3 closure's
relations before embedding it (a noisier, incomplete hierarchy). Precision@1 and @10 are ranked
by the plan's log. Every condition is repeated over ``seeds`` (each seed: its own pair of
embeddings, trained together in one vmapped program, and its own alignment restarts); the
relabelling and the removed relations are fixed by ``seed``.

Verdict rule (``summarize``; every threshold is in ``Summary.thresholds``): the claim holds only
if at least 3 seeds ran and, for EVERY removal fraction, hyperbolic OT's P@1 (mean over seeds)
is >= 0.1, is >= Euclidean Procrustes' mean P@1 + 0.05, is above Euclidean Procrustes' P@1 on
every single seed, and (graceful degradation) is >= 0.5 x its own mean P@1 with nothing removed.

    python -m experiments.hyperbolic.wordnet_matching --scale quick
"""

import dataclasses
import json
import time
from pathlib import Path
from typing import ClassVar

import numpy as np

from experiments.harness import (
    Summary,
    cache_key,
    experiment_main,
    format_stats,
    judge,
    load_cached,
    save_cached,
    seed_stats,
    write_outputs,
)
from experiments.harness.plotting import plt, save_figure
from jaxml.hyperbolic import (
    METHODS,
    align_precision,
    match_by_lemmas,
    permute_hierarchy,
    reconstruction_metrics,
    remove_edges,
    train_poincare_embeddings,
    wordnet_hierarchy,
)
from jaxml.train import seed_keys

PAPER = "Alvarez-Melis, Mroueh & Jaakkola 2020 (AISTATS), WordNet hierarchy alignment"
# The verdict rule's thresholds (see the module docstring).
MIN_SEEDS = 3
MIN_P_AT_1 = 0.1
MIN_MARGIN = 0.05
MIN_RETAINED = 0.5
CLAIM = (
    "Hyperbolic OT matches two independently embedded versions of a WordNet hierarchy without "
    "supervision better than Euclidean Wasserstein-Procrustes, and degrades gracefully when "
    "edges are missing. Rule: >= 3 seeds; at every removal fraction hyperbolic OT's mean P@1 "
    ">= 0.1, >= Euclidean's mean + 0.05, above Euclidean's on every seed, and >= 0.5 x its own "
    "mean P@1 with no edge removed."
)
LABEL = {
    "hyperbolic_ot": "hyperbolic OT",
    "euclidean_procrustes": "Euclidean Procrustes-W",
    "gromov_wasserstein": "Gromov-Wasserstein",
}


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
    removed_fractions: tuple[float, ...] = (0.0, 0.1, 0.3)
    num_restarts: int = 8
    num_iters: int = 20
    restart_subsample: int = 300
    gw_iterations: int = 20

    SCALES: ClassVar[dict] = {
        "full": {
            "seeds": (0, 1, 2, 3, 4),
            "num_epochs": 300,
            "num_restarts": 32,
            "num_iters": 40,
            "restart_subsample": 1000,
            "gw_iterations": 100,
        },
        # monkey.n.01: 39 nodes / 94 relations in 3.0 and 3.3 (sizes shared with the tests).
        "tiny": {
            "root": "monkey.n.01",
            "seeds": (0, 1),
            "dim": 3,
            "num_epochs": 10,
            "burn_in_epochs": 2,
            "removed_fractions": (0.0, 0.3),
            "num_restarts": 4,
            "num_iters": 12,
            "gw_iterations": 20,
        },
    }

    def __post_init__(self):
        if any(not 0.0 <= f < 1.0 for f in self.removed_fractions):
            raise ValueError(f"removed_fractions must be in [0, 1), got {self.removed_fractions}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be non-empty and distinct, got {self.seeds}")


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
    info = {
        "map": np.asarray(cached["map"]).tolist(),
        "mean_rank": np.asarray(cached["mean_rank"]).tolist(),
        "relations_per_second": float(cached["rate"]),
        "relations": int(len(h.edges)),
    }
    return np.asarray(cached["emb"]), info


def run(config: Config, workdir: Path) -> dict:
    workdir = Path(workdir)
    t0 = time.perf_counter()
    source = wordnet_hierarchy(config.root, version=config.source_version)
    target, _ = permute_hierarchy(
        wordnet_hierarchy(config.root, version=config.target_version), config.seed + 1
    )
    truth = match_by_lemmas(source.lemmas, target.lemmas)
    xs, source_info = _embed(workdir, config, source, "source", [2 * s for s in config.seeds])
    results = {}
    for fraction in config.removed_fractions:
        tag = f"removed_{fraction:g}"
        h = remove_edges(target, fraction, config.seed + 2)
        ys, info = _embed(workdir, config, h, f"target_{tag}", [2 * s + 1 for s in config.seeds])
        key = cache_key(config=dataclasses.asdict(config), tag=tag)
        cached = load_cached(workdir, f"match_{tag}", key)
        if cached is None:
            kwargs = {
                k: getattr(config, k)
                for k in ("num_restarts", "num_iters", "restart_subsample", "gw_iterations")
            }
            row = {"embedding": info}
            for method in METHODS:
                runs = [
                    align_precision(xs[i], ys[i], truth, method, seed, **kwargs)
                    for i, seed in enumerate(config.seeds)
                ]
                row[method] = {k: [r[k] for r in runs] for k in ("p_at_1", "p_at_10", "seconds")}
            save_cached(workdir, f"match_{tag}", key, row=np.asarray(json.dumps(row)))
        else:
            row = json.loads(str(cached["row"]))
        results[tag] = row
    figures = ["p_at_k.png"]
    _plot(config, results, workdir / figures[0])
    metrics = {
        "root": config.root,
        "versions": [config.source_version, config.target_version],
        "seeds": list(config.seeds),
        "num_nodes": [source.num_nodes, target.num_nodes],
        "num_ground_truth_pairs": int(np.sum(truth >= 0)),
        "chance_p_at_1": 1.0 / target.num_nodes,
        "source_embedding": source_info,
        "results": results,
        "wall_seconds": time.perf_counter() - t0,
    }
    return write_outputs(workdir, config, metrics, figures=figures)


def _plot(config, results, path):
    tags = list(results)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    width = 0.8 / len(METHODS)
    pos = np.arange(len(tags))
    for ax, k_name in zip(axes, ("p_at_1", "p_at_10"), strict=True):
        for k, method in enumerate(METHODS):
            stats = [seed_stats(results[t][method][k_name]) for t in tags]
            means = np.array([st["mean"] for st in stats])
            lo = means - np.array([st["min"] for st in stats])
            hi = np.array([st["max"] for st in stats]) - means
            ax.bar(
                pos + (k - 1) * width,
                means,
                width,
                yerr=[lo, hi],
                capsize=3,
                color=f"C{k}",
                label=LABEL[method],
            )
            for p, st in zip(pos + (k - 1) * width, stats, strict=True):
                ax.annotate(
                    f"{st['mean']:.3f}\n+-{st['std']:.3f}",
                    (p, st["max"]),
                    ha="center",
                    va="bottom",
                    fontsize=6,
                )
        ax.set_xticks(
            pos,
            [f"{float(t.split('_')[1]):.0%} of 3.3 relations removed" for t in tags],
            fontsize=8,
        )
        ax.set(
            title=f"{'P@1' if k_name == 'p_at_1' else 'P@10'}: WordNet "
            f"{config.source_version} vs {config.target_version}, {config.root} (d = "
            f"{config.dim})",
            ylabel=f"precision (mean, min-max bars, {len(config.seeds)} seeds)",
        )
        ax.legend(fontsize=8)
    save_figure(fig, path)


def summarize(metrics: dict) -> Summary:
    """Applies the rule of the module docstring to every removal fraction."""
    results = metrics["results"]
    numbers = {
        "seeds": len(metrics["seeds"]),
        "ground-truth pairs": metrics["num_ground_truth_pairs"],
        "chance P@1": f"{metrics['chance_p_at_1']:.4f}",
        "source embedding MAP": format_stats(metrics["source_embedding"]["map"]),
    }
    for tag, row in results.items():
        for method in METHODS:
            numbers[f"{tag}: {method} P@1, mean +- std [min, max]"] = format_stats(
                row[method]["p_at_1"]
            )
            numbers[f"{tag}: {method} P@10"] = format_stats(row[method]["p_at_10"])
    thresholds = {
        "min seeds": MIN_SEEDS,
        "min hyperbolic OT P@1 (mean over seeds), every fraction": MIN_P_AT_1,
        "min margin of hyperbolic OT over Euclidean Procrustes P@1 (means)": MIN_MARGIN,
        "hyperbolic OT above Euclidean Procrustes on every seed": True,
        "min P@1 retained vs no removal (ratio of means)": MIN_RETAINED,
    }
    failures = []
    num_seeds = len(metrics["seeds"])
    if num_seeds < MIN_SEEDS:
        failures.append(f"only {num_seeds} seed(s) (need {MIN_SEEDS})")
    first = "removed_0"  # the reference of the degradation check
    if first in results:
        reference = float(np.mean(results[first]["hyperbolic_ot"]["p_at_1"]))
    else:
        reference = np.nan
        failures.append("no run with 0% of the relations removed (the degradation reference)")
    parts = []
    for tag, row in results.items():
        hyp = np.asarray(row["hyperbolic_ot"]["p_at_1"], dtype=np.float64)
        euc = np.asarray(row["euclidean_procrustes"]["p_at_1"], dtype=np.float64)
        gw = np.asarray(row["gromov_wasserstein"]["p_at_1"], dtype=np.float64)
        parts.append(
            f"{tag}: P@1 hyperbolic OT {format_stats(hyp)}, Euclidean "
            f"{format_stats(euc)}, GW {format_stats(gw)}"
        )
        if not hyp.mean() >= MIN_P_AT_1:
            failures.append(f"{tag}: hyperbolic OT mean P@1 {hyp.mean():.3f} < {MIN_P_AT_1}")
        if not hyp.mean() >= euc.mean() + MIN_MARGIN:
            failures.append(
                f"{tag}: hyperbolic OT mean P@1 {hyp.mean():.3f} < Euclidean "
                f"{euc.mean():.3f} + {MIN_MARGIN}"
            )
        if hyp.shape != euc.shape or not np.all(hyp > euc):
            failures.append(
                f"{tag}: hyperbolic OT not above Euclidean on every seed "
                f"({hyp.round(3).tolist()} vs {euc.round(3).tolist()})"
            )
        if tag != first and not hyp.mean() >= MIN_RETAINED * reference:
            failures.append(
                f"{tag}: hyperbolic OT mean P@1 {hyp.mean():.3f} < {MIN_RETAINED} x "
                f"{reference:.3f} (no removal)"
            )
    detail = f"{num_seeds} seeds, chance P@1 {metrics['chance_p_at_1']:.4f}; " + "; ".join(parts)
    ok, verdict = judge(failures, detail)
    return Summary(numbers, ok, verdict, thresholds)


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
