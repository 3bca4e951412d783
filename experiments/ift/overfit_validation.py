"""Lorraine et al. (2020), sec. 5.2 / Fig. 4: overfitting a small validation set with one weight
decay per weight.

50 training and 50 validation digits; an MLP whose every weight has its own L2 decay (log space),
so there are as many hyperparameters as weights (quick: > 100k; full: > 1M). Bilevel training
(T inner SGD steps, then an IFT hyperstep with a Neumann inverse-HVP, Adam on the decays) drives
the validation accuracy to ~100% while the test accuracy stays much lower: with this many
hyperparameters the validation set is just another training set.

Verdict (``summarize``): the claim holds when there are >= ``MIN_HPARAMS`` (100,000)
hyperparameters, the final validation accuracy is >= ``VAL_TARGET`` (0.98), and the final
validation - test accuracy gap is >= ``MIN_VAL_TEST_GAP`` (0.10). The same rule at every scale.

    python -m experiments.ift.overfit_validation --scale quick
"""

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import optax

from experiments.harness import Summary, experiment_main, train_loop, write_outputs
from experiments.harness.config import require_at_least
from experiments.harness.plotting import plt, save_figure
from jaxml.data import disjoint_subsets, load_digits
from jaxml.implicit import bilevel
from jaxml.implicit.hparams import init_log_decay, l2_penalty
from jaxml.models import MLP, accuracy, cross_entropy, evaluate
from jaxml.train import optax_scan

PAPER = "Lorraine et al. 2020, Optimizing Millions of Hyperparameters (sec. 5.2, Fig. 4)"
CLAIM = (
    "With one weight decay per weight (>= 100k hyperparameters) tuned by IFT hypergradients on "
    "50 validation examples, validation accuracy goes to ~100% while test accuracy stays much "
    "lower: millions of hyperparameters can overfit the validation set. Checked as: >= 100,000 "
    "hyperparameters, final validation accuracy >= 0.98 and validation - test gap >= 0.10."
)

#: Verdict thresholds (see the module docstring); the same at every scale.
MIN_HPARAMS = 100_000
VAL_TARGET = 0.98
MIN_VAL_TEST_GAP = 0.10


@dataclasses.dataclass(frozen=True)
class Config:
    """Overfitting the validation set. Defaults are the quick scale."""

    scale: str = "quick"
    seed: int = 0
    num_train: int = 50
    num_val: int = 50
    hidden: tuple[int, ...] = (300, 300)
    inner_lr: float = 0.1
    inner_steps: int = 10
    outer_lr: float = 0.03
    init_decay: float = 1e-3
    num_terms: int = 5
    method: str = "neumann"
    hypersteps: int = 400
    eval_every: int = 10
    checkpoint_every: int = 100

    SCALES: ClassVar[dict] = {
        "full": {
            "hidden": (1000, 1000),
            "hypersteps": 2000,
            "eval_every": 25,
            "checkpoint_every": 250,
        },
        "tiny": {"hidden": (16,), "hypersteps": 6, "eval_every": 3, "checkpoint_every": 3},
    }

    def __post_init__(self):
        require_at_least(
            self,
            1,
            "num_train",
            "num_val",
            "inner_steps",
            "hypersteps",
            "eval_every",
            "checkpoint_every",
        )


def split(config: Config):
    """50 train / 50 val examples from the digits training split (stratified by the loader's
    seed), the full digits test split for testing."""
    data = load_digits(seed=config.seed, val_fraction=0.15, test_fraction=0.2)
    if config.num_train + config.num_val > data.train.num_examples:
        raise ValueError(f"num_train + num_val must be <= {data.train.num_examples}")
    tr, va = disjoint_subsets(data.train, (config.num_train, config.num_val), seed=config.seed)
    return tuple(tr), tuple(va), (data.test.x, data.test.y)


def run(config: Config, workdir: Path) -> dict:
    workdir = Path(workdir)
    t0 = time.perf_counter()
    (xt, yt), (xv, yv), (xs, ys) = (tuple(jnp.asarray(a) for a in s) for s in split(config))
    model = MLP(hidden=config.hidden, num_outputs=10)
    params = model.init(jax.random.key(config.seed), xt[:1])
    hparams = init_log_decay(params, decay=config.init_decay, granularity="weight")
    num_hparams = sum(a.size for a in jax.tree.leaves(hparams))

    def train_loss(p, h, x, y):
        return cross_entropy(model.apply(p, x), y) + l2_penalty(p, h)

    def val_loss(p, h, x, y):
        return cross_entropy(model.apply(p, x), y)

    opt = bilevel(
        train_loss,
        val_loss,
        optax.sgd(config.inner_lr),
        optax.adam(config.outer_lr),
        method=config.method,
        num_terms=config.num_terms,
        alpha=config.inner_lr,
    )
    state0 = opt.init(params, hparams)
    # Full batch: the 50 training examples, repeated for the T inner steps.
    batches = (
        jnp.broadcast_to(xt, (config.inner_steps, *xt.shape)),
        jnp.broadcast_to(yt, (config.inner_steps, *yt.shape)),
    )
    update = jax.jit(lambda s, i: opt.update(s, batches, (xv, yv)), donate_argnums=0)
    eval_jit = jax.jit(lambda p, x, y: evaluate(model.apply, p, x, y))

    def eval_fn(state):
        out = {}
        for name, (x, y) in (("train", (xt, yt)), ("val", (xv, yv)), ("test", (xs, ys))):
            m = eval_jit(state.params, x, y)
            out[f"{name}_accuracy"], out[f"{name}_loss"] = m["accuracy"], m["loss"]
        out["mean_log_decay"] = jnp.mean(
            jnp.concatenate([h.reshape(-1) for h in jax.tree.leaves(state.hparams)])
        )
        out["num_skipped"] = state.num_skipped
        return out

    result = train_loop(
        state0,
        update,
        num_steps=config.hypersteps,
        checkpoint_dir=workdir / "ckpt",
        checkpoint_every=config.checkpoint_every,
        eval_fn=eval_fn,
        eval_every=config.eval_every,
        desc="hypersteps",
        config=config,
    )
    final = result.history[-1]
    # Reference: the same network trained for the same inner steps with the decays fixed.
    sgd, steps = optax.sgd(config.inner_lr), config.hypersteps * config.inner_steps
    plain = jax.jit(
        lambda p: (
            optax_scan(
                lambda q, x, y: train_loss(q, hparams, x, y),
                sgd,
                p,
                sgd.init(p),
                batch_fn=lambda _: (xt, yt),
                num_steps=steps,
            ).params
        )
    )(params)
    plain_val = float(accuracy(model.apply(plain, xv), yv))
    plain_test = float(accuracy(model.apply(plain, xs), ys))
    _plot(config, result.history, num_hparams, plain_val, plain_test, workdir / "overfit.png")
    metrics = {
        "num_hparams": int(num_hparams),
        "history": result.history,
        "final": final,
        "fixed_decay_val_accuracy": plain_val,
        "fixed_decay_test_accuracy": plain_test,
        "wall_seconds": time.perf_counter() - t0,
    }
    return write_outputs(workdir, config, metrics, figures=["overfit.png"])


def _plot(config, history, num_hparams, plain_val, plain_test, path):
    steps = [r["step"] for r in history]
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    for name, color in (("train", "C2"), ("val", "C0"), ("test", "C3")):
        ax.plot(steps, [r[f"{name}_accuracy"] for r in history], color=color, label=name)
        ax_loss.plot(steps, [r[f"{name}_loss"] for r in history], color=color, label=name)
    ax.axhline(plain_val, color="C0", ls=":", lw=1, label="val, decays fixed")
    ax.axhline(plain_test, color="C3", ls=":", lw=1, label="test, decays fixed")
    ax.set(
        xlabel=f"hyperstep ({config.inner_steps} inner SGD steps each)",
        ylabel="accuracy",
        ylim=(0, 1.02),
        title=f"{num_hparams:,} weight decays tuned on {config.num_val} val examples",
    )
    ax_loss.set(xlabel="hyperstep", ylabel="cross-entropy", yscale="log", title="loss")
    ax.legend(fontsize=8, loc="lower right")
    ax_loss.legend(fontsize=8)
    save_figure(fig, path)


def summarize(metrics: dict) -> Summary:
    f = metrics["final"]
    numbers = {
        "hyperparameters": metrics["num_hparams"],
        "final train / val / test accuracy": (
            f"{f['train_accuracy']:.3f} / {f['val_accuracy']:.3f} / {f['test_accuracy']:.3f}"
        ),
        "val / test accuracy with decays fixed": (
            f"{metrics['fixed_decay_val_accuracy']:.3f} / "
            f"{metrics['fixed_decay_test_accuracy']:.3f}"
        ),
        "skipped hypersteps": int(f["num_skipped"]),
    }
    gap = f["val_accuracy"] - f["test_accuracy"]
    checks = {
        "hyperparameters": metrics["num_hparams"] >= MIN_HPARAMS,
        "val accuracy": f["val_accuracy"] >= VAL_TARGET,
        "val - test gap": gap >= MIN_VAL_TEST_GAP,
    }
    failed = [k for k, v in checks.items() if not v]
    verdict = (
        f"{metrics['num_hparams']:,} hyperparameters (need >= {MIN_HPARAMS:,}); val "
        f"accuracy {f['val_accuracy']:.3f} (need >= {VAL_TARGET}), test "
        f"{f['test_accuracy']:.3f}: gap {gap:.3f} (need >= {MIN_VAL_TEST_GAP})"
        + (f" [FAILS: {', '.join(failed)}]" if failed else "")
    )
    thresholds = {
        "min hyperparameters": MIN_HPARAMS,
        "min final val accuracy": VAL_TARGET,
        "min val - test accuracy gap": MIN_VAL_TEST_GAP,
    }
    return Summary(numbers, not failed, verdict, thresholds)


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
