"""Baseline: standard optax training of the shared MLP and small CNN on 8x8 digits.

Not a paper figure: it proves the harness end to end (config + CLI, resumable orbax checkpoints,
atomic metrics, progress bars, PNG figure, report entry) and it is the cost baseline the paper
modules compare against (plain-training steps/s and per-step memory at the same batch size).

    python -m experiments.baselines.train_classifier --scale quick
    python -m experiments.baselines.train_classifier --dataset mnist1d --num_steps 4000

Writes ``metrics.json``, ``config.json``, ``train_curves.png`` and ``ckpt/<model>/`` under the
workdir; a killed run started again with the same workdir resumes from its last checkpoint.
"""

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.harness import (
    Summary,
    compiled_memory_bytes,
    device_info,
    device_peak_bytes,
    experiment_main,
    max_rss_mb,
    time_calls,
    train_loop,
    write_outputs,
)
from experiments.harness.config import require_at_least
from experiments.harness.plotting import plt, save_figure
from jaxml.data.digits import load_digits
from jaxml.data.mnist1d import load_mnist1d
from jaxml.data.splits import Dataset
from jaxml.models import evaluate, init_train_state, make_classifier, make_train_step
from jaxml.train import batch_sampler, sampled_step

PAPER = "Baseline (no paper): plain supervised training, the cost reference for every module"
CLAIM = (
    "Standard optax training of a small MLP and a small CNN on 8x8 digits reaches at least 95% "
    "test accuracy in a few thousand steps on 2 CPU cores; its steps/s and per-step memory are "
    "the plain-training baseline that later modules report ratios against."
)
DATASETS = ("digits", "mnist1d")
OPTIMIZERS = ("adam", "sgd", "momentum")


@dataclasses.dataclass(frozen=True)
class Config:
    """Baseline classifier training. Defaults are the quick scale."""

    scale: str = "quick"
    seed: int = 0
    dataset: str = "digits"
    models: tuple[str, ...] = ("mlp", "cnn")
    hidden: tuple[int, ...] = (256, 256)
    features: tuple[int, ...] = (32, 64)
    batch_size: int = 128
    num_steps: int = 2000
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    eval_every: int = 100
    checkpoint_every: int = 500
    timing_calls: int = 50
    target_accuracy: float = 0.95

    SCALES: ClassVar[dict] = {
        "full": {
            "num_steps": 20_000,
            "hidden": (1024, 1024),
            "features": (64, 128),
            "eval_every": 500,
            "checkpoint_every": 2_000,
            "timing_calls": 200,
        },
        "tiny": {
            "num_steps": 40,
            "learning_rate": 5e-3,
            "hidden": (32,),
            "features": (8, 16),
            "batch_size": 32,
            "eval_every": 10,
            "checkpoint_every": 10,
            "timing_calls": 3,
        },
    }

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if not self.models:
            raise ValueError("models must name at least one of ('mlp', 'cnn')")
        require_at_least(
            self, 1, "batch_size", "num_steps", "eval_every", "checkpoint_every", "timing_calls"
        )
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")


def load_data(config: Config, model: str) -> Dataset:
    """The dataset in the layout ``model`` wants: flat for the MLP, channels-last for the CNN."""
    if config.dataset == "digits":
        return load_digits(seed=config.seed, flatten=(model == "mlp"))
    data = load_mnist1d(seed=config.seed)
    if model == "cnn":  # [n, 40] -> [n, 40, 1]: a 1-D signal with one channel
        data = data._replace(
            **{
                s: getattr(data, s)._replace(x=getattr(data, s).x[..., None])
                for s in ("train", "val", "test")
            }
        )
    return data


def make_optimizer(config: Config) -> optax.GradientTransformation:
    if config.optimizer == "adam":
        if config.weight_decay:
            return optax.adamw(config.learning_rate, weight_decay=config.weight_decay)
        return optax.adam(config.learning_rate)
    if config.optimizer == "momentum":
        return optax.chain(
            optax.add_decayed_weights(config.weight_decay), optax.sgd(config.learning_rate, 0.9)
        )
    return optax.chain(
        optax.add_decayed_weights(config.weight_decay), optax.sgd(config.learning_rate)
    )


def make_epoch_step(apply_fn, optimizer, *, num_train: int, batch_size: int, seed: int):
    """``step(state, step_index, x_train, y_train)``: one update on the step's mini-batch.

    The mini-batch walks a fresh permutation of the training set each epoch
    (:func:`jaxml.train.batch_sampler` with ``rule="epoch"``).
    """
    if batch_size > num_train:
        raise ValueError(f"batch_size {batch_size} exceeds the {num_train} training examples")
    sampler = batch_sampler(num_train, batch_size, rule="epoch")
    return sampled_step(make_train_step(apply_fn, optimizer), sampler, jax.random.key(seed))


def train_one(config: Config, model_name: str, workdir: Path) -> dict:
    """Trains one model; returns its history, test metrics and cost numbers."""
    data = load_data(config, model_name)
    model = make_classifier(
        model_name,
        num_classes=data.num_classes,
        input_shape=data.input_shape,
        hidden=config.hidden,
        features=config.features,
    )
    x_train, y_train = jnp.asarray(data.train.x), jnp.asarray(data.train.y)
    init_key = jax.random.fold_in(jax.random.key(config.seed), 1)
    optimizer = make_optimizer(config)
    # One compiled init (eager flax init would compile every op on its own: seconds on CPU).
    init_state = jax.jit(lambda key: init_train_state(model.init(key, x_train[:1]), optimizer))
    state0 = init_state(init_key)
    num_params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(state0.params))
    step_fn = jax.jit(
        make_epoch_step(
            model.apply,
            optimizer,
            num_train=x_train.shape[0],
            batch_size=config.batch_size,
            seed=config.seed,
        ),
        donate_argnums=0,
    )
    eval_jit = jax.jit(lambda p, x, y: evaluate(model.apply, p, x, y))
    x_val, y_val = jnp.asarray(data.val.x), jnp.asarray(data.val.y)

    def eval_fn(state):
        val = eval_jit(state.params, x_val, y_val)
        train = eval_jit(state.params, x_train, y_train)
        return {
            "train_loss": train["loss"],
            "train_accuracy": train["accuracy"],
            "val_loss": val["loss"],
            "val_accuracy": val["accuracy"],
        }

    result = train_loop(
        state0,
        lambda s, i: step_fn(s, i, x_train, y_train),
        num_steps=config.num_steps,
        checkpoint_dir=workdir / "ckpt" / model_name,
        checkpoint_every=config.checkpoint_every,
        eval_fn=eval_fn,
        eval_every=config.eval_every,
        desc=f"{config.dataset}/{model_name}",
        config=config,
    )
    test = eval_jit(result.state.params, jnp.asarray(data.test.x), jnp.asarray(data.test.y))

    # Cost: the compiled step chained on a fresh state (compilation excluded), and XLA's memory
    # analysis of one step (arguments + outputs + temporaries - donated).
    # (state0 and params were donated to the first training step: build a fresh copy.)
    timing_state = init_state(init_key)
    memory = compiled_memory_bytes(
        step_fn, jax.eval_shape(lambda: timing_state), 0, x_train, y_train
    )
    timing = time_calls(
        lambda s: step_fn(s, 0, x_train, y_train)[0],
        timing_state,
        calls=config.timing_calls,
        repeats=5,
    )
    return {
        "history": result.history,
        "resumed_from_step": result.resumed_from,
        "test_accuracy": float(test["accuracy"]),
        "test_loss": float(test["loss"]),
        "val_accuracy": result.history[-1]["val_accuracy"],
        "num_params": num_params,
        "step_ms": 1e3 * timing["seconds_per_call"],
        "steps_per_s": timing["calls_per_s"],
        "examples_per_s": timing["calls_per_s"] * config.batch_size,
        "step_memory": memory,
        "dataset_sizes": data.sizes,
    }


def plot(config: Config, per_model: dict, path: Path) -> None:
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, (name, m) in enumerate(per_model.items()):
        color = f"C{i}"
        steps = [r["step"] for r in m["history"]]
        ax_loss.plot(
            steps, [r["train_loss"] for r in m["history"]], color=color, label=f"{name} train"
        )
        ax_loss.plot(
            steps, [r["val_loss"] for r in m["history"]], color=color, ls="--", label=f"{name} val"
        )
        ax_acc.plot(
            steps,
            [r["val_accuracy"] for r in m["history"]],
            color=color,
            label=f"{name}: test {m['test_accuracy']:.3f}, {m['steps_per_s']:.0f} steps/s",
        )
    ax_loss.set(
        xlabel="step",
        ylabel="cross-entropy",
        yscale="log",
        title=f"{config.dataset}: loss (batch {config.batch_size}, {config.optimizer})",
    )
    ax_acc.axhline(config.target_accuracy, color="gray", lw=0.8, ls=":", label="target")
    ax_acc.set(
        xlabel="step",
        ylabel="validation accuracy",
        ylim=(0, 1.01),
        title="validation accuracy (legend: test acc., speed)",
    )
    ax_loss.legend(fontsize=8)
    ax_acc.legend(fontsize=8, loc="lower right")
    save_figure(fig, path)


def run(config: Config, workdir: Path) -> dict:
    """Trains every model in ``config.models``; writes metrics, config and the figure."""
    workdir = Path(workdir)
    t0 = time.perf_counter()
    per_model = {name: train_one(config, name, workdir) for name in config.models}
    plot(config, per_model, workdir / "train_curves.png")
    metrics = {
        "models": per_model,
        "target_accuracy": config.target_accuracy,
        "wall_seconds": time.perf_counter() - t0,
        "max_rss_mb": max_rss_mb(),
        "device_peak_bytes": device_peak_bytes(),
        "device": device_info(),
    }
    return write_outputs(workdir, config, metrics, figures=["train_curves.png"])


def summarize(metrics: dict) -> Summary:
    numbers = {}
    for name, m in metrics["models"].items():
        numbers[f"{name} test accuracy"] = round(m["test_accuracy"], 4)
        numbers[f"{name} steps/s"] = round(m["steps_per_s"], 1)
        mem = m.get("step_memory") or {}
        if "peak_estimate_bytes" in mem:
            numbers[f"{name} step memory (MiB)"] = round(mem["peak_estimate_bytes"] / 2**20, 2)
        numbers[f"{name} params"] = m["num_params"]
    numbers["process peak RSS (MiB)"] = round(metrics["max_rss_mb"], 1)
    target = metrics["target_accuracy"]
    worst = min(m["test_accuracy"] for m in metrics["models"].values())
    ok = worst >= target
    verdict = (
        f"lowest test accuracy over {len(metrics['models'])} model(s) {worst:.3f} "
        f"{'>=' if ok else '<'} target {target:.2f}"
    )
    return Summary(numbers, ok, verdict, {"min test accuracy of every model": target})


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
