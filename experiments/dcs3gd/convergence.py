"""Rigazzi (2019), DC-S3GD, convergence: test accuracy vs step, sync vs stale vs delay-compensated.

A small MLP on 8x8 digits is trained data-parallel on 8 (simulated) devices with a large global
batch by sync SGD, stale SGD without compensation (DC-S3GD with lambda = 0) and DC-S3GD, at
staleness 1, 2, 4, over learning rates and seeds. Verdict: :func:`summarize`. DC-S3GD's strength
is Zheng et al.'s adaptive DC-ASGD-a rule (``lambda_t = lambda_0 / sqrt(v_t)``, ``lambda_0 = 2``,
``v`` decay 0.95): with a constant lambda such as MXNet's 0.04 (the value the paper digest names)
the correction is ~1e-6 of the step here and the run is plain stale SGD. ``dc_local`` is the
local-step variant. At quick scale DC-S3GD diverges (NaN by step ~75) at lr 0.7, tau 4 in every
seed while sync reaches 0.96, so the rule fails. Nothing in the paper digest (docs/PAPERS.md:
the DC-ASGD term, lambda 0.04, tau 1 as the natural setting, stale and local variants) is
missing here; at that cell (1 device, 3 seeds) lambda 0.04 and adaptive lambda_0 0.5 end at
0.10-0.13, lambda_0 1 at 0.83, and a 100-step lr warm-up (not in the digest) diverges as well:
the g (.) g curvature proxy does not stabilize a 4-step-stale update at this step size.

    python -m experiments.dcs3gd.convergence --scale quick   # --scale full: mnist1d, CNN
"""

if __name__ == "__main__":  # before JAX is imported: 8 simulated CPU devices
    from experiments.dcs3gd.devices import request_host_devices

    request_host_devices(8)

import dataclasses  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import ClassVar  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402

from experiments.dcs3gd.devices import require_devices  # noqa: E402
from experiments.harness import Summary, experiment_main, train_loop, write_outputs  # noqa: E402
from experiments.harness.plotting import plt, save_figure  # noqa: E402
from jaxml import _validation as v  # noqa: E402
from jaxml.data import load_digits, load_mnist1d  # noqa: E402
from jaxml.models import make_classifier  # noqa: E402
from jaxml.parallel import (  # noqa: E402
    data_parallel_sweep,
    dc_s3gd,
    device_mesh,
    init_sweep_state,
    put_replicated,
    sweep_evaluator,
    sync_sgd,
)
from jaxml.train import sweep_logs  # noqa: E402

FRESH_INTERPRETER = True  # 8 simulated devices: XLA_FLAGS must be set before JAX is imported
PAPER = "Rigazzi 2019, DC-S3GD (arXiv 1911.02516): convergence with large global batches"
CLAIM = (
    "DC-S3GD (stale-synchronous SGD with DC-ASGD delay compensation) reaches the test accuracy "
    "of synchronous SGD, and the compensation is what makes stale updates work. Rule (mean final "
    "test accuracy over seeds): at EVERY learning rate and staleness swept DC-S3GD is at most "
    "0.02 below sync; uncompensated stale SGD (same lr and staleness) fails, i.e. is more than "
    "0.02 below sync, in at least one cell; and in every such cell DC-S3GD beats stale SGD by at "
    "least 0.02. If stale SGD never fails, compensation did not matter at these settings and the "
    "claim is not supported."
)
AXIS = "devices"
METHODS = ("sync", "stale", "dc", "local", "dc_local")
LABELS = {"sync": "sync SGD", "stale": "stale SGD (lambda=0)", "dc": "DC-S3GD"}
LABELS |= {"local": "local variant, lambda=0", "dc_local": "DC-S3GD, local variant"}
COLORS = {"sync": "k", "stale": "C3", "dc": "C0", "local": "C2", "dc_local": "C1"}


@dataclasses.dataclass(frozen=True)
class Config:
    """DC-S3GD convergence study. Defaults are the quick scale."""

    scale: str = "quick"
    seed: int = 0
    num_seeds: int = 3
    dataset: str = "digits"
    model: str = "mlp"
    hidden: tuple[int, ...] = (128,)
    features: tuple[int, ...] = (16, 32)
    num_devices: int = 8
    global_batch: int = 256
    num_steps: int = 500
    eval_every: int = 25
    learning_rates: tuple[float, ...] = (0.3, 0.5, 0.7)
    main_learning_rate: float = 0.5
    stalenesses: tuple[int, ...] = (1, 2, 4)
    methods: tuple[str, ...] = ("sync", "stale", "dc", "local")
    lam: float = 2.0
    mean_square_decay: float | None = 0.95
    momentum: float = 0.0
    match_tolerance: float = 0.02
    compensation_margin: float = 0.02
    checkpoint_every: int = 10  # in chunks of eval_every steps (a save costs ~0.4 s)

    SCALES: ClassVar[dict] = {
        "full": {"dataset": "mnist1d", "model": "cnn", "features": (32, 64), "num_seeds": 5}
        | {"global_batch": 1024, "num_steps": 3000, "eval_every": 100, "momentum": 0.9}
        | {"learning_rates": (0.05, 0.1, 0.2), "main_learning_rate": 0.1},
        "tiny": {"num_seeds": 2, "hidden": (16,), "global_batch": 64, "num_steps": 20}
        | {"eval_every": 10, "learning_rates": (0.3, 0.5), "stalenesses": (2,)}
        | {"methods": ("sync", "dc"), "checkpoint_every": 1},
    }

    def __post_init__(self):
        v.check_choice(self.dataset, "dataset", ("digits", "mnist1d"))
        v.check_choice(self.model, "model", ("mlp", "cnn"))
        for name in ("num_seeds", "num_devices", "global_batch", "num_steps", "eval_every"):
            v.check_int(getattr(self, name), name, minimum=1)
        if self.num_steps % self.eval_every:
            raise ValueError(f"num_steps {self.num_steps} must be a multiple of eval_every")
        if set(self.methods) - set(METHODS) or "sync" not in self.methods:
            raise ValueError(f"methods must include 'sync', among {METHODS}; got {self.methods}")
        v.check_choice(self.main_learning_rate, "main_learning_rate", self.learning_rates)
        v.check_array(self.learning_rates, "learning_rates", ndim=1, minimum=1e-12, min_size=1)
        v.check_array(self.stalenesses, "stalenesses", ndim=1, dtype="int", minimum=1, min_size=1)
        for name in ("match_tolerance", "compensation_margin"):
            v.check_nonnegative(getattr(self, name), name)


def load_data(config: Config):
    if config.dataset == "digits":
        return load_digits(seed=config.seed, flatten=(config.model == "mlp"))
    data = load_mnist1d(seed=config.seed)  # the CNN takes [n, length, 1]
    add_channel = lambda s: s._replace(x=s.x[..., None]) if config.model == "cnn" else s  # noqa: E731
    return data._replace(**{s: add_channel(getattr(data, s)) for s in ("train", "val", "test")})


def make_optimizer(config: Config, method: str, learning_rate, staleness: int):
    """The optimizer of ``method``; ``learning_rate`` may be traced (vmapped over the sweep)."""
    if method == "sync":
        return sync_sgd(learning_rate, config.momentum, axis_name=AXIS)
    dc, local = method in ("dc", "dc_local"), method in ("local", "dc_local")
    kw = {"variant": "local" if local else "stale", "momentum": config.momentum, "axis_name": AXIS}
    kw["mean_square_decay"] = config.mean_square_decay if dc else None
    return dc_s3gd(learning_rate, config.lam if dc else 0.0, staleness, **kw)


run_key = "{}/lr{:g}/tau{}".format  # run_key(method, learning_rate, staleness)


def train_group(config, method, staleness, model, data, mesh, workdir, evaluator) -> dict:
    """Trains one (method, tau) for every learning rate and seed as one sweep; resumable."""
    e, lrs = config.eval_every, config.learning_rates
    seeds = (np.arange(config.num_seeds) + 1000 * config.seed).astype(np.int32)
    sizes = {"num_examples": len(data.train.y), "global_batch": config.global_batch}
    opt_fn = lambda lr: make_optimizer(config, method, lr, staleness)  # noqa: E731
    chunk = data_parallel_sweep(model.apply, opt_fn, mesh, steps_per_call=e, **sizes)
    chunk_fn = jax.jit(chunk, donate_argnums=0)
    opt = make_optimizer(config, method, 0.1, staleness)  # its state is lr-independent
    init_fn = lambda k: model.init(k, data.train.x[:1])  # noqa: E731
    state0 = init_sweep_state(init_fn, opt, seeds, len(lrs), mesh)
    keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.key(s), 7))(seeds)
    inputs = put_replicated((data.train.x, data.train.y, keys, np.float32(lrs)), mesh)

    def step_fn(state, c):
        state, losses = chunk_fn(state, *inputs, np.int32(c))  # losses [K, e, L, S]
        return state, sweep_logs(losses[0, -1])

    ckpt = {"checkpoint_dir": Path(workdir) / "ckpt" / f"{method}_tau{staleness}", "config": config}
    ckpt["checkpoint_every"], t0 = config.checkpoint_every, time.perf_counter()
    kw = {"eval_every": 1, "desc": f"{method} tau={staleness}"}
    one = lambda a: jax.device_put(a, jax.devices()[0])  # noqa: E731 (sharded: 7x the CPU time)
    kw["eval_fn"] = lambda st: jax.device_get(evaluator(one(st.params)))
    result = train_loop(state0, step_fn, num_steps=config.num_steps // e, **kw, **ckpt)
    wall = time.perf_counter() - t0
    # [E, L, S] per metric (as float: a resumed history may hold "nan" strings)
    hist = {k: np.asarray(v, float) for k, v in result.stacked_history().items()}
    out = {}
    for i, lr in enumerate(lrs):
        acc, loss = hist["test_accuracy"][:, i], hist["train_loss"][:, i]  # [E, S]
        history = {"step": [int(t) * e for t in hist["step"]], "test_accuracy": acc.tolist()}
        out[run_key(method, lr, staleness)] = {
            "method": method, "learning_rate": lr, "staleness": staleness,
            "history": history | {"train_loss": loss.tolist()},
            "final_test_accuracy": acc[-1].tolist(),
            "final_train_loss": [float(v) if math.isfinite(v) else math.nan for v in loss[-1]],
            "diverged": [not (math.isfinite(v) and v < 10.0) for v in loss[-1]],
            "mean_test_accuracy": float(np.mean(acc[-1])),
            "resumed_from_step": result.resumed_from * e,
            "group_train_seconds": result.train_seconds, "group_wall_seconds": wall,
        }  # fmt: skip
    return out


def table(runs: dict, stalenesses) -> dict:
    """``table[method][lr][tau] = mean final test accuracy`` (sync under every tau)."""
    out: dict = {}
    for r in runs.values():
        cell = out.setdefault(r["method"], {}).setdefault(f"{r['learning_rate']:g}", {})
        for t in stalenesses if r["method"] == "sync" else [r["staleness"]]:
            cell[str(t)] = r["mean_test_accuracy"]
    return out


def plot(config: Config, runs: dict, path: Path) -> None:
    taus, lrs, main = config.stalenesses, config.learning_rates, config.main_learning_rate
    kind = "adaptive, lambda_0" if config.mean_square_decay is not None else "lambda"
    labels = LABELS | {m: f"{LABELS[m]} ({kind}={config.lam:g})" for m in ("dc", "dc_local")}
    ncols = max(len(taus), len(lrs))
    fig, axes = plt.subplots(2, ncols, figsize=(4.2 * ncols, 7.4), squeeze=False)
    for ax in [*axes[0, len(taus) :], *axes[1, len(lrs) :]]:
        ax.axis("off")
    for j, tau in enumerate(taus):  # top: accuracy vs step at the main learning rate
        for method in config.methods:
            hist = runs[run_key(method, main, 0 if method == "sync" else tau)]["history"]
            steps, acc = hist["step"], np.asarray(hist["test_accuracy"])
            kw = {"color": COLORS[method]}
            axes[0, j].plot(steps, acc.mean(1), label=labels[method], lw=1.6, **kw)
            axes[0, j].fill_between(steps, acc.min(1), acc.max(1), alpha=0.15, **kw)
        axes[0, j].set(title=f"staleness {tau}, lr {main:g}", xlabel="step", ylim=(0, 1.01))
    tab = table(runs, config.stalenesses)
    for j, lr in enumerate(lrs):  # bottom: final accuracy vs staleness at every learning rate
        ax = axes[1, j]
        ax.axhline(tab["sync"][f"{lr:g}"][str(taus[0])], color="k", ls="--", label=LABELS["sync"])
        for method in (m for m in config.methods if m != "sync"):
            accs = np.array([runs[run_key(method, lr, t)]["final_test_accuracy"] for t in taus])
            mean, err = accs.mean(1), [accs.mean(1) - accs.min(1), accs.max(1) - accs.mean(1)]
            ax.errorbar(taus, mean, yerr=err, color=COLORS[method], marker="o", capsize=3)
        ax.set(title=f"final test accuracy, lr {lr:g}", xlabel="staleness tau", ylim=(0, 1.01))
        ax.set_xticks(list(taus))
    axes[0, 0].legend(fontsize=8, loc="lower right")
    axes[0, 0].set_ylabel("test accuracy"), axes[1, 0].set_ylabel("test accuracy")
    title = f"DC-S3GD on {config.dataset} ({config.model}), {config.num_devices} devices, global "
    fig.suptitle(title + f"batch {config.global_batch}, {config.num_seeds} seeds (min-max)")
    save_figure(fig, path)


def run(config: Config, workdir: Path) -> dict:
    """Trains every (method, learning rate, staleness) cell; writes metrics and the figure."""
    require_devices(config.num_devices, "experiments.dcs3gd.convergence")
    workdir, t0 = Path(workdir), time.perf_counter()
    data = load_data(config)
    sizes = {"num_classes": data.num_classes, "input_shape": data.input_shape}
    model = make_classifier(config.model, hidden=config.hidden, features=config.features, **sizes)
    mesh = device_mesh(config.num_devices, AXIS)
    stale_methods = [m for m in config.methods if m != "sync"]
    groups = [("sync", 0)] + [(m, t) for t in config.stalenesses for m in stale_methods]
    splits = {"test": (data.test.x, data.test.y), "train": (data.train.x, data.train.y)}
    evaluator = jax.jit(sweep_evaluator(model.apply, splits))  # {split}_{accuracy,loss} [L, S]
    runs = {}  # one evaluator for every group: traced once
    for method, tau in groups:
        runs.update(train_group(config, method, tau, model, data, mesh, workdir, evaluator))
    plot(config, runs, workdir / "convergence.png")
    fields = ("learning_rates", "main_learning_rate", "stalenesses", "methods")
    metrics = {"runs": runs, "table": table(runs, config.stalenesses)}
    metrics |= {k: getattr(config, k) for k in (*fields, "match_tolerance", "compensation_margin")}
    metrics["wall_seconds"] = time.perf_counter() - t0
    return write_outputs(workdir, config, metrics, figures=["convergence.png"])


def judge(tab: dict, lrs, taus, tol: float, margin: float) -> dict:
    """The verdict's facts per (lr, tau) cell of ``table``: DC-S3GD's and stale SGD's gaps below
    sync, whether stale SGD fails (gap > ``tol``), DC-S3GD's advantage over stale SGD. A missing
    method or a NaN accuracy makes every condition that needs it false."""
    acc = lambda m, lr, t: float(tab.get(m, {}).get(lr, {}).get(t, math.nan))  # noqa: E731
    cells = []
    for lr, t in ((f"{lr:g}", str(t)) for lr in lrs for t in taus):
        sync, dc, stale = acc("sync", lr, t), acc("dc", lr, t), acc("stale", lr, t)
        cells.append(
            {"lr": lr, "tau": t, "gap_dc": sync - dc, "gap_stale": sync - stale}
            | {"dc_ok": sync - dc <= tol, "stale_fails": sync - stale > tol}  # NaN -> False
            | {"advantage": dc - stale, "beats_stale": dc - stale >= margin}
        )
    failing = [c for c in cells if c["stale_fails"]]
    return {
        "cells": cells,
        "all_finite": all(math.isfinite(c[k]) for c in cells for k in ("gap_dc", "gap_stale")),
        "dc_everywhere": bool(cells) and all(c["dc_ok"] for c in cells),
        "stale_failing": failing,
        "compensation_shown": bool(failing) and all(c["beats_stale"] for c in failing),
    }


def summarize(metrics: dict) -> Summary:
    """Rule (all must hold; means over seeds of the final test accuracy): (1) at EVERY lr and
    tau DC-S3GD is at most ``match_tolerance`` below sync; (2) stale SGD (lambda = 0) fails --
    is more than ``match_tolerance`` below sync -- in at least one cell (else compensation did
    not matter at these settings); (3) in every such cell DC-S3GD beats stale SGD by at least
    ``compensation_margin``. A missing ``stale``/``dc`` run or a NaN accuracy fails the rule."""
    _where = lambda cs: ", ".join(f"lr {c['lr']} tau {c['tau']}" for c in cs) or "none"  # noqa: E731
    _listed = lambda cs, k, fmt="+.3f": ", ".join(f"{c[k]:{fmt}}" for c in cs)  # noqa: E731
    tab, tol = metrics["table"], float(metrics["match_tolerance"])
    margin = float(metrics.get("compensation_margin", Config.compensation_margin))
    taus, lrs = metrics["stalenesses"], metrics["learning_rates"]
    numbers = {}
    for lr in (f"{lr:g}" for lr in lrs):
        numbers[f"sync, lr {lr}"] = round(tab["sync"][lr][str(taus[0])], 3)
        for m in (m for m in METHODS[1:] if m in tab):
            accs = [f"{tab[m][lr][str(t)]:.3f}" for t in taus]
            numbers[f"{LABELS[m]}, lr {lr}, tau {tuple(taus)}"] = ", ".join(accs)
    j = judge(tab, lrs, taus, tol, margin)
    cells, failing = j["cells"], j["stale_failing"]
    largest = max((c["gap_dc"] for c in cells), default=math.nan)
    runs = [r for r in metrics.get("runs", {}).values() if r["method"] == "dc"]
    diverged = [  # DC-S3GD cells whose final train loss is NaN/inf or > 10 in some seed
        f"lr {r['learning_rate']:g} tau {r['staleness']} ({sum(d := r['diverged'])}/{len(d)} seeds)"
        for r in runs
        if any(r["diverged"])
    ]
    within = f"{sum(c['dc_ok'] for c in cells)}/{len(cells)}"
    numbers |= {
        "cells (lr x tau) where DC-S3GD is within tolerance of sync": within,
        "largest gap of DC-S3GD below sync": round(largest, 3),
        "cells where stale SGD fails (more than tolerance below sync)": (
            _where(failing) if "stale" in tab else "n/a (no stale SGD runs)"
        ),
        "DC-S3GD - stale SGD in those cells": _listed(failing, "advantage") or "n/a",
        "cells where DC-S3GD diverged (train loss NaN, inf or > 10)": ", ".join(diverged) or "none",
    }
    thresholds = {
        "max gap of DC-S3GD below sync, every lr and tau": tol,
        "stale SGD fails when below sync by more than": tol,
        "min DC-S3GD advantage over stale SGD where stale fails": margin,
        "cells required where stale SGD fails": 1,
    }
    missing = " and ".join(m for m in ("dc", "stale") if m not in tab)
    if missing or not j["all_finite"]:
        why = "a mean test accuracy in the table is NaN (a run failed)"
        if missing:
            why = f"the {missing} runs are missing, and the rule compares DC-S3GD with sync and "
            why += "with stale SGD at every learning rate and staleness"
        return Summary(numbers, False, f"not judged: {why}.", thresholds)
    bad = [c for c in cells if not c["dc_ok"]]
    parts = [
        f"DC-S3GD is NOT within {tol} of sync at {_where(bad)} (gaps "
        f"{_listed(bad, 'gap_dc', '.3f')})"
        + (f"; it diverged at {', '.join(diverged)}" if diverged else "")
        if bad
        else f"DC-S3GD is within {tol} of sync at all {len(cells)} (lr, tau) cells (largest gap "
        f"{largest:.3f})"
    ]
    short = [c for c in failing if not c["beats_stale"]]
    parts.append(
        f"stale SGD without compensation is also within {tol} of sync in every cell: "
        "compensation did not matter at these settings, so the claim that it is needed is "
        "not supported"
        if not failing
        else f"stale SGD fails at {_where(failing)} and DC-S3GD does NOT beat it by >= {margin} "
        f"at {_where(short)} (advantages {_listed(short, 'advantage')})"
        if short
        else f"stale SGD fails at {_where(failing)} and DC-S3GD beats it there by >= {margin} "
        f"(by {_listed(failing, 'advantage')})"
    )
    ok = j["dc_everywhere"] and j["compensation_shown"]
    return Summary(numbers, bool(ok), "; ".join(parts) + ".", thresholds)


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
