"""Rigazzi (2019), DC-S3GD, convergence: test accuracy vs step, sync vs stale vs delay-compensated.

A small MLP on 8x8 digits is trained data-parallel on 8 devices (simulated CPU devices at quick
scale) with a large global batch, by synchronous SGD, by stale-synchronous SGD without
compensation (DC-S3GD with lambda = 0) and by DC-S3GD, at staleness 1, 2 and 4, over a grid of
learning rates and several seeds. The paper's experiments (CNNs, large batches) show that DC-S3GD
reaches the accuracy of synchronous SGD; here we also check the premise, that compensation is
needed: uncompensated staleness degrades as the staleness or the learning rate grows.

Verdict (:func:`summarize`, on the mean over seeds of the final test accuracy per cell):
(1) at every (learning rate, staleness) cell DC-S3GD is at most ``match_tolerance`` (0.02) below
sync; (2) stale SGD fails (is more than ``match_tolerance`` below sync at the same lr and
staleness) in at least one cell -- if it never does, "compensation did not matter at these
settings" and the claim is not supported; (3) in every cell where stale SGD fails, DC-S3GD beats
it by at least ``compensation_margin`` (0.02). A missing run or a NaN accuracy fails the rule.

DC-S3GD's strength uses Zheng et al.'s adaptive DC-ASGD-a rule (``lambda_t = lambda_0 /
sqrt(v_t)``, ``lambda_0 = 2``, ``v`` decay 0.95) by default: with a constant lambda such as
MXNet's 0.04 the correction ``lambda g^2 dw`` is ~1e-6 of the step on this problem and the run
is indistinguishable from plain stale SGD (set ``--mean_square_decay none --lam 0.04`` to see it).
The ``dc_local`` curves are DC-S3GD's local-step variant (fresh local gradient applied at once,
corrected when the average arrives).

    python -m experiments.dcs3gd.convergence --scale quick
    python -m experiments.dcs3gd.convergence --scale full   # mnist1d, CNN, 8 devices

Training runs on all devices through ``jax.shard_map`` (seeds vmapped inside each device, a
chunk of ``eval_every`` steps per call); every (method, learning rate, staleness) run is
checkpointed with orbax, so a killed invocation resumes. Writes ``metrics.json``,
``config.json`` and ``convergence.png`` under the workdir.
"""

if __name__ == "__main__":  # before JAX is imported: 8 simulated CPU devices
    from experiments.dcs3gd._devices import request_host_devices

    request_host_devices(8)

import dataclasses  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import ClassVar  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from experiments.dcs3gd._devices import require_devices  # noqa: E402
from experiments.harness import (  # noqa: E402
    Summary,
    device_info,
    experiment_main,
    max_rss_mb,
    train_loop,
    write_outputs,
)
from experiments.harness.plotting import plt, save_figure  # noqa: E402
from jaxml.data import load_digits, load_mnist1d  # noqa: E402
from jaxml.models import evaluate, init_train_state, make_classifier  # noqa: E402
from jaxml.parallel import (  # noqa: E402
    dc_s3gd,
    device_mesh,
    make_data_parallel_step,
    put_replicated,
    put_sharded,
    shard_map_driver,
    sync_sgd,
)

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
LABELS = {
    "sync": "sync SGD",
    "stale": "stale SGD (lambda=0)",
    "dc": "DC-S3GD",
    "local": "local variant, lambda=0",
    "dc_local": "DC-S3GD, local variant",
}
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
    checkpoint_every: int = 4  # in chunks of eval_every steps

    SCALES: ClassVar[dict] = {
        "full": {
            "dataset": "mnist1d",
            "model": "cnn",
            "features": (32, 64),
            "num_seeds": 5,
            "global_batch": 1024,
            "num_steps": 3000,
            "eval_every": 100,
            "learning_rates": (0.05, 0.1, 0.2),
            "main_learning_rate": 0.1,
            "momentum": 0.9,
        },
        "tiny": {
            "num_seeds": 2,
            "hidden": (16,),
            "global_batch": 64,
            "num_steps": 20,
            "eval_every": 10,
            "learning_rates": (0.3, 0.5),
            "stalenesses": (2,),
            "methods": ("sync", "dc"),
            "checkpoint_every": 1,
        },
    }

    def __post_init__(self):
        if self.dataset not in ("digits", "mnist1d"):
            raise ValueError(f"dataset must be 'digits' or 'mnist1d', got {self.dataset!r}")
        if self.model not in ("mlp", "cnn"):
            raise ValueError(f"model must be 'mlp' or 'cnn', got {self.model!r}")
        for name in ("num_seeds", "num_devices", "global_batch", "num_steps", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.global_batch % self.num_devices:
            raise ValueError(
                f"global_batch {self.global_batch} is not divisible by num_devices "
                f"{self.num_devices}"
            )
        if self.num_steps % self.eval_every:
            raise ValueError(
                f"num_steps {self.num_steps} must be a multiple of eval_every {self.eval_every}"
            )
        unknown = set(self.methods) - set(METHODS)
        if unknown or "sync" not in self.methods:
            raise ValueError(
                f"methods must include 'sync' and be among {METHODS}, got {self.methods}"
            )
        if not self.learning_rates or min(self.learning_rates) <= 0:
            raise ValueError(f"learning_rates must be positive, got {self.learning_rates}")
        if self.main_learning_rate not in self.learning_rates:
            raise ValueError(
                f"main_learning_rate {self.main_learning_rate} must be one of learning_rates "
                f"{self.learning_rates}"
            )
        if not self.stalenesses or min(self.stalenesses) < 1:
            raise ValueError(f"stalenesses must be >= 1, got {self.stalenesses}")
        for name in ("match_tolerance", "compensation_margin"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


def load_data(config: Config):
    if config.dataset == "digits":
        return load_digits(seed=config.seed, flatten=(config.model == "mlp"))
    data = load_mnist1d(seed=config.seed)
    if config.model == "cnn":
        data = data._replace(
            **{
                s: getattr(data, s)._replace(x=getattr(data, s).x[..., None])
                for s in ("train", "val", "test")
            }
        )
    return data


def make_optimizer(config: Config, method: str, learning_rate, staleness: int):
    """The optimizer of ``method``; ``learning_rate`` may be traced (vmapped over the sweep)."""
    if method == "sync":
        return sync_sgd(learning_rate, config.momentum, axis_name=AXIS)
    compensated = method in ("dc", "dc_local")
    return dc_s3gd(
        learning_rate,
        config.lam if compensated else 0.0,
        staleness=staleness,
        momentum=config.momentum,
        variant="local" if method in ("local", "dc_local") else "stale",
        axis_name=AXIS,
        mean_square_decay=config.mean_square_decay if compensated else None,
    )


def run_key(method: str, learning_rate: float, staleness: int) -> str:
    return f"{method}/lr{learning_rate:g}/tau{staleness}"


def make_evaluator(model, data):
    """``evaluate(stacked_params) -> (test_acc [L, S], train_loss [L, S])`` as NumPy.

    Uses device 0's replica (rows of the ``"local"`` variant differ by in-flight gradients).
    """
    x_test, y_test = jnp.asarray(data.test.x), jnp.asarray(data.test.y)
    x_train, y_train = jnp.asarray(data.train.x), jnp.asarray(data.train.y)
    one = lambda p, x, y: evaluate(model.apply, p, x, y)
    per_run = jax.vmap(jax.vmap(one, in_axes=(0, None, None)), in_axes=(0, None, None))

    @jax.jit
    def fn(stacked_params):
        params = jax.tree.map(lambda a: a[0], stacked_params)
        test = per_run(params, x_test, y_test)
        train = per_run(params, x_train, y_train)
        return test["accuracy"], train["loss"]

    return lambda stacked: tuple(np.asarray(v) for v in fn(stacked))


def train_group(config, method, staleness, model, data, mesh, evaluator, workdir) -> dict:
    """Trains one (method, staleness) for every learning rate and seed at once; resumable.

    The learning rates and seeds are two vmapped axes inside each device's program (state leaves
    ``[L, S, ...]`` per device), so the whole sweep is one compiled program per (method, tau).
    Returns one result per learning rate, keyed by :func:`run_key`.
    """
    k_dev, b_glob = config.num_devices, config.global_batch
    b_loc = b_glob // k_dev
    n_train = data.train.x.shape[0]
    if b_glob > n_train:
        raise ValueError(f"global_batch {b_glob} exceeds the {n_train} training examples")
    lrs = np.asarray(config.learning_rates, np.float32)
    n_lr, n_seed = len(lrs), config.num_seeds
    seeds = (np.arange(n_seed) + 1000 * config.seed).astype(np.int32)
    x_train = put_replicated(np.asarray(data.train.x), mesh)
    y_train = put_replicated(np.asarray(data.train.y), mesh)
    x_one = jnp.asarray(data.train.x[:1])
    e = config.eval_every

    def init(seeds):
        # Same initialization and data order for every method and learning rate.
        opt = make_optimizer(config, method, 0.1, staleness)  # the state is lr-independent
        params = jax.vmap(lambda s: model.init(jax.random.key(s), x_one))(seeds)
        one = jax.vmap(lambda p: init_train_state(p, opt))(params)
        return jax.tree.map(lambda a: jnp.broadcast_to(a, (n_lr, *a.shape)), one)

    def device_chunk(state, x_all, y_all, seeds, lrs, chunk):
        """Per device: ``eval_every`` steps of every (lr, seed); state leaves ``[L, S, ...]``."""
        k = jax.lax.axis_index(AXIS)
        data_keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.key(s), 7))(seeds)

        def step_one(state, lr, x, y):
            opt = make_optimizer(config, method, lr, staleness)
            return make_data_parallel_step(model.apply, opt, axis_name=AXIS)(state, x, y)

        # vmap over learning rates (state, lr), then over seeds (state, batch).
        step_all = jax.vmap(jax.vmap(step_one, in_axes=(0, None, 0, 0)), in_axes=(0, 0, None, None))

        def body(state, t):
            idx = jax.vmap(
                lambda key: jax.random.permutation(jax.random.fold_in(key, t), n_train)[:b_glob]
            )(data_keys)
            mine = jax.lax.dynamic_slice_in_dim(idx, k * b_loc, b_loc, axis=1)  # [S, b]
            state, metrics = step_all(state, lrs, x_all[mine], y_all[mine])
            return state, metrics["loss"]

        return jax.lax.scan(body, state, chunk * e + jnp.arange(e))

    chunk_fn = jax.jit(
        shard_map_driver(device_chunk, mesh, broadcast_argnums=(1, 2, 3, 4, 5)),
        donate_argnums=0,
    )
    seeds_dev = put_replicated(seeds, mesh)
    lrs_dev = put_replicated(lrs, mesh)

    def eval_fn(state):
        acc, loss = evaluator(state.params)
        out = {}
        for i in range(n_lr):
            for s in range(n_seed):
                out[f"test_accuracy_{i}_{s}"] = acc[i, s]
                out[f"train_loss_{i}_{s}"] = loss[i, s]
        return out

    host_state = jax.device_get(jax.jit(init)(seeds))
    state0 = put_sharded(
        jax.tree.map(lambda a: np.broadcast_to(a, (k_dev, *np.shape(a))), host_state), mesh
    )
    t0 = time.perf_counter()
    result = train_loop(
        state0,
        lambda state, c: _with_logs(
            chunk_fn(state, x_train, y_train, seeds_dev, lrs_dev, np.int32(c))
        ),
        num_steps=config.num_steps // e,
        checkpoint_dir=Path(workdir) / "ckpt" / f"{method}_tau{staleness}",
        checkpoint_every=config.checkpoint_every,
        eval_fn=eval_fn,
        eval_every=1,
        desc=f"{method} tau={staleness}",
    )
    wall = time.perf_counter() - t0
    out = {}
    for i, lr in enumerate(config.learning_rates):
        history = [
            {
                "step": r["step"] * e,
                **{f"test_accuracy_{s}": r[f"test_accuracy_{i}_{s}"] for s in range(n_seed)},
                **{f"train_loss_{s}": r[f"train_loss_{i}_{s}"] for s in range(n_seed)},
            }
            for r in result.history
        ]
        final = history[-1]
        acc = [final[f"test_accuracy_{s}"] for s in range(n_seed)]
        loss = [final[f"train_loss_{s}"] for s in range(n_seed)]
        out[run_key(method, lr, staleness)] = {
            "method": method,
            "learning_rate": lr,
            "staleness": staleness,
            "history": history,
            "final_test_accuracy": acc,
            "final_train_loss": [v if math.isfinite(v) else float("nan") for v in loss],
            "diverged": [not (math.isfinite(v) and v < 10.0) for v in loss],
            "mean_test_accuracy": float(np.mean(acc)),
            "resumed_from_step": result.resumed_from * e,
            "group_train_seconds": result.train_seconds,
            "group_wall_seconds": wall,
        }
    return out


def _with_logs(out):
    """Progress logs of a chunk: the mean last-step loss over the (lr, seed) runs that are still
    finite, and how many are not.

    A run that diverges inside the sweep (large lr and staleness) is a result -- its cell
    records ``diverged`` and its accuracy -- not an error, so its NaN must not reach the
    harness's "loss" check, which would stop every other run of the group. Costs no extra host
    sync: ``train_loop`` evaluates (and syncs) after every chunk.
    """
    state, losses = out  # losses [devices, eval_every, lrs, seeds]
    last = np.asarray(losses[0, -1])
    finite = np.isfinite(last)
    logs = {"non-finite runs": int(last.size - finite.sum())}
    if finite.any():
        logs["loss (finite runs)"] = float(last[finite].mean())
    return state, logs


def _groups(config: Config):
    yield "sync", 0
    for tau in config.stalenesses:
        for method in config.methods:
            if method != "sync":
                yield method, tau


def table(runs: dict, config_like: dict) -> dict:
    """``table[method][lr][tau] = mean final test accuracy`` (sync under every tau)."""
    out: dict = {}
    for r in runs.values():
        lr, tau = f"{r['learning_rate']:g}", r["staleness"]
        taus = config_like["stalenesses"] if r["method"] == "sync" else [tau]
        for t in taus:
            out.setdefault(r["method"], {}).setdefault(lr, {})[str(t)] = r["mean_test_accuracy"]
    return out


def _label(method: str, config: Config) -> str:
    if method in ("dc", "dc_local") and config.mean_square_decay is not None:
        return f"{LABELS[method]} (adaptive, lambda_0={config.lam:g})"
    if method in ("dc", "dc_local"):
        return f"{LABELS[method]} (lambda={config.lam:g})"
    return LABELS[method]


def plot(config: Config, runs: dict, path: Path) -> None:
    taus, lrs = config.stalenesses, config.learning_rates
    ncols = max(len(taus), len(lrs))
    fig, axes = plt.subplots(2, ncols, figsize=(4.2 * ncols, 7.4), squeeze=False)
    main = config.main_learning_rate
    for j, tau in enumerate(taus):
        ax = axes[0, j]
        for method in config.methods:
            r = runs[run_key(method, main, 0 if method == "sync" else tau)]
            steps = np.array([h["step"] for h in r["history"]])
            acc = np.array(
                [[h[f"test_accuracy_{s}"] for s in range(config.num_seeds)] for h in r["history"]]
            )
            ax.plot(steps, acc.mean(1), color=COLORS[method], label=_label(method, config), lw=1.6)
            ax.fill_between(steps, acc.min(1), acc.max(1), color=COLORS[method], alpha=0.15)
        ax.set(
            title=f"staleness {tau}, lr {main:g}",
            xlabel="step",
            ylabel="test accuracy" if j == 0 else None,
            ylim=(0, 1.01),
        )
        if j == 0:
            ax.legend(fontsize=8, loc="lower right")
    for j in range(len(taus), ncols):
        axes[0, j].axis("off")
    tab = table(runs, dataclasses.asdict(config))
    for j, lr in enumerate(lrs):
        ax = axes[1, j]
        key = f"{lr:g}"
        ax.axhline(tab["sync"][key][str(taus[0])], color="k", ls="--", lw=1.2, label=LABELS["sync"])
        for method in config.methods:
            if method == "sync":
                continue
            accs = [runs[run_key(method, lr, t)]["final_test_accuracy"] for t in taus]
            ax.errorbar(
                taus,
                [np.mean(a) for a in accs],
                yerr=[
                    [np.mean(a) - np.min(a) for a in accs],
                    [np.max(a) - np.mean(a) for a in accs],
                ],
                color=COLORS[method],
                marker="o",
                capsize=3,
                label=_label(method, config),
            )
        ax.set(
            title=f"final test accuracy, lr {lr:g}",
            xlabel="staleness tau",
            ylabel="test accuracy" if j == 0 else None,
            ylim=(0, 1.01),
            xticks=list(taus),
        )
        if j == 0:
            ax.legend(fontsize=8, loc="lower left")
    for j in range(len(lrs), ncols):
        axes[1, j].axis("off")
    title = (
        f"DC-S3GD on {config.dataset} ({config.model}), {config.num_devices} devices, global "
        f"batch {config.global_batch}, {config.num_seeds} seeds (band/bars: min-max)"
    )
    if "stale" in tab and "dc" in tab:
        facts = judge(tab, lrs, taus, config.match_tolerance, config.compensation_margin)
        if not facts["stale_failing"]:
            title += "\ncompensation did not matter at these settings (stale SGD never failed)"
    fig.suptitle(title, fontsize=11)
    save_figure(fig, path)


def run(config: Config, workdir: Path) -> dict:
    """Trains every (method, learning rate, staleness) cell; writes metrics and the figure."""
    require_devices(config.num_devices, "experiments.dcs3gd.convergence")
    workdir = Path(workdir)
    t0 = time.perf_counter()
    data = load_data(config)
    model = make_classifier(
        config.model,
        num_classes=data.num_classes,
        input_shape=data.input_shape,
        hidden=config.hidden,
        features=config.features,
    )
    mesh = device_mesh(config.num_devices, AXIS)
    evaluator = make_evaluator(model, data)
    runs = {}
    for method, tau in _groups(config):
        runs.update(train_group(config, method, tau, model, data, mesh, evaluator, workdir))
    plot(config, runs, workdir / "convergence.png")
    metrics = {
        "runs": runs,
        "table": table(runs, dataclasses.asdict(config)),
        "learning_rates": list(config.learning_rates),
        "main_learning_rate": config.main_learning_rate,
        "stalenesses": list(config.stalenesses),
        "methods": list(config.methods),
        "match_tolerance": config.match_tolerance,
        "compensation_margin": config.compensation_margin,
        "wall_seconds": time.perf_counter() - t0,
        "max_rss_mb": max_rss_mb(),
        "device": device_info(),
    }
    return write_outputs(workdir, config, metrics, figures=["convergence.png"])


def judge(tab: dict, lrs, taus, tol: float, margin: float) -> dict:
    """The verdict's cell-by-cell facts from ``table`` (mean final test accuracy).

    For every (learning rate, staleness) cell: DC-S3GD's and stale SGD's gap below sync
    (``sync - method``), whether stale SGD *fails* there (gap > ``tol``) and DC-S3GD's
    advantage over stale SGD (``dc - stale``). A missing method or a NaN accuracy makes every
    condition that needs it false (never true by default).
    """
    lrs, taus = [f"{lr:g}" for lr in lrs], [str(t) for t in taus]

    def acc(method, lr, t):
        return float(tab.get(method, {}).get(lr, {}).get(t, float("nan")))

    cells = []
    for lr in lrs:
        for t in taus:
            sync, dc, stale = acc("sync", lr, t), acc("dc", lr, t), acc("stale", lr, t)
            gap_dc, gap_stale = sync - dc, sync - stale
            cells.append(
                {
                    "lr": lr,
                    "tau": t,
                    "gap_dc": gap_dc,
                    "gap_stale": gap_stale,
                    "dc_ok": bool(gap_dc <= tol),  # NaN -> False
                    "stale_fails": bool(gap_stale > tol),
                    "advantage": dc - stale,
                    "beats_stale": bool(dc - stale >= margin),
                }
            )
    finite = all(math.isfinite(c[k]) for c in cells for k in ("gap_dc", "gap_stale", "advantage"))
    stale_failing = [c for c in cells if c["stale_fails"]]
    return {
        "cells": cells,
        "all_finite": finite,
        "dc_everywhere": bool(cells) and all(c["dc_ok"] for c in cells),
        "stale_failing": stale_failing,
        "compensation_shown": bool(stale_failing) and all(c["beats_stale"] for c in stale_failing),
    }


def summarize(metrics: dict) -> Summary:
    """Rule (all must hold; means over seeds of the final test accuracy):

    1. at EVERY learning rate and staleness, DC-S3GD is at most ``match_tolerance`` below sync;
    2. stale SGD (same lr and staleness, lambda = 0) fails -- is more than ``match_tolerance``
       below sync -- in at least one cell (otherwise compensation did not matter at these
       settings and the claim that it is needed is not supported);
    3. in every cell where stale SGD fails, DC-S3GD beats it by at least ``compensation_margin``.
    A missing ``stale``/``dc`` run or a NaN accuracy fails the rule.
    """
    tab, tol = metrics["table"], float(metrics["match_tolerance"])
    margin = float(metrics.get("compensation_margin", Config.compensation_margin))
    taus, lrs = metrics["stalenesses"], metrics["learning_rates"]
    numbers = {}
    for lr in (f"{lr:g}" for lr in lrs):
        numbers[f"sync, lr {lr}"] = round(tab["sync"][lr][str(taus[0])], 3)
        for method in METHODS[1:]:
            if method in tab:
                accs = ", ".join(f"{tab[method][lr][str(t)]:.3f}" for t in taus)
                numbers[f"{LABELS[method]}, lr {lr}, tau {tuple(taus)}"] = accs
    j = judge(tab, lrs, taus, tol, margin)
    cells = j["cells"]
    n = len(cells)
    where = lambda cs: ", ".join(f"lr {c['lr']} tau {c['tau']}" for c in cs) or "none"  # noqa: E731
    numbers["cells (lr x tau) where DC-S3GD is within tolerance of sync"] = (
        f"{sum(c['dc_ok'] for c in cells)}/{n}"
    )
    numbers["largest gap of DC-S3GD below sync"] = round(
        max((c["gap_dc"] for c in cells), default=float("nan")), 3
    )
    numbers["cells where stale SGD fails (more than tolerance below sync)"] = (
        where(j["stale_failing"]) if "stale" in tab else "n/a (no stale SGD runs)"
    )
    numbers["DC-S3GD - stale SGD in those cells"] = (
        ", ".join(f"{c['advantage']:+.3f}" for c in j["stale_failing"]) or "n/a"
    )
    thresholds = {
        "max gap of DC-S3GD below sync, every lr and tau": tol,
        "stale SGD fails when below sync by more than": tol,
        "min DC-S3GD advantage over stale SGD where stale fails": margin,
        "cells required where stale SGD fails": 1,
    }
    parts = []
    if "dc" not in tab or "stale" not in tab:
        missing = " and ".join(m for m in ("dc", "stale") if m not in tab)
        verdict = (
            f"not judged: the {missing} runs are missing, and the rule compares DC-S3GD with "
            "sync and with stale SGD at every learning rate and staleness."
        )
        return Summary(numbers, False, verdict, thresholds)
    if not j["all_finite"]:
        verdict = "not judged: a mean test accuracy in the table is NaN (a run failed)."
        return Summary(numbers, False, verdict, thresholds)
    bad_dc = [c for c in cells if not c["dc_ok"]]
    if bad_dc:
        parts.append(
            f"DC-S3GD is NOT within {tol} of sync at {where(bad_dc)} (gaps "
            + ", ".join(f"{c['gap_dc']:.3f}" for c in bad_dc)
            + ")"
        )
    else:
        parts.append(
            f"DC-S3GD is within {tol} of sync at all {n} (lr, tau) cells (largest gap "
            f"{max(c['gap_dc'] for c in cells):.3f})"
        )
    if not j["stale_failing"]:
        parts.append(
            f"stale SGD without compensation is also within {tol} of sync in every cell: "
            "compensation did not matter at these settings, so the claim that it is needed is "
            "not supported"
        )
    else:
        short = [c for c in j["stale_failing"] if not c["beats_stale"]]
        parts.append(
            f"stale SGD fails at {where(j['stale_failing'])} and DC-S3GD "
            + (
                f"beats it there by >= {margin} (by "
                if not short
                else f"does NOT beat it by >= {margin} at {where(short)} (advantages "
            )
            + ", ".join(f"{c['advantage']:+.3f}" for c in (short or j["stale_failing"]))
            + ")"
        )
    ok = j["dc_everywhere"] and j["compensation_shown"]
    return Summary(numbers, bool(ok), "; ".join(parts) + ".", thresholds)


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
