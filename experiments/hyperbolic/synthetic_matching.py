"""Alvarez-Melis et al. (2020), synthetic experiments: matching embedded random trees.

Random recursive trees are embedded in the Poincare ball; two relabelled point sets are matched:
"isometry": the embedding vs a copy moved by a random isometry (translation norm
``translation_norm``) plus tangent noise ``noise``; "independent": two independently trained
embeddings of the same tree.

P@1 and P@10 (ranked by the plan's log) of isometric hyperbolic OT, Euclidean
Wasserstein-Procrustes and Gromov-Wasserstein (``compare_methods``), and in the "independent"
setting also deep hyperbolic OT (``registration="mlp"``, a hyperbolic-MLP residual on the
isometric solution trained end to end on the entropic OT cost) and GW-then-HOT.
The paper's negative result: Euclidean Procrustes fails once a Mobius translation is involved,
hyperbolic OT succeeds. "independent" also reports the automorphism bound ``mean(1/orbit size)``
(structurally equivalent nodes cannot be told apart) and "oracle_isometry" (the isometry fitted
WITH the true pairs, then nearest neighbours: an upper bound for isometry-based matchers).

Each size is repeated over ``seeds`` (own tree, embeddings, isometry, relabelling, restarts);
error bars show min-max over seeds.

Verdict rule (``summarize``; every threshold is in ``Summary.thresholds``): the claim holds only
if at least 3 seeds ran and, for EVERY tree size,
(isometry setting) hyperbolic OT's P@1 has mean >= 0.9 and worst seed >= 0.8 while Euclidean
Procrustes' mean P@1 is <= 0.5; and (independent setting) deep HOT's mean P@1 and mean P@10 are
each >= 0.02 above both isometric HOT's and Euclidean Procrustes' means, its P@1 is above both
on every seed, and no deep registration diverged. Quick: sizes 50/100, 3 seeds, 1 deep restart
of 3 plan/map rounds; ``--scale full`` adds sizes 200/400/800, 5 seeds, 8 deep restarts of 5.

    python -m experiments.hyperbolic.synthetic_matching --scale quick
"""

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

import jax
import numpy as np
from tqdm.auto import tqdm

from experiments.harness import (
    Summary,
    cache_key,
    cached_record,
    experiment_main,
    format_stats,
    judge,
    seed_stats,
    write_outputs,
)
from experiments.harness.loop import progress_enabled
from experiments.harness.plotting import plt, save_figure
from experiments.hyperbolic._settings import TINY_ALIGNMENT, compare_kwargs
from jaxml.hyperbolic import (
    COLUMN_LABELS,
    COLUMNS,
    compare_methods,
    noisy_isometric_copy,
    reconstruction_metrics,
    synthetic_hierarchy,
    train_poincare_embeddings,
    tree_orbit_sizes,
    true_match_from_permutation,
)
from jaxml.train import seed_keys

PAPER = "Alvarez-Melis, Mroueh & Jaakkola 2020 (AISTATS), synthetic hierarchy matching"
# The verdict rule's thresholds (see the module docstring).
MIN_SEEDS = 3
ISO_MIN_MEAN = 0.9
ISO_MIN_WORST = 0.8
ISO_EUC_MAX_MEAN = 0.5
IND_MIN_MARGIN = 0.02
CLAIM = (
    "Two embeddings of one hierarchy agree only up to a hyperbolic isometry, which includes "
    "Mobius translations: Euclidean Wasserstein-Procrustes fails once a translation is "
    "involved, hyperbolic OT (isometry registration + OT) succeeds; on independently trained "
    "embeddings a deep registration beats both. Rule, for every tree size over >= 3 seeds: "
    "isometric copy: hyperbolic OT P@1 mean >= 0.9, worst seed >= 0.8, Euclidean mean <= 0.5; "
    "independent: deep HOT mean P@1 and P@10 >= 0.02 above isometric HOT and Euclidean, P@1 "
    "above both on every seed, no divergence."
)
SETTINGS = ("isometry", "independent")
PK = ("p_at_1", "p_at_10")
ISO_COLUMNS = ("euclidean_procrustes", "gromov_wasserstein", "hyperbolic_ot", "oracle_isometry")
SETTING_COLUMNS = {"isometry": ISO_COLUMNS, "independent": COLUMNS}


@dataclasses.dataclass(frozen=True)
class Config:
    """Synthetic tree matching. Defaults: quick scale."""

    scale: str = "quick"
    tree_sizes: tuple[int, ...] = (50, 100)
    seeds: tuple[int, ...] = (0, 1, 2)
    dim: int = 5
    num_epochs: int = 200
    burn_in_epochs: int = 20
    translation_norm: float = 0.8
    noise: float = 0.02
    num_restarts: int = 8
    num_iters: int = 20
    gw_iterations: int = 30
    deep_restarts: int = 1
    deep_outer: int = 3
    deep_inner: int = 20
    deep_hidden: int = 32
    deep_fit_steps: int = 100

    SCALES: ClassVar[dict] = {
        "full": {
            "tree_sizes": (50, 100, 200, 400, 800),
            "seeds": (0, 1, 2, 3, 4),
            "num_epochs": 300,
            "num_restarts": 16,
            "num_iters": 30,
            "gw_iterations": 50,
            "deep_restarts": 8,
            "deep_outer": 5,
        },
        # 39 nodes, d = 3: the sizes of tests/hyperbolic (shared compiled programs).
        "tiny": {
            **TINY_ALIGNMENT,
            "tree_sizes": (39,),
            "seeds": (0, 1),
            "num_epochs": 30,
            "burn_in_epochs": 2,
        },
    }

    def __post_init__(self):
        if not self.tree_sizes or min(self.tree_sizes) < 3:
            raise ValueError(f"tree_sizes must be >= 3, got {self.tree_sizes}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be non-empty and distinct, got {self.seeds}")
        if not 0.0 <= self.translation_norm < 1.0:
            raise ValueError(f"translation_norm must be in [0, 1), got {self.translation_norm}")


def _match(x, y, truth, config, seed, setting):
    kwargs = compare_kwargs(config, ("num_restarts", "num_iters", "gw_iterations"))
    return compare_methods(x, y, truth, seed, columns=SETTING_COLUMNS[setting], **kwargs)


def _row(config, n: int, seed: int) -> dict:
    """One tree of ``n`` nodes: two embeddings, then every setting's columns (a JSON record)."""
    tree = synthetic_hierarchy(seed, num_nodes=n)
    keys = seed_keys([2 * seed, 2 * seed + 1])
    train = dict(num_epochs=config.num_epochs, burn_in_epochs=config.burn_in_epochs)
    emb, _, rate, _ = train_poincare_embeddings(
        tree.edges, n, config.dim, keys, return_info=True, **train
    )
    emb = np.asarray(emb)
    rec = reconstruction_metrics(emb[0], tree.edges)
    perm = np.random.default_rng(seed).permutation(n)
    truth = true_match_from_permutation(perm)
    row = {
        "num_nodes": n,
        "seed": seed,
        "map": float(rec.map),
        "mean_rank": float(rec.mean_rank),
        "relations_per_second": rate,
        "orbit_bound": float(np.mean(1.0 / tree_orbit_sizes(tree.parent_edges, n))),
    }
    for setting in SETTINGS:
        other = emb[1]
        if setting == "isometry":
            iso_key = jax.random.key(10_000 + seed)
            other = noisy_isometric_copy(iso_key, emb[0], config.translation_norm, config.noise)
        other = np.asarray(other)
        y = np.empty_like(other)
        y[perm] = other  # node i of x is node perm[i] of y
        row[setting] = _match(emb[0], y, truth, config, seed, setting)
    return row


def run(config: Config, workdir: Path) -> dict:
    workdir = Path(workdir)
    t0 = time.perf_counter()
    rows = []
    cases = [(n, s) for n in config.tree_sizes for s in config.seeds]
    bar = tqdm(cases, desc="trees", disable=not progress_enabled())
    for n, seed in bar:
        key = cache_key(config=dataclasses.asdict(config), n=n, seed=seed)
        compute = lambda n=n, s=seed: _row(config, n, s)  # noqa: E731
        rows.append(cached_record(workdir, f"tree{n}_seed{seed}", key, compute))
    figures = ["p_at_1.png"]
    table = _table(config, rows)
    _plot(config, table, workdir / figures[0])
    metrics = {
        "seeds": list(config.seeds),
        "rows": rows,
        "table": table,
        "wall_seconds": time.perf_counter() - t0,
    }
    return write_outputs(workdir, config, metrics, figures=figures)


def _table(config, rows):
    """Per setting, size and method: the per-seed P@1 and P@10 lists (in ``config.seeds``
    order), and per size the automorphism bound of each seed's tree."""
    table = {}
    for setting in SETTINGS:
        for n in config.tree_sizes:
            sel = [r for r in rows if r["num_nodes"] == n]
            for method in SETTING_COLUMNS[setting]:
                table[f"{setting}/n={n}/{method}"] = {
                    k: [r[setting][method][k] for r in sel]
                    for k in ("p_at_1", "p_at_10", "seconds", "diverged")
                }
            if setting == "independent":
                table[f"{setting}/n={n}/orbit_bound"] = [r["orbit_bound"] for r in sel]
    return table


def _plot(config, table, path):
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
    sizes = list(config.tree_sizes)
    pos = np.arange(len(sizes))
    for ax, setting in zip(axes, SETTINGS, strict=True):
        bars = [m for m in SETTING_COLUMNS[setting] if m != "oracle_isometry"]
        width = 0.8 / len(bars)
        for k, method in enumerate(bars):
            stats = [seed_stats(table[f"{setting}/n={n}/{method}"]["p_at_1"]) for n in sizes]
            means = np.array([st["mean"] for st in stats])
            yerr = [means - [st["min"] for st in stats], [st["max"] for st in stats] - means]
            vals10 = [np.mean(table[f"{setting}/n={n}/{method}"]["p_at_10"]) for n in sizes]
            at = pos + (k - (len(bars) - 1) / 2) * width
            bar_style = dict(color=f"C{COLUMNS.index(method)}", capsize=3)
            ax.bar(at, means, width, yerr=yerr, label=f"{COLUMN_LABELS[method]} P@1", **bar_style)
            tick_style = dict(marker="_", s=200, color="k", zorder=3)
            ax.scatter(at, vals10, label="P@10" if k == 0 else None, **tick_style)
        oracle = [np.mean(table[f"{setting}/n={n}/oracle_isometry"]["p_at_1"]) for n in sizes]
        oracle_label = "isometry fitted on the true pairs + NN, P@1"
        ax.plot(pos, oracle, "--", color="C3", marker="D", ms=4, label=oracle_label)
        if setting == "independent":
            bound = [np.mean(table[f"{setting}/n={n}/orbit_bound"]) for n in sizes]
            ax.plot(pos, bound, "k:", marker="o", ms=4, label="automorphism bound on P@1")
        ax.set_xticks(pos, [f"n = {n}" for n in sizes])
        title = (
            f"copy moved by a random isometry (|a| = {config.translation_norm}) + noise"
            if setting == "isometry"
            else "two independent embeddings of the tree"
        )
        ylabel = "precision (mean over seeds)"
        ax.set(title=title, ylim=(0, 1.3), yticks=np.linspace(0, 1, 6), ylabel=ylabel)
        ax.legend(fontsize=7, loc="upper center", ncol=3)
    fig.suptitle(
        f"random recursive trees, d = {config.dim}, {len(config.seeds)} seeds; "
        "bars: P@1 mean with min-max over seeds, black ticks: P@10 mean"
    )
    save_figure(fig, path)


def summarize(metrics: dict) -> Summary:
    """Applies the rule of the module docstring to every tree size and both settings."""
    table = metrics["table"]
    sizes = sorted({int(k.split("/")[1][2:]) for k in table})
    numbers = {"seeds": len(metrics["seeds"])}
    for key, val in table.items():
        if key.endswith("orbit_bound"):
            numbers[key] = format_stats(val, 2)
        else:
            numbers[key + " P@1, mean +- std [min, max]"] = format_stats(val["p_at_1"], 2)
            numbers[key + " seconds"] = format_stats(val.get("seconds", [np.nan]), 2)
            numbers[key + " P@10"] = format_stats(val["p_at_10"], 2)
    thresholds = {
        "min seeds": MIN_SEEDS,
        "isometry: min hyperbolic OT P@1 mean": ISO_MIN_MEAN,
        "isometry: min hyperbolic OT P@1 on the worst seed": ISO_MIN_WORST,
        "isometry: max Euclidean Procrustes P@1 mean": ISO_EUC_MAX_MEAN,
        "independent: min margin of deep HOT over isometric HOT, Euclidean": IND_MIN_MARGIN,
        "independent: deep HOT P@1 above both on every seed": True,
        "independent: diverged deep registrations allowed": 0,
    }
    failures = []
    num_seeds = len(metrics["seeds"])
    if num_seeds < MIN_SEEDS:
        failures.append(f"only {num_seeds} seed(s) (need {MIN_SEEDS})")
    parts = []
    for setting in SETTINGS:
        for n in sizes:
            get = {
                m: {k: np.asarray(table[f"{setting}/n={n}/{m}"][k], np.float64) for k in PK}
                for m in SETTING_COLUMNS[setting]
            }
            hyp, euc, gw = (
                get[m]["p_at_1"]
                for m in ("hyperbolic_ot", "euclidean_procrustes", "gromov_wasserstein")
            )
            where = f"{setting}, n={n}"
            parts.append(
                f"{where}: P@1 isometric HOT {format_stats(hyp, 2)}, Euclidean "
                f"{format_stats(euc, 2)}, GW {format_stats(gw, 2)}"
            )
            if setting == "isometry":
                for ok, msg in [
                    (hyp.mean() >= ISO_MIN_MEAN, f"OT mean P@1 {hyp.mean():.2f} < {ISO_MIN_MEAN}"),
                    (
                        hyp.min() >= ISO_MIN_WORST,
                        f"OT worst seed P@1 {hyp.min():.2f} < {ISO_MIN_WORST}",
                    ),
                    (
                        euc.mean() <= ISO_EUC_MAX_MEAN,
                        f"Euclidean mean P@1 {euc.mean():.2f} > {ISO_EUC_MAX_MEAN}",
                    ),
                ]:
                    if not ok:
                        failures.append(f"{where}: {msg}".replace(": OT", ": hyperbolic OT"))
                continue
            deep = get["deep_hot"]
            parts[-1] += f", deep HOT {format_stats(deep['p_at_1'], 2)}"
            diverged = sum(map(bool, table[f"{setting}/n={n}/deep_hot"].get("diverged", [])))
            if diverged:
                failures.append(f"{where}: {diverged} deep registration(s) diverged")
            for base in ("hyperbolic_ot", "euclidean_procrustes"):
                for k in PK:
                    a, b = np.nanmean(deep[k]), np.nanmean(get[base][k])
                    if not a >= b + IND_MIN_MARGIN:
                        failures.append(
                            f"{where}: deep HOT mean {k} {a:.2f} < {base} {b:.2f} + "
                            f"{IND_MIN_MARGIN}"
                        )
                if deep["p_at_1"].shape != get[base]["p_at_1"].shape or not np.all(
                    deep["p_at_1"] > get[base]["p_at_1"]
                ):
                    failures.append(f"{where}: deep HOT P@1 not above {base} on every seed")
    ok, verdict = judge(failures, f"{num_seeds} seeds; " + "; ".join(parts))
    return Summary(numbers, ok, verdict, thresholds)


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
