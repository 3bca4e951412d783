"""Independent dataset distillations over seeds, as one vmapped program (Lorraine et al. 2020,
sec. 5.3).

Each seed ``s`` has its own key: its distilled inputs start at ``init_inputs(fold_in(key_s, 2))``
and its inner model is reset every ``reset_every`` hypersteps from keys folded out of
``fold_in(key_s, 1)`` (:func:`jaxml.implicit.with_inner_resets`). ``init`` and ``update`` are
``vmap``-ed over the leading seed axis, so all seeds run in one compiled program.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import optax

from jaxml import _validation as chk
from jaxml._validation import PyTree
from jaxml.implicit.bilevel import Bilevel, BilevelState
from jaxml.implicit.resets import with_inner_resets

__all__ = ["SeededDistillation", "distill_seeds"]


class SeededDistillation(NamedTuple):
    """``init(seed_keys [s]) -> states``; ``update(states, seed_keys, step, train_batches,
    val_args) -> (states, info)`` with every state leaf and info entry stacked over seeds."""

    init: Callable[[jax.Array], BilevelState]
    update: Callable[..., tuple[BilevelState, dict[str, jax.Array]]]


def distill_seeds(
    solver: Bilevel,
    init_params: Callable[[jax.Array], PyTree],
    init_inputs: Callable[[jax.Array], jax.Array],
    inner_optimizer: optax.GradientTransformation,
    reset_every: int,
) -> SeededDistillation:
    """Builds the seed-vmapped distillation.

    Args:
        solver: a :func:`jaxml.implicit.bilevel` whose hyperparameters are the distilled inputs.
        init_params: ``key -> params`` (a fresh inner model).
        init_inputs: ``key -> inputs [k, ...]`` (the distilled inputs' starting point).
        inner_optimizer: the solver's inner optimizer.
        reset_every: re-initialize the inner model every this many hypersteps (int >= 1).
    """
    chk.check_callable(init_inputs, "init_inputs")
    reset_every = chk.check_int(reset_every, "reset_every", minimum=1)
    update_one = with_inner_resets(solver, init_params, inner_optimizer, reset_every)

    def reset_key(key):
        return jax.random.fold_in(key, 1)

    def init(seed_keys: jax.Array) -> BilevelState:
        chk.check_key(seed_keys, "seed_keys")

        def one(key):
            params = init_params(jax.random.fold_in(reset_key(key), 0))
            return solver.init(params, init_inputs(jax.random.fold_in(key, 2)))

        return jax.vmap(one)(seed_keys)

    def update(states, seed_keys, step, train_batches, val_args=()):
        chk.check_key(seed_keys, "seed_keys")
        axes = (0, 0, None, None, None)
        reset_keys = jax.vmap(reset_key)(seed_keys)
        return jax.vmap(update_one, axes)(states, reset_keys, step, train_batches, val_args)

    return SeededDistillation(init, update)
