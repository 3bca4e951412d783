"""Fresh models trained on a small training set: how a distilled set is judged (Wang et al. 2018;
Lorraine et al. 2020, sec. 5.3).

A distilled training set must train *new* models, not the one network it was tuned against.
``fresh_trainer`` trains ``s`` models from ``s`` init keys on one set (full batch, a fixed optax
recipe, ``num_steps`` steps via :func:`jaxml.train.optax_scan`); ``fresh_accuracy`` does so for a
stack of training sets with the SAME keys (a paired comparison) and returns their accuracies.
"""

from collections.abc import Callable

import jax
import optax

from jaxml import _validation as chk
from jaxml._validation import PyTree
from jaxml.models import evaluate
from jaxml.train import optax_scan

__all__ = ["fresh_accuracy", "fresh_trainer"]


def fresh_trainer(
    init_fn: Callable[[jax.Array], PyTree],
    loss_fn: Callable[..., jax.Array],
    optimizer: optax.GradientTransformation,
    num_steps: int,
) -> Callable[[jax.Array, jax.Array, jax.Array], PyTree]:
    """``train(inputs [k, ...], labels [k], keys [s]) -> params`` stacked over the ``s`` keys.

    Each model starts from ``init_fn(key)`` and takes ``num_steps`` full-batch steps of
    ``optimizer`` on ``loss_fn(params, inputs, labels)``. Pure and jit-safe.

    Args:
        init_fn: ``key -> params``.
        loss_fn: ``loss_fn(params, inputs, labels) -> scalar``.
        optimizer: the optax recipe every training set is trained with.
        num_steps: full-batch steps per model (int >= 1).
    """
    chk.check_callable(init_fn, "init_fn")
    chk.check_callable(loss_fn, "loss_fn")
    chk.check_optimizer(optimizer)
    num_steps = chk.check_int(num_steps, "num_steps", minimum=1)

    def one(inputs, labels, key):
        params = init_fn(key)
        batch = (inputs, labels)
        return optax_scan(
            loss_fn,
            optimizer,
            params,
            optimizer.init(params),
            batch_fn=lambda _: batch,
            num_steps=num_steps,
        ).params

    return jax.vmap(one, in_axes=(None, None, 0))


def fresh_accuracy(
    train: Callable[[jax.Array, jax.Array, jax.Array], PyTree],
    apply_fn: Callable[..., jax.Array],
    inputs: jax.Array,
    labels: jax.Array,
    keys: jax.Array,
    x: jax.Array,
    y: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Accuracies of fresh models trained on each of a stack of training sets.

    Args:
        train: a :func:`fresh_trainer`.
        apply_fn: ``apply_fn(params, x) -> logits [n, classes]``.
        inputs: ``[sets, k, ...]`` training inputs, one set per row.
        labels: ``[sets, k]`` int labels.
        keys: ``[s]`` init keys, the SAME for every set (paired comparison).
        x, y: ``[n, ...]``, ``[n]`` the evaluation data.

    Returns:
        ``([sets, s] accuracy on (x, y), [sets, s] accuracy on the set's own training data)``.
    """
    chk.check_callable(train, "train")
    chk.check_callable(apply_fn, "apply_fn")
    shape = chk.check_array(inputs, "inputs", min_ndim=2, dtype="float")
    chk.check_array(labels, "labels", shape=shape[:2], dtype="int")
    chk.check_key(keys, "keys")
    n = chk.check_array(x, "x", min_ndim=1, dtype="float")[0]
    chk.check_array(y, "y", shape=(n,), dtype="int")

    def acc(p, a, b):
        return evaluate(apply_fn, p, a, b)["accuracy"]

    def one_set(imgs, lab):
        params = train(imgs, lab, keys)
        return (
            jax.vmap(acc, (0, None, None))(params, x, y),
            jax.vmap(acc, (0, None, None))(params, imgs, lab),
        )

    return jax.vmap(one_set)(inputs, labels)
