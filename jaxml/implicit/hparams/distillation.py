"""Dataset distillation (Lorraine et al. 2020, sec. 5.3; Wang et al. 2018): a small synthetic
training set whose inputs are the hyperparameters; labels are fixed.

The bilevel problem: the inner loss is the cross-entropy of a model on the distilled inputs plus a
fixed L2 weight decay (without it a few separable points have no finite minimizer and the IFT has
nothing to differentiate); the outer loss is the model's cross-entropy on REAL data.
"""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxml import _validation as chk
from jaxml.implicit.hparams.weight_decay import l2_penalty
from jaxml.models import cross_entropy


def _check_classes(num_classes, per_class) -> tuple[int, int]:
    return (
        chk.check_int(num_classes, "num_classes", minimum=2),
        chk.check_int(per_class, "per_class", minimum=1),
    )


def init_distilled_inputs(
    key: jax.Array,
    num_classes: int,
    per_class: int,
    input_shape: Sequence[int],
    *,
    scale: float = 0.1,
    mean: float = 0.0,
) -> jax.Array:
    """``[num_classes * per_class, *input_shape]`` inputs ``mean + scale * N(0, 1)``, grouped by
    class (rows ``c * per_class ... (c + 1) * per_class - 1`` belong to class c)."""
    chk.check_key(key)
    num_classes, per_class = _check_classes(num_classes, per_class)
    if isinstance(input_shape, str) or not isinstance(input_shape, Sequence):
        raise TypeError(f"input_shape must be a sequence of ints; got {input_shape!r}")
    dims = tuple(chk.check_int(d, "input_shape", minimum=1) for d in input_shape)
    chk.check_nonnegative(scale, "scale")
    chk.check_scalar(mean, "mean")
    shape = (num_classes * per_class, *dims)
    return mean + scale * jax.random.normal(key, shape)


def distilled_labels(num_classes: int, per_class: int) -> jax.Array:
    """Fixed labels ``[num_classes * per_class]`` int32, in :func:`init_distilled_inputs` order."""
    num_classes, per_class = _check_classes(num_classes, per_class)
    return jnp.repeat(jnp.arange(num_classes, dtype=jnp.int32), per_class)


def distillation_losses(
    apply_fn: Callable[..., jax.Array], weight_decay: float
) -> tuple[Callable[..., jax.Array], Callable[..., jax.Array]]:
    """``train_loss(params, inputs, labels)`` (inner) and ``val_loss(params, inputs, x, y)``.

    ``train_loss = CE(apply_fn(params, inputs), labels) + 1/2 weight_decay ||params||^2`` (the
    distilled ``inputs`` are the hyperparameters); ``val_loss = CE(apply_fn(params, x), y)`` on
    real data, with no direct dependence on ``inputs`` (the hypergradient is all implicit).
    """
    chk.check_callable(apply_fn, "apply_fn")
    chk.check_positive(weight_decay, "weight_decay")
    log_decay = jnp.log(jnp.float32(weight_decay))  # one fixed decay for every weight

    def train_loss(params, inputs, labels):
        return cross_entropy(apply_fn(params, inputs), labels) + l2_penalty(params, log_decay)

    def val_loss(params, inputs, x, y):
        del inputs
        return cross_entropy(apply_fn(params, x), y)

    return train_loss, val_loss


def random_real_draws(
    y: np.ndarray, num_classes: int, per_class: int, draws: int, seed: int
) -> list[np.ndarray]:
    """``draws`` index arrays ``[num_classes * per_class]``: ``per_class`` random examples of each
    class of the labels ``y [n]`` (without replacement within a draw), class by class; the
    baseline a distilled set is compared with. Deterministic in ``seed``."""
    chk.check_array(y, "y", ndim=1, dtype="int")
    labels = np.asarray(y)
    num_classes, per_class = _check_classes(num_classes, per_class)
    draws = chk.check_int(draws, "draws", minimum=1)
    seed = chk.check_int(seed, "seed", minimum=0)
    pools = [np.flatnonzero(labels == c) for c in range(num_classes)]
    for c, pool in enumerate(pools):
        if pool.size < per_class:
            raise ValueError(f"y has {pool.size} example(s) of class {c}; per_class={per_class}")
    rng = np.random.default_rng([seed, 7919])
    return [
        np.concatenate([rng.choice(pool, per_class, replace=False) for pool in pools])
        for _ in range(draws)
    ]
