"""Tuning x IFT: an Optuna study over (lr, inner steps) whose trials tune per-weight decay by IFT.

Issue 19, composition 5. Two tuners of the digits MLP (:mod:`jaxml.tune.digits`: 200 training
examples, Adam) spend the same budget of training steps, each as an Optuna study in one SQLite
database (:mod:`jaxml.tune`):

- **nested**: TPE proposes one learning rate and the number of inner steps per hyperstep; each
  trial is a bilevel run (:func:`jaxml.implicit.bilevel`) that tunes one L2 decay per weight by
  IFT hypergradients from a common starting decay (:func:`jaxml.tune.nested.nested_ift_job`);
- **black box**: TPE proposes the same learning rate and one decay per layer, trained with them
  fixed (:func:`jaxml.tune.nested.shared_lr_job`).

Every inner step of every trial counts, and each IFT hyperstep adds ``2 * num_terms + 2``
step-equivalents. :func:`jaxml.tune.nested.run_to_budget` runs each study until the budget is
spent; a trial that ends past it does not count. The figure shows the best validation loss of
the finished trials against cumulative training steps (each seed), each seed's best validation
loss at the budget, and the test accuracy of each winner.

Verdict (``summarize``): >= ``MIN_SEEDS`` seeds, and on every seed the nested tuner's best
validation loss at the common budget is <= the black box's. Same rule at every scale but
"tiny" (a smoke run, no verdict).

    python -m experiments.compose.tune_ift --scale quick
"""

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

import numpy as np

from experiments.harness import Summary, cache_key, experiment_main, judge, write_outputs
from experiments.harness.config import require_at_least
from experiments.harness.plotting import plt, save_figure
from jaxml.tune import best_so_far, open_study, trial_records
from jaxml.tune.digits import DIGITS_SCALES
from jaxml.tune.nested import (
    best_within_budget,
    nested_ift_spec,
    run_to_budget,
    shared_lr_spec,
    steps_spent,
    within_budget,
)

PAPER = (
    "Lorraine et al. 2020 (IFT hypergradients, per-weight decay) inside Optuna (Akiba et al. "
    "2019; TPE, Bergstra et al. 2011), as in Auptimizer (Liu et al. 2019)"
)
CLAIM = (
    "On the same budget of training steps (every inner step and hypergradient counted), an "
    "Optuna study over the learning rate and the number of inner steps whose trials tune "
    "per-weight decay by IFT reaches a validation loss at least as low as black-box tuning of "
    "the learning rate and per-layer decay. Checked as: >= 3 seeds, and on every seed the "
    "nested tuner's best validation loss at the budget <= the black box's."
)
MIN_SEEDS = 3
METHODS = ("nested", "black_box")


@dataclasses.dataclass(frozen=True)
class Config:
    """Nested Optuna x IFT vs black-box tuning. Defaults are the quick scale."""

    scale: str = "quick"
    seeds: tuple[int, ...] = (0, 1, 2)
    job_scale: str = "small"
    step_budget: int = 3000  # training steps per study (10 black-box trials at quick)
    inner_steps: tuple[int, ...] = (10, 25, 50)  # each a compiled program; divide eval_every
    init_wd: float = 1e-3  # every weight's decay when an IFT trial starts
    proposer: str = "tpe"  # both studies' sampler
    n_startup_trials: int = 3
    max_trials: int = 200  # a cap; the step budget stops the studies first

    SCALES: ClassVar[dict] = {
        "tiny": {"seeds": (0,), "job_scale": "tiny", "step_budget": 80, "inner_steps": (10,)},
        "full": {
            "seeds": (0, 1, 2, 3, 4),
            "job_scale": "full",
            "step_budget": 40000,
            "inner_steps": (5, 10, 20, 25, 50, 100),
        },
    }

    def __post_init__(self):
        require_at_least(self, 1, "step_budget", "n_startup_trials", "max_trials")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and at least one; got {self.seeds}")
        if self.job_scale not in DIGITS_SCALES:
            raise ValueError(f"job_scale must be one of {tuple(DIGITS_SCALES)}")


def _specs(config: Config, workdir: Path, storage: str, seed: int) -> dict:
    # Studies are named by everything they depend on: a rerun with the same settings resumes
    # (or reuses) its studies from tune.db, a changed setting starts new ones.
    fields = dataclasses.asdict(config)
    key = cache_key(**{k: v for k, v in fields.items() if k not in ("scale", "seeds")})[:8]
    common = dict(
        scale=config.job_scale,
        seed=seed,
        proposer=config.proposer,
        n_trials=config.max_trials,
        storage=storage,
        n_startup_trials=config.n_startup_trials,
    )
    return {
        "nested": nested_ift_spec(
            str(workdir),
            inner_steps=config.inner_steps,
            init_wd=config.init_wd,
            study_name=f"nested-seed{seed}-{key}",
            **common,
        ),
        "black_box": shared_lr_spec(
            str(workdir), study_name=f"black_box-seed{seed}-{key}", **common
        ),
    }


def run(config: Config, workdir: Path) -> dict:
    workdir = Path(workdir)
    t0 = time.perf_counter()
    storage = f"sqlite:///{(workdir / 'tune.db').absolute()}"
    budget = config.step_budget
    per = {m: {} for m in METHODS}
    for seed in config.seeds:
        for method, spec in _specs(config, workdir, storage, seed).items():
            run_to_budget(spec, budget)
            records = trial_records(open_study(spec))
            xs, ys = best_so_far(records, anytime=False)
            win = best_within_budget(records, budget)
            per[method][str(seed)] = {
                "curve": [xs.tolist(), ys.tolist()],
                "states": [r["state"] for r in records],
                "trial_steps": [r["train_steps"] for r in records],
                "steps_spent": steps_spent(records),
                "best_val_loss": win["value"] if win else None,
                "best_test_accuracy": win["result"]["test_accuracy"] if win else None,
                "best_params": win["params"] if win else None,
                "best_end_steps": win["end_steps"] if win else None,
                "trials_in_budget": len(within_budget(records, budget)),
            }
    metrics = {"per_method": per, "seeds": list(config.seeds), "step_budget": budget}
    _plot(metrics, workdir / "tune_ift.png")
    metrics["wall_seconds"] = time.perf_counter() - t0
    metrics["storage"] = storage
    return write_outputs(workdir, config, metrics, figures=["tune_ift.png"])


LABELS = {
    "nested": "nested: TPE(lr, inner steps) x IFT per-weight decay",
    "black_box": "black box: TPE(lr, per-layer decay)",
}


def _plot(metrics: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    budget = metrics["step_budget"]
    per = metrics["per_method"]
    for i, (m, runs) in enumerate(per.items()):
        for j, r in enumerate(runs.values()):
            xs, ys = (np.asarray(v) for v in r["curve"])
            keep = xs <= budget  # a trial that ended past the budget does not count
            if not keep.any():
                continue
            xs, ys = np.append(xs[keep], budget), np.append(ys[keep], ys[keep][-1])
            axes[0].step(
                xs,
                ys,
                where="post",
                color=f"C{i}",
                alpha=0.85 if j == 0 else 0.4,
                label=LABELS[m] if j == 0 else None,
            )
    axes[0].axvline(budget, color="gray", ls=":", lw=1, label=f"budget {budget} steps")
    axes[0].set(
        xlabel="cumulative training steps (IFT: + hypergradient cost)",
        ylabel="best validation loss (finished trials)",
        yscale="log",
        title="best val loss vs training steps (each seed)",
    )
    axes[0].legend(fontsize=7)
    seeds = list(per["nested"])
    for i, m in enumerate(METHODS):
        vals = [per[m][s]["best_val_loss"] for s in seeds]
        vals = [np.nan if v is None else v for v in vals]
        axes[1].plot(seeds, vals, "o-", color=f"C{i}", label=LABELS[m])
    axes[1].set(xlabel="seed", ylabel="best val loss at the budget", title="at the common budget")
    axes[1].legend(fontsize=7)
    accs = [[per[m][s]["best_test_accuracy"] or np.nan for s in seeds] for m in METHODS]
    axes[2].bar(
        METHODS,
        [np.nanmean(a) for a in accs],
        yerr=[np.nanstd(a) for a in accs],
        color=["C0", "C1"],
    )
    for i, a in enumerate(accs):
        axes[2].plot([i] * len(a), a, "k.", ms=6)
    axes[2].set(
        ylim=(0.5, 1.0), ylabel="test accuracy", title="test accuracy of each winner (per seed)"
    )
    save_figure(fig, path)


def summarize(metrics: dict) -> Summary:
    per = metrics["per_method"]
    seeds = [str(s) for s in metrics["seeds"]]
    numbers = {"step budget (training steps)": metrics["step_budget"]}
    for m in METHODS:
        vals = [per[m][s]["best_val_loss"] for s in seeds]
        accs = [per[m][s]["best_test_accuracy"] for s in seeds]
        numbers[f"{m}: best val loss per seed"] = [None if v is None else round(v, 4) for v in vals]
        numbers[f"{m}: test acc. of winner per seed"] = [
            None if a is None else round(a, 4) for a in accs
        ]
        numbers[f"{m}: winner's end (steps) per seed"] = [
            per[m][s]["best_end_steps"] for s in seeds
        ]
        numbers[f"{m}: trials within budget per seed"] = [
            per[m][s]["trials_in_budget"] for s in seeds
        ]
    numbers["nested: winners' (lr, inner_steps)"] = [
        None
        if (p := per["nested"][s]["best_params"]) is None
        else (round(p["lr"], 4), p["inner_steps"])
        for s in seeds
    ]
    failures = []
    if len(seeds) < MIN_SEEDS:
        failures.append(f"{len(seeds)} seed(s) < {MIN_SEEDS}")
    for s in seeds:
        a, b = per["nested"][s]["best_val_loss"], per["black_box"][s]["best_val_loss"]
        if a is None:
            failures.append(f"seed {s}: no nested trial finished within the budget")
        elif b is not None and not a <= b:
            failures.append(f"seed {s}: nested val loss {a:.4f} > black box {b:.4f}")
    detail = "; ".join(
        f"seed {s}: nested {_fmt(per['nested'][s]['best_val_loss'])} vs black box "
        f"{_fmt(per['black_box'][s]['best_val_loss'])}"
        for s in seeds
    )
    ok, verdict = judge(failures, f"best val loss at {metrics['step_budget']} steps: {detail}")
    return Summary(
        numbers,
        ok,
        verdict,
        {
            "min seeds": MIN_SEEDS,
            "nested best val loss at the budget": "<= black box's, on every seed",
        },
    )


def _fmt(v) -> str:
    return "none" if v is None else f"{v:.4f}"


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
