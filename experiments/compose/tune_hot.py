"""Tuning x hyperbolic OT: Optuna picks HOT's setting by a label-free cost, then WordNet 3.0 vs 3.3.

Composes ``jaxml.tune`` (Optuna: TPE, SQLite storage, one in-process worker so every trial
reuses the compiled alignment) with ``jaxml.hyperbolic`` (Alvarez-Melis et al. 2020). Validation
pairs: one random tree with as many nodes as the WordNet subtree, embedded independently
``validation_pairs + 1`` times (embedding 0 vs each other one, relabelled). The study tunes the
epsilon schedule (``epsilon``, ``epsilon_start``), the registration (isometry or the deep MLP
map, and its ``deep_outer`` rounds) and the restarts, scoring each trial by
``jaxml.hyperbolic.selection_cost`` only (entropic OT cost of ``f(x)`` vs ``y`` at one fixed
epsilon; labels are recorded beside it, never optimized). The best trial's setting and
``DEFAULT_SETTING`` are then applied to WordNet 3.0 vs 3.3 (``root``'s closure, independent
embeddings per seed, truth by lemmas): P@1 / P@10, and the Spearman / Kendall correlation of
-cost with validation P@1 across trials (is the label-free objective a good proxy?).

Verdict (``summarize``): >= 3 seeds, >= ``MIN_TRIALS`` completed trials, the tuned setting's
mean WordNet P@1 >= the default's + ``MIN_MARGIN``, and Spearman(-cost, P@1) over trials >=
``MIN_SPEARMAN``. Quick: ruminant.n.01 (162 nodes), 3 seeds, 8 trials on 2 validation pairs;
``--scale full``: mammal.n.01 (1,182 nodes), 5 seeds, 30 trials on 4 pairs.

    python -m experiments.compose.tune_hot --scale quick
"""

import dataclasses
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
    write_outputs,
)
from experiments.harness.loop import progress_enabled
from experiments.harness.plotting import plt, save_figure
from jaxml.hyperbolic import (
    DEFAULT_SETTING,
    TINY_ALIGNMENT,
    align_setting,
    hot_selection_job,
    match_by_lemmas,
    permute_hierarchy,
    precision_at_k,
    proxy_correlation,
    save_validation_pairs,
    synthetic_hierarchy,
    train_poincare_embeddings,
    true_match_from_permutation,
    wordnet_hierarchy,
)
from jaxml.train import seed_keys
from jaxml.tune import Param, Reporter, TuneSpec, open_study, run_study, trial_records

PAPER = (
    "Alvarez-Melis, Mroueh & Jaakkola 2020 (AISTATS), hyperbolic OT hierarchy matching; "
    "Liu et al. 2019 (Auptimizer) / Akiba et al. 2019 (Optuna), hyperparameter search"
)
MIN_SEEDS = 3
MIN_TRIALS = 5
MIN_MARGIN = 0.01
MIN_SPEARMAN = 0.5
CLAIM = (
    "Choosing hyperbolic OT's epsilon schedule, registration depth and restarts by Optuna on "
    "the label-free transport cost of synthetic validation hierarchies improves WordNet 3.0 vs "
    "3.3 matching over the default setting, and that cost is a good proxy for P@1. Rule: >= 3 "
    "seeds, >= 5 completed trials, tuned mean P@1 >= default + 0.01, and Spearman(-cost, P@1) "
    ">= 0.5 across trials on the validation pairs."
)
PK = ("p_at_1", "p_at_10")
SETTING_KEYS = ("epsilon", "epsilon_start", "num_restarts", "registration", "deep_outer")


@dataclasses.dataclass(frozen=True)
class Config:
    """Label-free HOT tuning, then WordNet. Defaults: quick scale."""

    scale: str = "quick"
    seeds: tuple[int, ...] = (0, 1, 2)
    root: str = "ruminant.n.01"
    source_version: str = "3.0"
    target_version: str = "3.3"
    dim: int = 5
    num_epochs: int = 200
    burn_in_epochs: int = 20
    validation_seed: int = 100
    validation_pairs: int = 2
    n_trials: int = 8
    n_startup_trials: int = 4
    epsilon_range: tuple[float, float] = (0.003, 0.1)
    epsilon_start_range: tuple[float, float] = (0.1, 3.0)
    restart_choices: tuple[int, ...] = (1, 2, 4)
    registrations: tuple[str, ...] = ("isometry", "mlp")
    deep_outer_choices: tuple[int, ...] = (3,)
    num_iters: int = 10
    deep_inner: int = 10
    deep_hidden: int = 32
    selection_epsilon: float = 0.05

    SCALES: ClassVar[dict] = {
        "full": {
            "root": "mammal.n.01",
            "seeds": (0, 1, 2, 3, 4),
            "num_epochs": 300,
            "validation_pairs": 4,
            "n_trials": 30,
            "n_startup_trials": 10,
            "restart_choices": (1, 4, 8, 16),
            "deep_outer_choices": (3, 5, 8),
            "num_iters": 30,
            "deep_inner": 20,
        },
        # monkey.n.01: 39 nodes in 3.0 and 3.3, d = 3 (the sizes of tests/hyperbolic).
        "tiny": {
            "root": "monkey.n.01",
            "seeds": (0, 1),
            "num_epochs": 10,
            "burn_in_epochs": 2,
            "validation_pairs": 1,
            "n_trials": 2,
            "n_startup_trials": 1,
            "restart_choices": (1, TINY_ALIGNMENT["num_restarts"]),
            "registrations": ("isometry",),  # (< 10 s); the deep path is tested on these sets
            "deep_outer_choices": (TINY_ALIGNMENT["deep_outer"],),
            **{k: TINY_ALIGNMENT[k] for k in ("dim", "num_iters", "deep_inner")},
            "deep_hidden": TINY_ALIGNMENT["deep_hidden"],
        },
    }

    def __post_init__(self):
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be non-empty and distinct, got {self.seeds}")
        if self.validation_pairs < 1 or self.n_trials < 1:
            raise ValueError("validation_pairs and n_trials must be >= 1")
        if DEFAULT_SETTING["num_restarts"] > max(self.restart_choices):
            raise ValueError(f"restart_choices must reach {DEFAULT_SETTING['num_restarts']}")
        if self.deep_hidden < self.dim:
            raise ValueError(f"deep_hidden must be >= dim = {self.dim}, got {self.deep_hidden}")


def _embed(workdir, config, h, name, seeds):
    """One Poincare embedding of ``h`` per seed (one vmapped program), cached under ``name``."""
    key = cache_key(config=dataclasses.asdict(config), name=name, seeds=list(seeds))
    cached = load_cached(workdir, name, key)
    if cached is None:
        train = dict(num_epochs=config.num_epochs, burn_in_epochs=config.burn_in_epochs)
        emb = train_poincare_embeddings(h.edges, h.num_nodes, config.dim, seed_keys(seeds), **train)
        cached = {"emb": np.asarray(emb)}
        save_cached(workdir, name, key, **cached)
    return np.asarray(cached["emb"])


def _fixed(c) -> dict:
    """The ``align_setting`` keywords the study does not tune."""
    fixed = dict(num_iters=c.num_iters, deep_inner=c.deep_inner, hidden=c.deep_hidden)
    return fixed | dict(max_restarts=max(c.restart_choices), selection_epsilon=c.selection_epsilon)


def _space(c) -> list:
    ranges = {"epsilon": c.epsilon_range, "epsilon_start": c.epsilon_start_range}
    cats = {"num_restarts": c.restart_choices, "registration": c.registrations}
    cats["deep_outer"] = c.deep_outer_choices
    return [Param(k, low=lo, high=hi, log=True) for k, (lo, hi) in ranges.items()] + [
        Param(k, "categorical", choices=v) for k, v in cats.items()
    ]


def _score(x, y, truth, seed, setting, fixed) -> dict:
    res = align_setting(x, y, jax.random.key(seed), **fixed, **setting)
    out = {f"p_at_{k}": float(precision_at_k(res.log_plan, truth, k)) for k in (1, 10)}
    return out | {"selection_cost": float(res.selection_cost)}


def run(config: Config, workdir: Path) -> dict:
    workdir = Path(workdir)  # created by _embed's cache (before anything else is written)
    t0 = time.perf_counter()
    source = wordnet_hierarchy(config.root, version=config.source_version)
    target, _ = permute_hierarchy(wordnet_hierarchy(config.root, version=config.target_version), 1)
    truth = match_by_lemmas(source.lemmas, target.lemmas)
    # Validation: a random tree of the same size, so its alignments share compiled programs.
    tree = synthetic_hierarchy(config.validation_seed, num_nodes=source.num_nodes)
    v_seeds = [config.validation_seed + k for k in range(config.validation_pairs + 1)]
    v_emb = _embed(workdir, config, tree, "validation", v_seeds)
    rng = np.random.default_rng(config.validation_seed)
    xs, ys, truths = [], [], []
    for k in range(1, config.validation_pairs + 1):
        perm = rng.permutation(tree.num_nodes)
        y = np.empty_like(v_emb[k])
        y[perm] = v_emb[k]  # node i of x is node perm[i] of y
        xs, ys, truths = xs + [v_emb[0]], ys + [y], truths + [true_match_from_permutation(perm)]
    validation = workdir / "validation_pairs.npz"
    save_validation_pairs(validation, xs, ys, truths)

    fixed = _fixed(config)
    run_key = cache_key(config=dataclasses.asdict(config))
    spec = TuneSpec(
        proposer="tpe",
        n_trials=config.n_trials,
        params=_space(config),
        job="jaxml.hyperbolic.selection:hot_selection_job",
        job_kwargs={"validation": str(validation.absolute()), "seed": 0, **fixed},
        workdir=str(workdir),
        study_name=f"tune-hot-{run_key}",
        n_startup_trials=config.n_startup_trials,
        seed=config.validation_seed,
    )
    run_study(spec, progress=progress_enabled())  # resumes a finished study: nothing reruns
    done = [r for r in trial_records(open_study(spec)) if r["state"] == "COMPLETE"]
    trials = [
        {
            "params": r["params"],
            "cost": r["value"],
            **{k: float(np.mean(r["result"][k])) for k in PK},
        }
        for r in done
    ]
    best = min(trials, key=lambda t: t["cost"])
    tuned = {k: best["params"][k] for k in SETTING_KEYS}
    default = DEFAULT_SETTING | {"deep_outer": config.deep_outer_choices[0]}

    def default_validation():  # the job itself, with the trials' keys: comparable scores
        rep = Reporter()
        cost = hot_selection_job(default, rep, **spec.job_kwargs)
        return {"selection_cost": cost} | {k: float(np.mean(rep.attrs[k])) for k in PK}

    def proxies(ts):  # rank correlation of -cost with each precision across trials ts
        pairs = {k: ([t["cost"] for t in ts], [t[k] for t in ts]) for k in PK}
        return {k: proxy_correlation(*v) for k, v in pairs.items()} if len(ts) > 2 else None

    def wordnet():
        sx = _embed(workdir, config, source, "source", [2 * s for s in config.seeds])
        sy = _embed(workdir, config, target, "target", [2 * s + 1 for s in config.seeds])
        out = {}
        for name, setting in (("default", default), ("tuned", tuned)):
            rows = [_score(sx[i], sy[i], truth, s, setting, fixed)
                    for i, s in enumerate(config.seeds)]  # fmt: skip
            out[name] = {k: [r[k] for r in rows] for k in rows[0]}
        return out

    metrics = {
        "root": config.root,
        "num_nodes": [source.num_nodes, target.num_nodes],
        "num_ground_truth_pairs": int(np.sum(truth >= 0)),
        "chance_p_at_1": 1.0 / target.num_nodes,
        "seeds": list(config.seeds),
        "trials": trials,
        "default_setting": default,
        "tuned_setting": tuned,
        "default_validation": cached_record(workdir, "default", run_key, default_validation),
        "proxy": proxies(trials),
        "proxy_by_registration": {
            r: proxies([t for t in trials if t["params"]["registration"] == r])
            for r in config.registrations
        },
        "wordnet": cached_record(workdir, "wordnet", run_key, wordnet),
        "storage": spec.storage_url,
    }
    _plot(config, metrics, workdir / "tune_hot.png")
    metrics["wall_seconds"] = time.perf_counter() - t0
    return write_outputs(workdir, config, metrics, figures=["tune_hot.png"])


def _plot(config, metrics, path):
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.5))
    for reg, marker in (("isometry", "o"), ("mlp", "^")):
        ts = [t for t in metrics["trials"] if t["params"]["registration"] == reg]
        ax0.scatter([t["cost"] for t in ts], [t["p_at_1"] for t in ts], marker=marker,
                    label=f"trials, {reg}")  # fmt: skip
    dv = metrics["default_validation"]
    ax0.scatter([dv["selection_cost"]], [dv["p_at_1"]], marker="*", s=150, c="k", label="default")
    rho = (metrics["proxy"] or {"p_at_1": {"spearman": float("nan")}})["p_at_1"]["spearman"]
    ax0.set(xlabel="validation selection cost (label-free; lower = chosen)",
            ylabel="validation P@1 (not used by the search)",
            title=f"synthetic validation: Spearman(-cost, P@1) = {rho:.2f}")  # fmt: skip
    ax0.legend(fontsize=8)
    wn = metrics["wordnet"]
    for j, k in enumerate(("p_at_1", "p_at_10")):
        for i, name in enumerate(("default", "tuned")):
            vals = np.asarray(wn[name][k])
            ax1.bar(2 * j + i, vals.mean(), color=f"C{i}", label=name if j == 0 else None)
            ax1.scatter(np.full(vals.size, 2 * j + i), vals, c="k", s=10, zorder=3)
    ax1.axhline(metrics["chance_p_at_1"], color="gray", ls=":", label="chance P@1")
    ax1.set_xticks([0.5, 2.5], ["P@1", "P@10"])
    ax1.set(title=f"WordNet {config.source_version} vs {config.target_version}, {config.root} "
            f"({len(config.seeds)} seeds)", ylabel="precision (mean; dots: seeds)")  # fmt: skip
    ax1.legend(fontsize=8)
    save_figure(fig, path)


def summarize(metrics: dict) -> Summary:
    """Applies the rule of the module docstring."""
    wn, trials = metrics["wordnet"], metrics["trials"]
    d1, t1 = (np.asarray(wn[n]["p_at_1"], np.float64) for n in ("default", "tuned"))
    nan = {"spearman": float("nan"), "kendall": float("nan"), "n": len(trials)}
    proxy, proxy10 = ((metrics["proxy"] or {}).get(k, nan) for k in PK)
    numbers = {
        "WordNet root (nodes)": f"{metrics['root']} ({metrics['num_nodes'][0]})",
        "chance P@1": f"{metrics['chance_p_at_1']:.4f}",
        "completed trials": len(trials),
        "tuned setting": metrics["tuned_setting"],
        "default P@1": format_stats(d1),
        "tuned P@1": format_stats(t1),
        "default P@10": format_stats(wn["default"]["p_at_10"]),
        "tuned P@10": format_stats(wn["tuned"]["p_at_10"]),
        "Spearman / Kendall (-cost vs validation P@1)": (
            f"{proxy['spearman']:.3f} / {proxy['kendall']:.3f}"
        ),
        "Spearman (-cost vs validation P@10)": f"{proxy10['spearman']:.3f}",
    }
    for reg, p in metrics.get("proxy_by_registration", {}).items():
        if p:  # None below 3 trials of that registration
            numbers[f"Spearman(-cost, P@1), {reg} trials"] = f"{p['p_at_1']['spearman']:.3f}"
    thresholds = {
        "min seeds": MIN_SEEDS,
        "min completed trials": MIN_TRIALS,
        "min margin of tuned over default (mean WordNet P@1)": MIN_MARGIN,
        "min Spearman(-cost, P@1) across trials": MIN_SPEARMAN,
    }
    failures = []
    if len(metrics["seeds"]) < MIN_SEEDS:
        failures.append(f"only {len(metrics['seeds'])} seed(s) (need {MIN_SEEDS})")
    if len(trials) < MIN_TRIALS:
        failures.append(f"only {len(trials)} completed trial(s) (need {MIN_TRIALS})")
    if d1.size != t1.size or not np.mean(t1) >= np.mean(d1) + MIN_MARGIN:
        failures.append(
            f"tuned mean P@1 {np.mean(t1):.3f} < default {np.mean(d1):.3f} + {MIN_MARGIN}"
        )
    if not proxy["spearman"] >= MIN_SPEARMAN:
        failures.append(f"Spearman(-cost, P@1) {proxy['spearman']:.3f} < {MIN_SPEARMAN}")
    detail = (
        f"{metrics['root']}, {len(metrics['seeds'])} seeds, {len(trials)} trials; P@1 tuned "
        f"{np.mean(t1):.3f} vs default {np.mean(d1):.3f} (chance "
        f"{metrics['chance_p_at_1']:.4f}); proxy Spearman {proxy['spearman']:.3f}"
    )
    ok, verdict = judge(failures, detail)
    return Summary(numbers, ok, verdict, thresholds)


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
