"""Periodic inner-model resets for a bilevel run (dataset distillation's protocol).

Lorraine et al.'s Algorithm 1 warm-starts the inner weights forever. When the hyperparameters must
serve *fresh* models (a distilled training set), the inner model is re-initialized every
``period`` hypersteps: at a hyperstep ``t`` with ``t % period == 0`` the state's params (and inner
optimizer state) are replaced by ``init_params(fold_in(key, t // period))`` before the update. The
fresh init is a function of ``(key, t)`` only, so a resumed run is bit-identical.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from jaxml import _validation as chk
from jaxml._validation import PyTree
from jaxml.implicit.bilevel import Bilevel, BilevelState

__all__ = ["with_inner_resets"]


def with_inner_resets(
    solver: Bilevel,
    init_params: Callable[[jax.Array], PyTree],
    inner_optimizer: optax.GradientTransformation,
    period: int,
) -> Callable[..., tuple[BilevelState, dict[str, jax.Array]]]:
    """``update(state, key, step, train_batches, val_args=()) -> (state, info)``.

    Args:
        solver: a :func:`jaxml.implicit.bilevel` solver.
        init_params: ``key -> params`` (a fresh inner model).
        inner_optimizer: the solver's inner optimizer (its state is re-initialized too).
        period: reset every this many hypersteps (int >= 1); step 0 always resets.

    Jit- and vmap-safe in ``state``, ``key`` and ``step``.
    """
    if not isinstance(solver, Bilevel):
        raise TypeError(f"solver must be a Bilevel (from bilevel()); got {type(solver).__name__}")
    chk.check_callable(init_params, "init_params")
    chk.check_optimizer(inner_optimizer, "inner_optimizer")
    period = chk.check_int(period, "period", minimum=1)

    def update(state: BilevelState, key: jax.Array, step, train_batches, val_args=()):
        chk.check_key(key)
        fresh = init_params(jax.random.fold_in(key, step // period))
        reset = step % period == 0
        pick = lambda a, b: jax.tree.map(lambda u, w: jnp.where(reset, u, w), a, b)
        state = state._replace(
            params=pick(fresh, state.params),
            inner_opt_state=pick(inner_optimizer.init(fresh), state.inner_opt_state),
        )
        return solver.update(state, train_batches, val_args)

    return update
