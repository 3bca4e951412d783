"""Learned data augmentation as a bilevel problem, in paired arms (Lorraine et al. 2020, sec. 5.4).

The weights ``aug`` of an augmentation network (:class:`jaxml.implicit.hparams.AugmentNet`) are
the hyperparameters: the classifier trains on augmented mini-batches,
``train_loss(params, aug, x, y, key) = CE(apply_fn(params, augment(net, aug, x, key)), y)``, and
the augmenter is tuned on the un-augmented held-out loss ``val_loss(params, aug, x, y) =
CE(apply_fn(params, x), y)`` (no direct dependence on ``aug``: the hypergradient is all implicit).

:func:`augmentation_arms` advances several arms on the SAME mini-batches from the SAME init: one
:func:`jaxml.implicit.bilevel` solver per hypergradient ``method`` (e.g. "identity" and
"neumann") and a ``"plain"`` arm that takes the same inner steps without augmentation
(:func:`jaxml.train.optax_scan`), so per-seed differences between arms are paired.
"""

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from jaxml import _validation as chk
from jaxml._validation import PyTree
from jaxml.implicit.bilevel import bilevel
from jaxml.implicit.hparams.augmentation import AugmentNet, augment
from jaxml.implicit.hypergradient import METHODS
from jaxml.models import cross_entropy, evaluate
from jaxml.train import optax_scan

__all__ = [
    "AugmentationArms",
    "arm_curve_record",
    "arm_metrics",
    "augmentation_arms",
    "augmentation_losses",
    "evaluate_arms",
    "paired_difference",
    "subset_split",
]


def augmentation_losses(
    apply_fn: Callable[..., jax.Array], net: AugmentNet
) -> tuple[Callable[..., jax.Array], Callable[..., jax.Array], Callable[..., jax.Array]]:
    """``(train_loss(params, aug, x, y, key), val_loss(params, aug, x, y), plain_loss(params, x,
    y))`` for a classifier ``apply_fn(params, x [n, h, w, c]) -> logits [n, classes]``."""
    chk.check_callable(apply_fn, "apply_fn")
    if not isinstance(net, AugmentNet):
        raise TypeError(f"net must be an AugmentNet; got {type(net).__name__}")

    def plain_loss(params, x, y):
        return cross_entropy(apply_fn(params, x), y)

    def train_loss(params, aug, x, y, key):
        return plain_loss(params, augment(net, aug, x, key), y)

    def val_loss(params, aug, x, y):
        del aug  # the held-out loss sees un-augmented inputs
        return plain_loss(params, x, y)

    return train_loss, val_loss, plain_loss


class AugmentationArms(NamedTuple):
    """``init(params, aug) -> states``; ``update(states, train_batches, val_args) -> (states,
    logs)``. ``states[method]`` is a :class:`jaxml.implicit.BilevelState`, ``states["plain"]`` is
    ``(params, opt_state)``; ``logs[f"{method}_skipped"]`` flags refused hypersteps."""

    init: Callable[[PyTree, PyTree], dict]
    update: Callable[..., tuple[dict, dict[str, jax.Array]]]


def augmentation_arms(
    apply_fn: Callable[..., jax.Array],
    net: AugmentNet,
    inner_optimizer: optax.GradientTransformation,
    outer_optimizer: optax.GradientTransformation,
    *,
    methods: Sequence[str] = ("identity", "neumann"),
    num_terms: int = 5,
    alpha: float | None = None,
) -> AugmentationArms:
    """Builds the paired arms.

    Args:
        apply_fn, net: the classifier and the augmentation network.
        inner_optimizer: the classifier's optimizer (every arm).
        outer_optimizer: the augmenter's optimizer (every bilevel arm).
        methods: hypergradient methods, one bilevel arm each (see :func:`jaxml.implicit.bilevel`).
        num_terms, alpha: as in :func:`jaxml.implicit.bilevel` (``alpha``: the inner rate).

    ``update(states, (x [T, b, ...], y [T, b], keys [T]), (x_val, y_val))``: every arm takes the
    same ``T`` inner steps; the bilevel arms then take one hyperstep each. Jit-safe.
    """
    if isinstance(methods, str) or not isinstance(methods, Sequence) or not methods:
        raise TypeError(f"methods must be a non-empty sequence of method names; got {methods!r}")
    for m in methods:
        chk.check_choice(m, "methods", METHODS)
    train_loss, val_loss, plain_loss = augmentation_losses(apply_fn, net)
    chk.check_optimizer(inner_optimizer, "inner_optimizer")
    solvers = {
        m: bilevel(
            train_loss,
            val_loss,
            inner_optimizer,
            outer_optimizer,
            method=m,
            num_terms=num_terms,
            alpha=alpha,
        )
        for m in methods
    }

    def init(params: PyTree, aug: PyTree) -> dict:
        states = {m: solver.init(params, aug) for m, solver in solvers.items()}
        states["plain"] = (params, inner_optimizer.init(params))
        return states

    def update(states: dict, train_batches: tuple, val_args: tuple = ()):
        if not isinstance(train_batches, list | tuple) or len(train_batches) != 3:
            raise TypeError("train_batches must be a tuple (x [T, b, ...], y [T, b], keys [T])")
        new, logs = {}, {}
        for m, solver in solvers.items():
            new[m], info = solver.update(states[m], train_batches, val_args)
            logs[f"{m}_skipped"] = info["skipped"]
        res = optax_scan(plain_loss, inner_optimizer, *states["plain"], batches=train_batches[:2])
        new["plain"] = (res.params, res.opt_state)
        return new, logs

    return AugmentationArms(init, update)


def _check_evals_states(evals, states) -> None:
    if not isinstance(evals, dict):
        raise TypeError(
            f"evals must be the dict returned by evaluate_arms; got {type(evals).__name__}"
        )
    if not isinstance(states, dict) or "plain" not in states:
        raise TypeError("states must be the dict of arms returned by augmentation_arms")


def evaluate_arms(
    apply_fn: Callable[..., jax.Array],
    net: AugmentNet,
    states: dict,
    splits: dict[str, tuple[jax.Array, jax.Array]],
    x_aug: jax.Array,
    key: jax.Array,
) -> dict[str, jax.Array]:
    """Per-seed accuracy and loss of every arm on every split, and how much each augmenter moves
    the inputs.

    Args:
        apply_fn, net: as in :func:`augmentation_arms`.
        states: :func:`augmentation_arms` states stacked over a leading seed axis ``[s]``.
        splits: ``{name: (x [n, ...], y [n])}``.
        x_aug: ``[m, h, w, c]`` inputs on which ``mean |augment(x) - x|`` is measured.
        key: the augmentation noise key of that measurement.

    Returns:
        ``{f"{arm}_{split}_acc"|f"{arm}_{split}_loss": [s]}`` for every arm and split, and
        ``{f"{method}_aug_change": [s]}`` for every bilevel arm. Jit-safe.
    """
    chk.check_callable(apply_fn, "apply_fn")
    if not isinstance(states, dict) or "plain" not in states:
        raise TypeError("states must be the dict of arms returned by augmentation_arms")
    chk.check_array(x_aug, "x_aug", ndim=4, dtype="float")
    if not isinstance(splits, dict):
        raise TypeError(f"splits must be a dict {{name: (x, y)}}; got {type(splits).__name__}")
    chk.check_key(key)
    out = {}
    for arm, state in states.items():
        params = state[0] if arm == "plain" else state.params
        for split, (x, y) in splits.items():
            ev = jax.vmap(lambda p, x=x, y=y: evaluate(apply_fn, p, x, y))(params)
            out[f"{arm}_{split}_acc"], out[f"{arm}_{split}_loss"] = ev["accuracy"], ev["loss"]
        if arm != "plain":
            change = lambda h: jnp.mean(jnp.abs(augment(net, h, x_aug, key) - x_aug))
            out[f"{arm}_aug_change"] = jax.vmap(change)(state.hparams)
    return out


def paired_difference(a: ArrayLike, b: ArrayLike) -> dict:
    """Per-seed differences ``d = a - b`` of paired arms (``[s]`` each), their mean and standard
    error ``std(d, ddof=1) / sqrt(s)`` (NaN for one seed): ``{"per_seed", "mean", "se"}``."""
    chk.check_array(a, "a", ndim=1, min_size=1)
    chk.check_array(b, "b", shape=(np.size(a),))
    d = np.asarray(a) - np.asarray(b)
    se = d.std(ddof=1) / math.sqrt(d.size) if d.size > 1 else float("nan")
    return {"per_seed": d.tolist(), "mean": float(d.mean()), "se": float(se)}


def subset_split(
    x: ArrayLike,
    y: ArrayLike,
    val: tuple[ArrayLike, ArrayLike],
    *,
    num_train: int,
    num_classes: int,
    add_unused: bool = True,
) -> tuple[tuple[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
    """A small class-balanced training subset and the held-out (outer) pool.

    The subset is the first ``num_train / num_classes`` examples of each class of ``(x, y)``
    (shuffle beforehand); the outer pool is ``val``, plus the examples of ``(x, y)`` left out of
    the subset when ``add_unused`` (the classifier never trains on them).

    Args:
        x: ``[n, ...]`` inputs; y: ``[n]`` int labels in ``[0, num_classes)``.
        val: ``(x_val [m, ...], y_val [m])``.
        num_train: subset size, a multiple of ``num_classes``.
        num_classes: number of classes (int >= 1).
        add_unused: append the unused examples to the outer pool.

    Returns:
        ``((x_subset, y_subset), (x_outer, y_outer))`` as jax arrays.
    """
    n = chk.check_array(x, "x", min_ndim=1)[0]
    chk.check_array(y, "y", shape=(n,), dtype="int")
    num_classes = chk.check_int(num_classes, "num_classes", minimum=1)
    num_train = chk.check_int(num_train, "num_train", minimum=num_classes)
    if num_train % num_classes:
        raise ValueError(
            f"num_train must be a multiple of num_classes={num_classes}; got {num_train}"
        )
    chk.check_bool(add_unused, "add_unused")
    x, y = np.asarray(x), np.asarray(y)
    per = num_train // num_classes
    idx = np.concatenate([np.flatnonzero(y == c)[:per] for c in range(num_classes)])
    if idx.size != num_train:
        raise ValueError(f"y has fewer than {per} examples of some class (num_train={num_train})")
    outer = (np.asarray(val[0]), np.asarray(val[1]))
    if add_unused:
        rest = np.setdiff1d(np.arange(y.size), idx)
        outer = (np.concatenate([outer[0], x[rest]]), np.concatenate([outer[1], y[rest]]))
    return (jnp.asarray(x[idx]), jnp.asarray(y[idx])), tuple(jnp.asarray(a) for a in outer)


def arm_metrics(evals: dict[str, ArrayLike], states: dict) -> dict[str, dict]:
    """Per-arm JSON-able results from :func:`evaluate_arms` output ``evals`` (with ``test``,
    ``val`` and ``outer`` splits) and the final ``states``: test accuracy per seed, its mean/std,
    test-loss mean/std, per-seed val/outer accuracy, outer and test loss, and for bilevel arms the
    augmentation change and the number of skipped hypersteps per seed."""
    _check_evals_states(evals, states)
    out = {}
    for arm in states:
        test = np.asarray(evals[f"{arm}_test_acc"], np.float64)
        loss = np.asarray(evals[f"{arm}_test_loss"], np.float64)
        r = {"test_accuracy": test.tolist(), "test_mean": float(test.mean())}
        r |= {"test_std": float(test.std()), "test_loss_mean": float(loss.mean())}
        r["test_loss_std"] = float(loss.std())
        for key in ("val_acc", "outer_acc", "outer_loss", "test_loss", "aug_change"):
            if f"{arm}_{key}" in evals:
                r[key.replace("_acc", "_accuracy")] = np.asarray(evals[f"{arm}_{key}"]).tolist()
        if arm != "plain":
            r["num_skipped"] = np.asarray(states[arm].num_skipped).tolist()
        out[arm] = r
    return out


def arm_curve_record(evals: dict[str, ArrayLike], states: dict) -> dict[str, float]:
    """One point of the training curves from :func:`evaluate_arms` output: per arm the mean and
    std over seeds of the test accuracy, the mean val accuracy and mean outer loss; per bilevel
    arm the mean augmentation change and the total number of skipped hypersteps."""
    _check_evals_states(evals, states)
    record = {}
    for arm in states:
        acc = np.asarray(evals[f"{arm}_test_acc"])
        record |= {f"{arm}_test_acc_mean": acc.mean(), f"{arm}_test_acc_std": acc.std()}
        record[f"{arm}_val_acc_mean"] = np.asarray(evals[f"{arm}_val_acc"]).mean()
        record[f"{arm}_outer_loss"] = np.asarray(evals[f"{arm}_outer_loss"]).mean()
    for arm in states:
        if arm != "plain":
            record[f"{arm}_aug_change"] = np.asarray(evals[f"{arm}_aug_change"]).mean()
            record[f"{arm}_skipped"] = np.asarray(states[arm].num_skipped).sum()
    return {k: float(v) for k, v in record.items()}
