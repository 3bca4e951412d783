"""Alvarez-Melis et al. (2020), WordNet alignment: match WordNet 3.0 to WordNet 3.3, unsupervised.

The mammal closure (or another root) of WordNet 3.0 and of WordNet 3.3 are embedded in the
Poincare ball independently (different seeds, the 3.3 nodes randomly relabelled); the three
methods then match the two point sets without any correspondence. Ground truth: synsets with
identical lemma names (``match_by_lemmas``: identical lemma sets, then unique one-to-one lemma
overlaps; ambiguous synsets are left out). We also remove 10% and 30% of the 3.3 closure's
relations before embedding it (a noisier, incomplete hierarchy). Precision@1 and @10 are ranked
by the plan's log.

    python -m experiments.hyperbolic.wordnet_matching --scale quick
"""

import dataclasses
import json
import time
from pathlib import Path
from typing import ClassVar

import jax
import numpy as np

from experiments.harness import Summary, experiment_main, write_outputs
from experiments.harness.plotting import plt, save_figure
from experiments.hyperbolic._common import cache_key, load_cached, save_cached, train_embeddings
from jaxml.hyperbolic import (
    METHODS,
    align,
    match_by_lemmas,
    permute_hierarchy,
    precision_at_k,
    reconstruction_metrics,
    remove_edges,
    wordnet_hierarchy,
)

PAPER = "Alvarez-Melis, Mroueh & Jaakkola 2020 (AISTATS), WordNet hierarchy alignment"
CLAIM = (
    "Hyperbolic OT matches two independently embedded versions of a WordNet hierarchy without "
    "supervision better than Euclidean Wasserstein-Procrustes, and degrades gracefully when "
    "edges are missing."
)
LABEL = {"hyperbolic_ot": "hyperbolic OT", "euclidean_procrustes": "Euclidean Procrustes-W",
         "gromov_wasserstein": "Gromov-Wasserstein"}


@dataclasses.dataclass(frozen=True)
class Config:
    """WordNet 3.0 vs 3.3 matching. Defaults: quick scale."""

    scale: str = "quick"
    seed: int = 0
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
        "full": {"num_epochs": 300, "num_restarts": 32, "num_iters": 40,
                 "restart_subsample": 1000, "gw_iterations": 100},
        # monkey.n.01: 39 nodes / 94 relations in 3.0 and 3.3 (sizes shared with the tests).
        "tiny": {"root": "monkey.n.01", "dim": 3, "num_epochs": 10, "burn_in_epochs": 2,
                 "removed_fractions": (0.0, 0.3), "num_restarts": 4, "num_iters": 12,
                 "gw_iterations": 20},
    }

    def __post_init__(self):
        if any(not 0.0 <= f < 1.0 for f in self.removed_fractions):
            raise ValueError(f"removed_fractions must be in [0, 1), got {self.removed_fractions}")


def _embed(workdir, config, h, name, seed):
    key = cache_key(config=dataclasses.asdict(config), name=name, seed=seed,
                    relations=int(len(h.edges)))
    cached = load_cached(workdir, name, key)
    if cached is None:
        emb, _, rate, seconds = train_embeddings(
            h.edges, h.num_nodes, config.dim, [seed], config.num_epochs,
            burn_in_epochs=config.burn_in_epochs,
        )
        rec = reconstruction_metrics(emb[0], h.edges)
        cached = dict(emb=emb[0], rate=rate, seconds=seconds, map=float(rec.map),
                      mean_rank=float(rec.mean_rank))
        save_cached(workdir, name, key, **cached)
    info = {"map": float(cached["map"]), "mean_rank": float(cached["mean_rank"]),
            "relations_per_second": float(cached["rate"]), "relations": int(len(h.edges))}
    return np.asarray(cached["emb"]), info


def run(config: Config, workdir: Path) -> dict:
    workdir = Path(workdir)
    t0 = time.perf_counter()
    source = wordnet_hierarchy(config.root, version=config.source_version)
    target, _ = permute_hierarchy(wordnet_hierarchy(config.root, version=config.target_version),
                                  config.seed + 1)
    truth = match_by_lemmas(source.lemmas, target.lemmas)
    x, source_info = _embed(workdir, config, source, "source", 2 * config.seed)
    results = {}
    for fraction in config.removed_fractions:
        tag = f"removed_{fraction:g}"
        h = remove_edges(target, fraction, config.seed + 2)
        y, info = _embed(workdir, config, h, f"target_{tag}", 2 * config.seed + 1)
        key = cache_key(config=dataclasses.asdict(config), tag=tag)
        cached = load_cached(workdir, f"match_{tag}", key)
        if cached is None:
            row = {"embedding": info}
            for method in METHODS:
                t1 = time.perf_counter()
                res = align(x, y, method, key=jax.random.key(config.seed),
                            num_restarts=config.num_restarts, num_iters=config.num_iters,
                            restart_subsample=config.restart_subsample,
                            gw_iterations=config.gw_iterations)
                row[method] = {
                    "p_at_1": float(precision_at_k(res.log_plan, truth, 1)),
                    "p_at_10": float(precision_at_k(res.log_plan, truth, 10)),
                    "seconds": time.perf_counter() - t1,
                }
            save_cached(workdir, f"match_{tag}", key, row=np.asarray(json.dumps(row)))
        else:
            row = json.loads(str(cached["row"]))
        results[tag] = row
    figures = ["p_at_k.png"]
    _plot(config, results, workdir / figures[0])
    metrics = {
        "root": config.root, "versions": [config.source_version, config.target_version],
        "num_nodes": [source.num_nodes, target.num_nodes],
        "num_ground_truth_pairs": int(np.sum(truth >= 0)),
        "chance_p_at_1": 1.0 / target.num_nodes, "source_embedding": source_info,
        "results": results, "wall_seconds": time.perf_counter() - t0,
    }
    return write_outputs(workdir, config, metrics, figures=figures)


def _plot(config, results, path):
    tags = list(results)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    width = 0.8 / len(METHODS)
    pos = np.arange(len(tags))
    for ax, k_name in zip(axes, ("p_at_1", "p_at_10"), strict=True):
        for k, method in enumerate(METHODS):
            vals = [results[t][method][k_name] for t in tags]
            ax.bar(pos + (k - 1) * width, vals, width, color=f"C{k}", label=LABEL[method])
            for p, v in zip(pos + (k - 1) * width, vals, strict=True):
                ax.annotate(f"{v:.3f}", (p, v), ha="center", va="bottom", fontsize=6)
        ax.set_xticks(pos, [f"{float(t.split('_')[1]):.0%} of 3.3 relations removed"
                            for t in tags], fontsize=8)
        ax.set(title=f"{'P@1' if k_name == 'p_at_1' else 'P@10'}: WordNet "
               f"{config.source_version} vs {config.target_version}, {config.root} (d = "
               f"{config.dim})", ylabel="precision")
        ax.legend(fontsize=8)
    save_figure(fig, path)


def summarize(metrics: dict) -> Summary:
    numbers = {"ground-truth pairs": metrics["num_ground_truth_pairs"],
               "chance P@1": f"{metrics['chance_p_at_1']:.4f}",
               "source embedding MAP": f"{metrics['source_embedding']['map']:.3f}"}
    for tag, row in metrics["results"].items():
        for method in METHODS:
            numbers[f"{tag}: {method} P@1 / P@10"] = (
                f"{row[method]['p_at_1']:.3f} / {row[method]['p_at_10']:.3f}")
    first = next(iter(metrics["results"].values()))
    hyp, euc, gw = (first[m]["p_at_1"] for m in METHODS)
    ok = hyp >= max(0.1, euc + 0.05)  # a useful matching, clearly ahead of the baseline
    verdict = (f"with no edges removed, P@1 is {hyp:.3f} (hyperbolic OT), {euc:.3f} (Euclidean "
               f"Procrustes), {gw:.3f} (GW), chance {metrics['chance_p_at_1']:.4f}")
    return Summary(numbers, bool(ok), verdict)


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
