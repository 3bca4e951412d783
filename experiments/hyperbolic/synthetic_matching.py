"""Alvarez-Melis et al. (2020), synthetic experiments: matching embedded random trees.

For random recursive trees of several sizes and seeds we embed the tree in the Poincare ball and
match two point sets whose node labels are hidden (the second set is randomly relabelled):

* "isometry": the embedding against a copy moved by a random ball isometry (Haar rotation +
  Mobius translation of norm ``translation_norm``) plus small noise (a tangent Gaussian of
  Riemannian scale ``noise``);
* "independent": two independently trained embeddings of the same tree.

P@1 and P@10 (ranked by the plan's log) of hyperbolic OT, Euclidean Wasserstein-Procrustes and
Gromov-Wasserstein. The paper's negative result: the Euclidean method fails once a Mobius
translation is involved while hyperbolic OT succeeds. For the "independent" setting we also
report the automorphism bound ``mean(1/orbit size)``: structurally equivalent nodes (e.g. sibling
leaves) cannot be told apart by any method that sees only the structure. "oracle_isometry" is
the isometry fitted with the true pairs (centroids + tangent Procrustes), then nearest neighbours:
an upper bound for any isometry-based matcher, which shows whether two point sets are related by
an isometry at all (independent embeddings are not: subtrees rotate freely around their parents).

    python -m experiments.hyperbolic.synthetic_matching --scale quick
"""

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

import jax
import numpy as np
from tqdm.auto import tqdm

from experiments.harness import Summary, experiment_main, write_outputs
from experiments.harness.loop import progress_enabled
from experiments.harness.plotting import plt, save_figure
from experiments.hyperbolic._common import cache_key, load_cached, save_cached, train_embeddings
from jaxml.hyperbolic import (
    METHODS,
    align,
    apply_isometry,
    precision_at_k,
    random_isometry,
    reconstruction_metrics,
    synthetic_hierarchy,
    tree_orbit_sizes,
    true_match_from_permutation,
)
from jaxml.hyperbolic import poincare as P

PAPER = "Alvarez-Melis, Mroueh & Jaakkola 2020 (AISTATS), synthetic hierarchy matching"
CLAIM = (
    "Two embeddings of one hierarchy agree only up to a hyperbolic isometry, which includes "
    "Mobius translations: Euclidean Wasserstein-Procrustes fails once a translation is "
    "involved, hyperbolic OT (isometry registration + OT) succeeds."
)
SETTINGS = ("isometry", "independent")
LABEL = {"hyperbolic_ot": "hyperbolic OT", "euclidean_procrustes": "Euclidean Procrustes-W",
         "gromov_wasserstein": "Gromov-Wasserstein"}


@dataclasses.dataclass(frozen=True)
class Config:
    """Synthetic tree matching. Defaults: quick scale."""

    scale: str = "quick"
    tree_sizes: tuple[int, ...] = (50, 100, 200)
    seeds: tuple[int, ...] = (0, 1)
    dim: int = 5
    num_epochs: int = 200
    burn_in_epochs: int = 20
    translation_norm: float = 0.8
    noise: float = 0.02
    num_restarts: int = 8
    num_iters: int = 20
    gw_iterations: int = 30

    SCALES: ClassVar[dict] = {
        "full": {"tree_sizes": (50, 100, 200, 400, 800), "seeds": (0, 1, 2, 3, 4),
                 "num_epochs": 300, "num_restarts": 16, "num_iters": 30, "gw_iterations": 50},
        # 39 nodes, d = 3, 4 restarts x 12 iterations: the sizes of tests/hyperbolic, so that
        # the smoke test reuses their compiled alignment programs.
        "tiny": {"tree_sizes": (39,), "seeds": (0,), "dim": 3, "num_epochs": 30,
                 "burn_in_epochs": 2, "num_restarts": 4, "num_iters": 12, "gw_iterations": 20},
    }

    def __post_init__(self):
        if not self.tree_sizes or min(self.tree_sizes) < 3:
            raise ValueError(f"tree_sizes must be >= 3, got {self.tree_sizes}")
        if not self.seeds:
            raise ValueError("seeds must be non-empty")
        if not 0.0 <= self.translation_norm < 1.0:
            raise ValueError(f"translation_norm must be in [0, 1), got {self.translation_norm}")


def _moved_copy(x, seed, translation_norm, noise):
    """``g(x)`` for a random isometry ``g``, then ``exp_{g(x)}(noise * xi / lambda)``."""
    k_iso, k_noise = jax.random.split(jax.random.key(10_000 + seed))
    iso = random_isometry(k_iso, x.shape[1], translation_norm)
    moved = np.asarray(apply_isometry(iso, x))
    xi = noise * np.asarray(jax.random.normal(k_noise, moved.shape))
    lam = np.asarray(P.conformal_factor(moved))[:, None]
    return np.asarray(P.project(P.expmap(moved, xi / lam), 1e-5))


def _oracle_isometry(x, y, truth):
    """P@1 / P@10 of the isometry fitted WITH the true pairs (a supervised upper bound for
    isometry-based matching): centroids to 0, then tangent Procrustes on the true pairs."""
    x0 = np.asarray(P.mobius_add(-P.centroid(x), x))
    y0 = np.asarray(P.mobius_add(-P.centroid(y), y))
    lx, ly = np.asarray(P.logmap0(x0)), np.asarray(P.logmap0(y0[truth]))
    u, _, vt = np.linalg.svd(ly.T @ lx)
    scores = -np.asarray(P.pairwise_distance(x0 @ (u @ vt).T, y0))
    return {"p_at_1": float(precision_at_k(scores, truth, 1)),
            "p_at_10": float(precision_at_k(scores, truth, 10))}


def _match(x, y, truth, config, seed):
    out = {"oracle_isometry": _oracle_isometry(x, y, truth)}
    for method in METHODS:
        t0 = time.perf_counter()
        res = align(x, y, method, key=jax.random.key(seed), num_restarts=config.num_restarts,
                    num_iters=config.num_iters, gw_iterations=config.gw_iterations)
        out[method] = {
            "p_at_1": float(precision_at_k(res.log_plan, truth, 1)),
            "p_at_10": float(precision_at_k(res.log_plan, truth, 10)),
            "seconds": time.perf_counter() - t0,
        }
    return out


def run(config: Config, workdir: Path) -> dict:
    workdir = Path(workdir)
    t0 = time.perf_counter()
    rows = []
    cases = [(n, s) for n in config.tree_sizes for s in config.seeds]
    bar = tqdm(cases, desc="trees", disable=not progress_enabled())
    for n, seed in bar:
        key = cache_key(config=dataclasses.asdict(config), n=n, seed=seed)
        cached = load_cached(workdir, f"tree{n}_seed{seed}", key)
        if cached is not None:
            rows.append(_row_from_cache(cached))
            continue
        tree = synthetic_hierarchy(seed, num_nodes=n)
        emb, _, rate, _ = train_embeddings(
            tree.edges, n, config.dim, [2 * seed, 2 * seed + 1], config.num_epochs,
            burn_in_epochs=config.burn_in_epochs,
        )
        rec = reconstruction_metrics(emb[0], tree.edges)
        perm = np.random.default_rng(seed).permutation(n)
        truth = true_match_from_permutation(perm)
        row = {"num_nodes": n, "seed": seed, "map": float(rec.map),
               "mean_rank": float(rec.mean_rank), "relations_per_second": rate,
               "orbit_bound": float(np.mean(1.0 / tree_orbit_sizes(tree.parent_edges, n)))}
        for setting in SETTINGS:
            other = (_moved_copy(emb[0], seed, config.translation_norm, config.noise)
                     if setting == "isometry" else emb[1])
            y = np.empty_like(other)
            y[perm] = other  # node i of x is node perm[i] of y
            row[setting] = _match(emb[0], y, truth, config, seed)
        rows.append(row)
        save_cached(workdir, f"tree{n}_seed{seed}", key, row=np.asarray(_json(row)))
    figures = ["p_at_1.png"]
    _plot(config, rows, workdir / figures[0])
    metrics = {"rows": rows, "table": _table(config, rows),
               "wall_seconds": time.perf_counter() - t0}
    return write_outputs(workdir, config, metrics, figures=figures)


def _json(row):
    import json

    return json.dumps(row)


def _row_from_cache(cached):
    import json

    return json.loads(str(cached["row"]))


def _table(config, rows):
    """Mean (over seeds) P@1 / P@10 per setting, size and method."""
    table = {}
    for setting in SETTINGS:
        for n in config.tree_sizes:
            sel = [r for r in rows if r["num_nodes"] == n]
            for method in METHODS:
                p1 = [r[setting][method]["p_at_1"] for r in sel]
                p10 = [r[setting][method]["p_at_10"] for r in sel]
                table[f"{setting}/n={n}/{method}"] = {
                    "p_at_1": float(np.mean(p1)), "p_at_1_std": float(np.std(p1)),
                    "p_at_10": float(np.mean(p10)),
                }
            table[f"{setting}/n={n}/oracle_isometry"] = {
                "p_at_1": float(np.mean([r[setting]["oracle_isometry"]["p_at_1"] for r in sel])),
                "p_at_10": float(np.mean([r[setting]["oracle_isometry"]["p_at_10"]
                                          for r in sel])),
            }
            if setting == "independent":
                table[f"{setting}/n={n}/orbit_bound"] = float(
                    np.mean([r["orbit_bound"] for r in sel]))
    return table


def _plot(config, rows, path):
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
    sizes = list(config.tree_sizes)
    width = 0.8 / len(METHODS)
    pos = np.arange(len(sizes))
    for ax, setting in zip(axes, SETTINGS, strict=True):
        for k, method in enumerate(METHODS):
            vals = [[r[setting][method]["p_at_1"] for r in rows if r["num_nodes"] == n]
                    for n in sizes]
            vals10 = [np.mean([r[setting][method]["p_at_10"] for r in rows
                               if r["num_nodes"] == n]) for n in sizes]
            ax.bar(pos + (k - 1) * width, [np.mean(v) for v in vals], width,
                   yerr=[np.std(v) for v in vals], color=f"C{k}", label=f"{LABEL[method]} P@1",
                   capsize=3)
            ax.scatter(pos + (k - 1) * width, vals10, marker="_", s=200, color="k",
                       zorder=3, label="P@10" if k == 0 else None)
        oracle = [np.mean([r[setting]["oracle_isometry"]["p_at_1"] for r in rows
                           if r["num_nodes"] == n]) for n in sizes]
        ax.plot(pos, oracle, "--", color="C4", marker="D", ms=4,
                label="isometry fitted on the true pairs + NN, P@1")
        if setting == "independent":
            bound = [np.mean([r["orbit_bound"] for r in rows if r["num_nodes"] == n])
                     for n in sizes]
            ax.plot(pos, bound, "k:", marker="o", ms=4, label="automorphism bound on P@1")
        ax.set_xticks(pos, [f"n = {n}" for n in sizes])
        title = (f"copy moved by a random isometry (|a| = {config.translation_norm}) + noise"
                 if setting == "isometry" else "two independent embeddings of the tree")
        ax.set(title=title, ylim=(0, 1.3), yticks=np.linspace(0, 1, 6),
               ylabel="precision (mean over seeds)")
        ax.legend(fontsize=7, loc="upper center", ncol=3)
    fig.suptitle(f"random recursive trees, d = {config.dim}, {len(config.seeds)} seed(s); "
                 "bars: P@1 (std over seeds), black ticks: P@10")
    save_figure(fig, path)


def summarize(metrics: dict) -> Summary:
    table = metrics["table"]
    numbers = {}
    for key, val in table.items():
        if key.endswith("orbit_bound"):
            numbers[key] = f"{val:.2f}"
        else:
            numbers[key + " P@1 / P@10"] = f"{val['p_at_1']:.2f} / {val['p_at_10']:.2f}"
    iso = {m: np.mean([v["p_at_1"] for k, v in table.items()
                       if k.startswith("isometry/") and k.endswith(m)]) for m in METHODS}
    ok = iso["hyperbolic_ot"] >= 0.9 and iso["euclidean_procrustes"] <= 0.5
    verdict = (f"under an isometry with a Mobius translation, mean P@1 is "
               f"{iso['hyperbolic_ot']:.2f} for hyperbolic OT vs "
               f"{iso['euclidean_procrustes']:.2f} for Euclidean Procrustes "
               f"({iso['gromov_wasserstein']:.2f} for GW)")
    return Summary(numbers, bool(ok), verdict)


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
