"""Composition: IFT hyperparameter tuning x data-parallel DC-S3GD on 8 (simulated) devices.

The bilevel loop (Lorraine et al. 2020) runs with DC-S3GD (Rigazzi 2019, stale rule) as the inner
optimizer under ``shard_map`` over 8 devices, each holding 1/8 of the global batch. It tunes the
per-layer log weight decays by the IFT hypergradient, whose Hessian-vector products are
all-reduced over the same mesh axis, and DC's compensation strength ``log lambda`` by forward-mode
differentiation of the last ``unroll_steps`` DC steps (the IFT gives exactly zero for an
optimizer hyperparameter whose term vanishes at the fixed point: see
:mod:`jaxml.parallel.hyper`). It checks that the 8-device hypergradient equals the 1-device one
on the same global batch and compares the tuned ``lambda`` with the best of a grid of fixed
``lambda`` (each grid run tunes the weight decays the same way).

    python -m experiments.compose.ift_dcs3gd --scale quick   # --scale full: longer, wider grid
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
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from experiments.dcs3gd.devices import require_devices  # noqa: E402
from experiments.harness import (  # noqa: E402
    Summary,
    experiment_main,
    judge,
    train_loop,
    write_outputs,
)
from experiments.harness.plotting import plt, save_figure  # noqa: E402
from jaxml import _validation as v  # noqa: E402
from jaxml.data import load_digits  # noqa: E402
from jaxml.implicit import hypergradient_error  # noqa: E402
from jaxml.implicit.hparams import init_log_decay, l2_penalty  # noqa: E402
from jaxml.models import cross_entropy, evaluate, make_classifier  # noqa: E402
from jaxml.parallel import (  # noqa: E402
    dc_bilevel,
    device_mesh,
    put_replicated,
    put_sharded,
    replicate,
    shard_map_driver,
    shard_sampler,
    split_batch,
)
from jaxml.train import batch_sampler  # noqa: E402

FRESH_INTERPRETER = True  # 8 simulated devices: XLA_FLAGS must be set before JAX is imported
PAPER = (
    "Lorraine, Vicol & Duvenaud 2020 (IFT hyperparameter optimization, AISTATS) x Rigazzi 2019 "
    "(DC-S3GD, arXiv 1911.02516; compensation of Zheng et al. 2017, DC-ASGD)"
)
CLAIM = (
    "A hypergradient can tune a data-parallel optimizer: with DC-S3GD inside the bilevel loop on "
    "8 devices, the all-reduced hypergradient equals the single-device one on the same global "
    "batch, and tuning DC's compensation strength lambda by hypergradient is as good as the best "
    "lambda of a grid. Rule (all must hold): (1) the relative error of the 8-device vs 1-device "
    "hypergradient (weight decays and log lambda, float32) is <= 1e-5; (2) the tuned run's final "
    "validation loss is at most 3% above the best grid run's; (3) the tuned lambda lies within "
    "one grid step (a factor grid_ratio) of the best grid lambda."
)
AXIS = "data"


@dataclasses.dataclass(frozen=True)
class Config:
    """IFT x DC-S3GD. Defaults are the quick scale."""

    scale: str = "quick"
    seed: int = 0
    num_devices: int = 8
    hidden: tuple[int, ...] = (32,)
    global_batch: int = 64
    learning_rate: float = 0.3
    staleness: int = 2
    hypersteps: int = 30
    inner_steps: int = 10
    unroll_steps: int = 5
    num_terms: int = 5
    hyper_learning_rate: float = 0.1
    init_decay: float = 1e-3
    init_lambda: float = 1.0
    lambda_grid: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0, 100.0)
    rel_tolerance: float = 1e-5
    loss_tolerance: float = 0.03
    checkpoint_every: int = 10

    SCALES: ClassVar[dict] = {
        "full": {"hidden": (128,), "global_batch": 256, "hypersteps": 200, "inner_steps": 20}
        | {"unroll_steps": 10, "lambda_grid": (0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)},
        "tiny": {"hidden": (8,), "hypersteps": 2, "inner_steps": 2, "unroll_steps": 2}
        | {"num_terms": 2, "lambda_grid": (1.0, 10.0), "checkpoint_every": 2},
    }

    def __post_init__(self):
        for name in ("num_devices", "global_batch", "hypersteps", "inner_steps", "unroll_steps"):
            v.check_int(getattr(self, name), name, minimum=1)
        v.check_int(self.staleness, "staleness", minimum=1)
        v.check_int(self.num_terms, "num_terms", minimum=0)
        if self.global_batch % self.num_devices:
            raise ValueError(f"global_batch {self.global_batch} must divide by num_devices")
        if self.unroll_steps > self.inner_steps:
            raise ValueError("unroll_steps must be <= inner_steps")
        v.check_array(self.lambda_grid, "lambda_grid", ndim=1, minimum=1e-12, min_size=2)
        if list(self.lambda_grid) != sorted(self.lambda_grid):
            raise ValueError(f"lambda_grid must be increasing; got {self.lambda_grid}")
        for name in ("learning_rate", "hyper_learning_rate", "init_decay", "init_lambda"):
            v.check_positive(getattr(self, name), name)
        for name in ("rel_tolerance", "loss_tolerance"):
            v.check_nonnegative(getattr(self, name), name)


def run(config: Config, workdir: Path) -> dict:
    """The tuned run, the grid runs, the 8- vs 1-device hypergradient; writes outputs."""
    require_devices(config.num_devices, "experiments.compose.ift_dcs3gd")
    workdir, t0, k = Path(workdir), time.perf_counter(), config.num_devices
    data = load_digits(seed=config.seed, flatten=True)
    model = make_classifier(
        "mlp", num_classes=data.num_classes, input_shape=data.input_shape, hidden=config.hidden
    )
    nv = len(data.val.y) - len(data.val.y) % k  # the validation set, split over the devices
    xv, yv = data.val.x[:nv], data.val.y[:nv]
    params0 = jax.jit(model.init)(jax.random.key(config.seed), data.train.x[:1])

    def train_loss(p, h, x, y):
        return cross_entropy(model.apply(p, x), y) + l2_penalty(p, h["log_decay"])

    def val_loss(p, h, x, y):
        return cross_entropy(model.apply(p, x), y)

    def hparams_at(lam):
        decay = init_log_decay(params0, decay=config.init_decay, granularity="layer")
        return {"log_decay": decay, "log_lam": jnp.log(jnp.float32(lam))}

    mesh, T = device_mesh(k, AXIS), config.inner_steps
    sampler = batch_sampler(len(data.train.y), config.global_batch, rule="epoch")
    key = jax.random.key(config.seed + 1)
    kw = {"learning_rate": config.learning_rate, "staleness": config.staleness}
    kw |= {"unroll_steps": config.unroll_steps, "num_terms": config.num_terms}
    outer = optax.adam(config.hyper_learning_rate)

    def hyperstep(axis):
        loop = dc_bilevel(train_loss, val_loss, outer, axis_name=axis, **kw)
        draw = sampler if axis is None else shard_sampler(sampler, k, axis)

        def step(state, h, tune, x, y, xv, yv):
            idx = jax.vmap(lambda t: draw(key, h * T + t))(jnp.arange(T))  # [T, b]
            return loop.update(state, (x[idx], y[idx]), (xv, yv), tune_lambda=tune)

        return loop, step

    loop, dp_step = hyperstep(AXIS)  # one program for the tuned and the grid runs
    dp_step = jax.jit(
        shard_map_driver(dp_step, mesh, broadcast_argnums=(1, 2, 3, 4)), donate_argnums=0
    )
    train_xy = put_replicated((data.train.x, data.train.y), mesh)
    val_xy = put_sharded(split_batch((xv, yv), k), mesh)
    eval_jit = jax.jit(lambda p, x, y: evaluate(model.apply, p, x, y))

    def one_run(name, lam, tune):
        init = loop.init(params0, hparams_at(lam))
        state0 = put_sharded(replicate(init, k), mesh)

        def step_fn(state, i):
            state, info = dp_step(state, np.int32(i), np.bool_(tune), *train_xy, *val_xy)
            return state, {"val_loss": info["val_loss"][0], "train_loss": info["train_loss"][0]}

        def eval_fn(state):
            row = jax.tree.map(lambda a: a[0], state)
            val, test = eval_jit(row.params, xv, yv), eval_jit(row.params, data.test.x, data.test.y)
            decays = np.exp([np.asarray(d) for d in jax.tree.leaves(row.hparams["log_decay"])])
            return {"val_loss": float(val["loss"]), "test_accuracy": float(test["accuracy"]),
                    "lambda": float(jnp.exp(row.hparams["log_lam"])), "decays": decays,
                    "skipped": int(row.num_skipped)}  # fmt: skip

        res = train_loop(
            state0, step_fn, num_steps=config.hypersteps, eval_fn=eval_fn, eval_every=1,
            checkpoint_dir=workdir / "ckpt" / name, checkpoint_every=config.checkpoint_every,
            desc=name, config=config,
        )  # fmt: skip
        return res, {"history": res.history, "final": res.history[-1], "lambda0": lam}

    tuned_res, tuned = one_run("tuned", config.init_lambda, True)
    grid = {f"{lam:g}": one_run(f"grid_{lam:g}", lam, False)[1] for lam in config.lambda_grid}

    # The 8-device vs 1-device hypergradient, one hyperstep from the tuned run's final state.
    single = jax.jit(hyperstep(None)[1])
    state = tuned_res.state
    row = jax.tree.map(lambda a: np.asarray(a[0]), state)
    i = np.int32(config.hypersteps)
    _, info_dp = dp_step(state, i, np.bool_(True), *train_xy, *val_xy)
    _, info_1 = single(row, i, True, data.train.x, data.train.y, xv, yv)
    hg_dp = jax.tree.map(lambda a: np.asarray(a[0]), info_dp["hypergrad"])
    hg_1 = jax.device_get(info_1["hypergrad"])
    check = {
        "rel_err_decay": hypergradient_error(hg_dp["log_decay"], hg_1["log_decay"])[1],
        "rel_err_lambda": hypergradient_error(hg_dp["log_lam"], hg_1["log_lam"])[1],
        "hypergrad_1_device": {"log_lam": float(hg_1["log_lam"]),
                               "decay_norm": float(np.linalg.norm(
                                   [np.ravel(x) for x in jax.tree.leaves(hg_1["log_decay"])]))},
    }  # fmt: skip
    check["rel_err_max"] = max(check["rel_err_decay"], check["rel_err_lambda"])
    metrics = {"tuned": tuned, "grid": grid, "dp_check": check, "wall_seconds": 0.0}
    metrics |= {k: getattr(config, k) for k in ("lambda_grid", "rel_tolerance", "loss_tolerance")}
    plot(metrics, workdir / "ift_dcs3gd.png")
    metrics["wall_seconds"] = time.perf_counter() - t0
    return write_outputs(workdir, config, metrics, figures=["ift_dcs3gd.png"])


def plot(metrics: dict, path: Path) -> None:
    fig, (ax_l, ax_g, ax_c) = plt.subplots(1, 3, figsize=(14, 4))
    tuned, grid = metrics["tuned"], metrics["grid"]
    steps = [r["step"] for r in tuned["history"]]
    ax_l.plot(steps, [r["lambda"] for r in tuned["history"]], "C0", label="tuned lambda")
    best = min(grid, key=lambda g: grid[g]["final"]["val_loss"])
    ax_l.axhline(float(best), color="k", ls="--", label=f"best grid lambda = {best}")
    ax_l.set(xlabel="hyperstep", ylabel="lambda", yscale="log", title="DC lambda by hypergradient")
    ax_l.legend(fontsize=8)
    lams = [float(g) for g in grid]
    ax_g.plot(lams, [grid[g]["final"]["val_loss"] for g in grid], "ko-", label="fixed lambda")
    ax_g.plot([tuned["final"]["lambda"]], [tuned["final"]["val_loss"]], "C0*", ms=14,
              label="tuned (final lambda)")  # fmt: skip
    ax_g.set(xscale="log", xlabel="lambda", ylabel="final validation loss", title="grid vs tuned")
    ax_g.legend(fontsize=8)
    for name, run_ in [("tuned", tuned), *((f"lambda {g}", grid[g]) for g in grid)]:
        ax_c.plot(steps, [r["val_loss"] for r in run_["history"]], label=name)
    chk = metrics["dp_check"]
    ax_c.set(xlabel="hyperstep", ylabel="validation loss",
             title=f"8 vs 1 device hypergradient rel. err {chk['rel_err_max']:.1e}")  # fmt: skip
    ax_c.legend(fontsize=7)
    save_figure(fig, path)


def summarize(metrics: dict) -> Summary:
    """Rule (all must hold): (1) ``dp_check.rel_err_max <= rel_tolerance``; (2) tuned final
    validation loss <= (1 + loss_tolerance) x the best grid run's; (3) |log(tuned lambda / best
    grid lambda)| <= log of the largest ratio of neighbouring grid values (one grid step)."""
    grid, tuned, chk = metrics["grid"], metrics["tuned"]["final"], metrics["dp_check"]
    tol, loss_tol = float(metrics["rel_tolerance"]), float(metrics["loss_tolerance"])
    lams = sorted(float(g) for g in metrics["lambda_grid"])
    step = max(math.log(b / a) for a, b in zip(lams, lams[1:], strict=False))
    best = min(grid, key=lambda g: grid[g]["final"]["val_loss"])
    best_loss, loss = grid[best]["final"]["val_loss"], tuned["val_loss"]
    lam = tuned["lambda"]
    dist = abs(math.log(lam / float(best))) if lam > 0 and math.isfinite(lam) else math.inf
    numbers = {
        "8- vs 1-device hypergradient rel. error (decays, log lambda)": (
            f"{chk['rel_err_decay']:.2e}, {chk['rel_err_lambda']:.2e}"
        ),
        "tuned lambda (final)": round(lam, 4),
        "best grid lambda": float(best),
        "tuned final val loss": round(loss, 4),
        "best grid final val loss": round(best_loss, 4),
        "grid final val losses": ", ".join(
            f"{g}: {grid[g]['final']['val_loss']:.4f}" for g in grid
        ),
        "tuned test accuracy": round(tuned["test_accuracy"], 4),
    }
    thresholds = {
        "max rel. error 8 vs 1 device": tol,
        "max val loss above best grid (relative)": loss_tol,
        "max |log(tuned / best grid lambda)|": round(step, 4),
    }
    failures = []
    if not chk["rel_err_max"] <= tol:
        failures.append(f"8-device hypergradient differs by {chk['rel_err_max']:.2e} > {tol:g}")
    if not loss <= best_loss * (1 + loss_tol):
        failures.append(f"tuned val loss {loss:.4f} > {1 + loss_tol:g} x best grid {best_loss:.4f}")
    if not dist <= step + 1e-9:
        failures.append(f"tuned lambda {lam:.3g} is more than one grid step from {best}")
    detail = (
        f"rel. error {chk['rel_err_max']:.1e}; tuned lambda {lam:.3g} with val loss {loss:.4f}, "
        f"best grid lambda {best} with {best_loss:.4f}"
    )
    ok, verdict = judge(failures, detail)
    return Summary(numbers, ok, verdict, thresholds)


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
