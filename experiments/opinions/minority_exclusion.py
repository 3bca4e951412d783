"""Aggregated labels hide a minority opinion group (Balayn et al.): per-annotator accuracy.

A synthetic crowd labels the 8x8 digits on a binary "flag it?" scale: a majority opinion group
flags ``majority_positive`` digits, a minority group also flags ``minority_extra`` digits (a
legitimate disagreement on ~30% of inputs), each annotator with its own reliability in
[0.8, 0.95]; each image gets 10 judgements (as the Wikipedia Detox comments do). The same MLP
is trained four ways: on majority-vote labels, on Dawid-Skene labels, on soft labels (the
annotators' label distribution) and with per-annotator heads. On held-out samples the figure shows
each way's per-annotator accuracy distribution by opinion group, the accuracy on majority versus
minority opinions, and accuracy by sample agreement; the evaluation specification is printed with
the numbers.

Verdict rule (X = ``min_gap`` = 10 points): for both aggregated-label ways (majority vote and
Dawid-Skene) the aggregate view looks good (test accuracy against the majority-vote label
>= ``min_aggregate_accuracy``) while the minority group's mean per-annotator accuracy is at least
X points below the majority group's; and the per-annotator-heads model closes that gap to under X
(so the gap comes from aggregation, not from an unlearnable minority). With reliability r, a model
that follows the majority's rule scores about ``disagreement * (2r - 1)`` (~20 points here) less
on minority annotators; with 5 judgements per image and 20% disagreement the gap fell below X.

    python -m experiments.opinions.minority_exclusion --scale quick
"""

import dataclasses
import functools
import time
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.harness import Summary, experiment_main, judge, train_loop, write_outputs
from experiments.harness.config import require_at_least
from experiments.harness.plotting import plt, save_figure
from jaxml import opinions as op
from jaxml.data.digits import load_digits
from jaxml.models import make_classifier
from jaxml.train import batch_sampler, optax_scan

PAPER = "Balayn et al.: unfair exclusion of subjective opinions; evaluate per annotator"
CLAIM = (
    "Training on aggregated labels (majority vote, Dawid-Skene) looks accurate against the "
    "aggregate yet hides a minority opinion group whose per-annotator accuracy is at least X = 10 "
    "points lower; a model with per-annotator heads closes the gap."
)
WAYS = ("majority_vote", "dawid_skene", "soft_labels", "per_annotator_heads")
AGGREGATED = ("majority_vote", "dawid_skene")


@dataclasses.dataclass(frozen=True)
class Config:
    """Synthetic crowd over digits, four training targets. Defaults are the quick scale."""

    scale: str = "quick"
    seed: int = 0
    group_sizes: tuple[int, ...] = (24, 6)
    group_names: tuple[str, ...] = ("majority", "minority")
    majority_positive: tuple[int, ...] = (3, 8)
    minority_extra: tuple[int, ...] = (2, 5, 9)
    annotators_per_sample: int = 10
    reliability: tuple[float, float] = (0.8, 0.95)
    hidden: tuple[int, ...] = (128,)
    num_steps: int = 1200
    chunk: int = 100
    batch_size: int = 128
    learning_rate: float = 2e-3
    ds_iters: int = 50
    coverage_threshold: float = 0.8
    agreement_bins: int = 5
    min_gap: float = 0.10
    min_aggregate_accuracy: float = 0.9

    SCALES: ClassVar[dict] = {
        "full": {
            "num_steps": 6000,
            "hidden": (256, 256),
            "group_sizes": (80, 20),
        },
        "tiny": {"num_steps": 40, "chunk": 20, "hidden": (16,), "ds_iters": 5},
    }

    def __post_init__(self):
        if len(self.group_sizes) != 2 or len(self.group_names) != 2:
            raise ValueError("group_sizes and group_names must describe 2 groups")
        digits = set(self.majority_positive) | set(self.minority_extra)
        if not digits <= set(range(10)) or set(self.majority_positive) & set(self.minority_extra):
            raise ValueError("majority_positive and minority_extra must be disjoint digits 0..9")
        require_at_least(
            self, 1, "annotators_per_sample", "num_steps", "chunk", "batch_size", "agreement_bins"
        )
        require_at_least(self, 0, "ds_iters")
        if self.num_steps % self.chunk:
            raise ValueError(f"num_steps {self.num_steps} must be a multiple of chunk {self.chunk}")
        if not 0 < self.min_gap < 1 or not 0 < self.min_aggregate_accuracy <= 1:
            raise ValueError("min_gap and min_aggregate_accuracy must lie in (0, 1]")


def make_crowd(config: Config):
    """The digits (train+val, test) and the crowd's judgements of every image."""
    data = load_digits(seed=config.seed)
    x = np.concatenate([data.train.x, data.val.x, data.test.x])
    digit = np.concatenate([data.train.y, data.val.y, data.test.y])
    n_train = data.train.x.shape[0] + data.val.x.shape[0]
    maj = np.isin(np.arange(10), config.majority_positive).astype(np.int32)  # digit -> label
    mino = maj | np.isin(np.arange(10), config.minority_extra).astype(np.int32)
    crowd = op.synthetic_crowd(
        jax.random.key(config.seed),
        digit,
        [lambda d: maj[d], lambda d: mino[d]],
        config.group_sizes,
        num_classes=2,
        annotators_per_sample=config.annotators_per_sample,
        reliability=config.reliability,
        group_names=config.group_names,
    )
    return x, n_train, crowd


def targets(way: str, table: op.AnnotationTable, ds_iters: int):
    """The training targets of ``way`` over ``table``'s samples."""
    if way == "majority_vote":
        return op.majority_vote(table, 2)
    if way == "dawid_skene":
        return jax.jit(op.dawid_skene, static_argnums=(1, 2))(table, 2, ds_iters).labels
    if way == "soft_labels":
        return op.soft_labels(table, 2)
    return table.label_matrix()


LOSSES = {"soft": op.soft_cross_entropy, "heads": op.annotator_heads_cross_entropy}


def _model(config: Config, num_heads: int, dim: int):
    return make_classifier(
        "mlp", num_classes=2 * num_heads, input_shape=(dim,), hidden=config.hidden
    )


@functools.partial(jax.jit, static_argnames=("config", "num_heads"))
def _init(key, x1, *, config: Config, num_heads: int):
    return _model(config, num_heads, x1.shape[1]).init(key, x1)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _logits(config: Config, loss: str, num_heads: int, params, xb):
    z = _model(config, num_heads, xb.shape[1]).apply(params, xb)
    return z.reshape(xb.shape[0], num_heads, 2) if loss == "heads" else z


@functools.partial(jax.jit, static_argnames=("config", "loss", "num_heads"))
def _chunk(state, i, x, y, key, *, config: Config, loss: str, num_heads: int):
    """``config.chunk`` Adam steps (one ``optax_scan``) on epoch-shuffled batches of ``(x, y)``."""
    sampler = batch_sampler(x.shape[0], config.batch_size, rule="epoch")

    def batch(t):
        idx = sampler(key, t)
        return x[idx], y[idx]

    res = optax_scan(
        lambda p, xb, yb: LOSSES[loss](_logits(config, loss, num_heads, p, xb), yb),
        optax.adam(config.learning_rate),
        *state,
        batch_fn=batch,
        num_steps=config.chunk,
        start_step=i * config.chunk,
    )
    return (res.params, res.opt_state), {"loss": res.losses[-1]}


def train_way(config: Config, way: str, x, y, num_heads: int, workdir: Path):
    """Trains the MLP on ``(x, y)`` with ``way``'s loss; returns ``logits_fn(x)``."""
    loss = "heads" if way == "per_annotator_heads" else "soft"
    num_heads = num_heads if loss == "heads" else 1
    key = jax.random.fold_in(jax.random.key(config.seed), WAYS.index(way))
    x, y = jnp.asarray(x), jnp.asarray(y)
    if way in AGGREGATED:  # hard labels as one-hot targets: one compiled program for 3 ways
        y = jax.nn.one_hot(y, 2)
    params = _init(key, x[:1], config=config, num_heads=num_heads)
    static = {"config": config, "loss": loss, "num_heads": num_heads}
    result = train_loop(
        (params, optax.adam(config.learning_rate).init(params)),
        lambda state, i: _chunk(state, i, x, y, key, **static),
        num_steps=config.num_steps // config.chunk,
        checkpoint_dir=workdir / "ckpt" / way,
        checkpoint_every=10**9,
        desc=f"opinions/{way}",
        config=config,
    )
    return lambda xb: _logits(config, loss, num_heads, result.state[0], xb)


@functools.partial(jax.jit, static_argnames=("threshold", "bins"))
def _metrics(logits, test, head_of, rules, *, threshold: float, bins: int):
    heads = logits.ndim == 3
    pred = jnp.argmax(logits[:, head_of, :] if heads else logits, axis=-1)  # [n] / [n, A]
    out = op.evaluation_report(
        pred, test, threshold=threshold, num_bins=bins, logits=None if heads else logits
    )
    out["follows_rule"] = op.rule_agreement(pred, rules, test.attributes["group"])
    return out


def evaluate_way(config: Config, logits, test: op.AnnotationTable, head_of, rules) -> dict:
    """Every per-annotator metric of test ``logits`` ([n, 2], or [n, heads, 2]), in one program."""
    out = _metrics(
        logits,
        test,
        head_of,
        rules,
        threshold=config.coverage_threshold,
        bins=config.agreement_bins,
    )
    return jax.tree.map(lambda a: np.asarray(a).tolist(), out)


def plot(config: Config, per_way: dict, path: Path) -> None:
    fig, (ax_d, ax_o, ax_a) = plt.subplots(1, 3, figsize=(15, 4.2))
    rng = np.random.default_rng(0)
    for i, (way, m) in enumerate(per_way.items()):
        acc, grp = np.asarray(m["per_annotator_accuracy"]), np.asarray(m["group"])
        for g, name in enumerate(config.group_names):
            a = acc[grp == g]
            ax_d.scatter(
                i + 0.2 * (g - 0.5) + rng.uniform(-0.06, 0.06, a.size),
                a,
                s=14,
                color=f"C{g}",
                alpha=0.8,
                label=name if i == 0 else None,
            )
            ax_d.hlines(
                a.mean(), i + 0.2 * (g - 0.5) - 0.1, i + 0.2 * (g - 0.5) + 0.1, color=f"C{g}", lw=2
            )
        for j, kind in enumerate(("majority", "minority")):
            lab = f"{kind} opinions" if i == 0 else None
            ax_o.bar(
                i + 0.4 * j - 0.2, m[f"{kind}_opinion_accuracy"], 0.4, color=f"C{j}", label=lab
            )
        edges = np.asarray(m["agreement_edges"])
        ax_a.plot(0.5 * (edges[1:] + edges[:-1]), m["agreement_accuracy"], "o-", label=way)
    names = [w.replace("_", " ") for w in per_way]
    for ax in (ax_d, ax_o):
        ax.set_xticks(range(len(names)), names, rotation=15, fontsize=8)
    ax_d.set(ylabel="accuracy vs the annotator's own labels", ylim=(0, 1.02))
    ax_d.set_title("per-annotator accuracy (bars: group means)", fontsize=10)
    ax_o.set(ylabel="accuracy on those judgements", ylim=(0, 1.18))
    ax_o.set_title("majority vs minority opinions (per judgement)", fontsize=10)
    ax_a.set(xlabel="sample agreement", ylabel="judgement accuracy", ylim=(0, 1.02))
    ax_a.set_title("accuracy by sample agreement (share giving the top label)", fontsize=10)
    for ax, loc in ((ax_d, "lower left"), (ax_o, "upper center"), (ax_a, "lower right")):
        ax.legend(fontsize=8, loc=loc, ncol=2 if ax is ax_o else 1)
    save_figure(fig, path)


def run(config: Config, workdir: Path) -> dict:
    """Draws the crowd, trains the four ways, evaluates each per annotator on held-out samples."""
    workdir, t0 = Path(workdir), time.perf_counter()
    x, n_train, crowd = make_crowd(config)
    train = crowd.table.select_samples(np.arange(n_train))
    test = crowd.table.select_samples(np.arange(n_train, x.shape[0]))
    if missing := set(test.annotator_keys) - set(train.annotator_keys):
        raise ValueError(f"annotators {sorted(missing)} have no training labels")
    head_of = jnp.asarray([train.annotator_keys.index(k) for k in test.annotator_keys])
    per_way, agg = {}, {}
    for way in WAYS:
        y = targets(way, train, config.ds_iters)
        if way in AGGREGATED:  # how often the aggregate sides with each group's rule
            rule = np.asarray(crowd.group_labels)[:, :n_train]
            agg[way] = (np.asarray(y)[None, :] == rule).mean(axis=1).tolist()
        logits_fn = train_way(config, way, x[:n_train], y, train.num_annotators, workdir)
        logits = logits_fn(jnp.asarray(x[n_train:]))
        per_way[way] = evaluate_way(config, logits, test, head_of, crowd.group_labels[:, n_train:])
    users = "everyone whose opinion the crowd samples (both opinion groups)"
    specs = {
        w: op.EvaluationSpec.from_table(
            test, users=users, aggregation=w, coverage_threshold=config.coverage_threshold
        )
        for w in WAYS
    }
    plot(config, per_way, workdir / "minority_exclusion.png")
    text = "\n\n".join(f"## {w}\n\n{sp.to_text()}" for w, sp in specs.items())
    (workdir / "evaluation_spec.md").write_text(text + "\n")
    metrics = {
        "ways": per_way,
        "aggregate_agrees_with_group_rule": agg,
        "disagreement": np.asarray(op.disagreement_rate(crowd.group_labels))[0, 1].item(),
        "spec": specs["majority_vote"].to_dict(),
        "specs": {w: sp.to_dict() for w, sp in specs.items()},
        "min_gap": config.min_gap,
        "min_aggregate_accuracy": config.min_aggregate_accuracy,
        "group_names": list(config.group_names),
        "wall_seconds": time.perf_counter() - t0,
    }
    return write_outputs(workdir, config, metrics, figures=["minority_exclusion.png"])


def summarize(metrics: dict) -> Summary:
    ways, x, floor = metrics["ways"], metrics["min_gap"], metrics["min_aggregate_accuracy"]
    major, minor = metrics["group_names"]
    spec = metrics["spec"]
    numbers = {
        "evaluation spec": (
            f"users: {spec['users']}; {spec['num_samples']} test samples x "
            f"{spec['annotators_per_sample'][1]} annotators; attributes "
            f"{', '.join(spec['attributes'])}; scale {'/'.join(spec['label_scale'])}; "
            f"evaluated per {spec['evaluated_per']}; aggregation: the way named in each row"
        ),
        "group disagreement (share of inputs)": round(metrics["disagreement"], 3),
    }
    for way, m in ways.items():
        g = m["group_accuracy"]
        numbers[f"{way}: {major} / {minor} accuracy"] = f"{g[0]:.3f} / {g[1]:.3f}"
        r = m["follows_rule"]
        numbers[f"{way}: follows {major} / {minor} rule"] = f"{r[0]:.3f} / {r[1]:.3f}"
        numbers[f"{way}: {major} - {minor} gap (points)"] = round(100 * (g[0] - g[1]), 1)
        numbers[f"{way}: minority-opinion accuracy"] = round(m["minority_opinion_accuracy"], 3)
        if "accuracy_vs_majority_vote" in m:
            numbers[f"{way}: accuracy vs majority vote"] = round(m["accuracy_vs_majority_vote"], 3)
        numbers[f"{way}: coverage"] = round(m["coverage"], 3)
    gap = {w: m["group_accuracy"][0] - m["group_accuracy"][1] for w, m in ways.items()}
    failures = []
    for way in AGGREGATED:
        if gap[way] < x:
            failures.append(f"{way} minority gap {100 * gap[way]:.1f} < {100 * x:g} points")
        if (acc := ways[way]["accuracy_vs_majority_vote"]) < floor:
            failures.append(f"{way} accuracy vs majority vote {acc:.3f} < {floor}")
    if (heads_gap := gap["per_annotator_heads"]) >= x:
        failures.append(f"per-annotator heads gap {100 * heads_gap:.1f} >= {100 * x:g} points")
    shown = (*AGGREGATED, "per_annotator_heads")
    detail = ", ".join(f"{w} gap {100 * gap[w]:.1f}" for w in shown)
    ok, verdict = judge(failures, detail + " points")
    thresholds = {
        "X: min minority gap of aggregated-label ways (points)": 100 * x,
        "min accuracy vs majority vote of aggregated-label ways": floor,
        "max gap of per-annotator heads (points)": 100 * x,
    }
    return Summary(numbers, ok, verdict, thresholds)


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
