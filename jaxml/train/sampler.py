"""Deterministic mini-batch sampling: ``indices = sampler(key, step)``.

The indices of step ``t`` are a pure function of ``(key, t)``, never of Python-side state, so a run
killed at any step and resumed from its checkpoint draws exactly the batches an uninterrupted run
would have drawn, and a ``lax.scan`` over steps can sample inside the compiled loop.

Rules (``rule=``):

- ``"epoch"``: walk a fresh permutation of the ``n`` examples each epoch, ``n // batch_size``
  batches per epoch; the ``n % batch_size`` left-over examples sit out that epoch. Every example is
  seen once per epoch (the usual data-loader semantics).
- ``"without_replacement"``: each step draws ``batch_size`` distinct examples uniformly,
  independently of the other steps (``jax.random.choice(..., replace=False)`` with a key folded
  with the step).
- ``"with_replacement"``: each step draws ``batch_size`` examples uniformly with replacement.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxml import _validation as v

RULES = ("epoch", "without_replacement", "with_replacement")
Sampler = Callable[[jax.Array, jax.Array | int], jax.Array]


def batch_indices(
    key: jax.Array,
    step: jax.Array | int,
    *,
    num_examples: int,
    batch_size: int,
    rule: str = "epoch",
) -> jax.Array:
    """The int32 indices ``[batch_size]`` of step ``step``'s mini-batch (jit-safe in ``step``).

    Args:
        key: a PRNG key; the same key and step always give the same batch.
        step: the step index (a Python int or a traced int scalar).
        num_examples: ``n``, the number of examples to draw from.
        batch_size: examples per batch, ``1 <= batch_size <= n`` (any size for
            ``"with_replacement"``).
        rule: ``"epoch"``, ``"without_replacement"`` or ``"with_replacement"`` (module docstring).
    """
    return batch_sampler(num_examples, batch_size, rule=rule)(key, step)


def batch_sampler(num_examples: int, batch_size: int, *, rule: str = "epoch") -> Sampler:
    """Returns ``sampler(key, step) -> indices [batch_size]`` (see :func:`batch_indices`)."""
    n = v.check_int(num_examples, "num_examples", minimum=1)
    v.check_choice(rule, "rule", RULES)
    upper = None if rule == "with_replacement" else n
    b = v.check_int(batch_size, "batch_size", minimum=1, maximum=upper)

    def sampler(key: jax.Array, step: jax.Array | int) -> jax.Array:
        v.check_key(key)
        if v.is_concrete(step):
            v.check_int(step, "step", minimum=0)
        step = jnp.asarray(step, jnp.int32)
        if rule == "epoch":
            per_epoch = n // b
            perm = jax.random.permutation(jax.random.fold_in(key, step // per_epoch), n)
            start = (step % per_epoch) * b
            return jax.lax.dynamic_slice(perm, (start,), (b,)).astype(jnp.int32)
        step_key = jax.random.fold_in(key, step)
        if rule == "without_replacement":
            return jax.random.choice(step_key, n, (b,), replace=False).astype(jnp.int32)
        return jax.random.randint(step_key, (b,), 0, n, dtype=jnp.int32)

    return sampler


def sampled_step(step_fn: Callable, sampler: Sampler, key: jax.Array) -> Callable:
    """``step(state, t, *data) = step_fn(state, *[d[sampler(key, t)] for d in data])``.

    Turns a step on a batch (e.g. :func:`jaxml.models.make_train_step`'s) into a step on the
    whole data set that gathers step ``t``'s mini-batch inside the compiled program.
    """
    v.check_callable(step_fn, "step_fn")
    v.check_callable(sampler, "sampler")
    v.check_key(key)

    def step(state, t, *data):
        idx = sampler(key, t)
        return step_fn(state, *(jnp.take(d, idx, axis=0) for d in data))

    return step
