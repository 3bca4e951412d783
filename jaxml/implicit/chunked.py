"""Memory-bounded mean losses: evaluate a per-batch mean loss chunk by chunk with rematerialization.

The hyperstep's validation gradient is taken over the whole validation set, which can be several
times a training batch (400 vs 128 examples in Lorraine et al.'s setting): its activations then
dominate the bilevel update's working memory. ``chunked_mean(loss, chunk_size)`` computes the same
mean with ``lax.scan`` over chunks and ``jax.checkpoint`` on each chunk, so reverse mode keeps
one chunk's activations at a time (at the price of one extra forward pass per chunk).
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxml import _validation as chk


def chunked_mean(
    loss_fn: Callable[..., jax.Array], chunk_size: int, *, num_leading: int = 2
) -> Callable[..., jax.Array]:
    """Wraps ``loss_fn(a_1, ..., a_L, *data) -> mean over the batch`` into a chunked equivalent.

    Args:
        loss_fn: a loss whose first ``num_leading`` arguments (e.g. params, hparams) are passed
            whole and whose remaining arguments are data arrays with a shared leading batch axis;
            it must return the MEAN over the batch.
        chunk_size: examples per chunk; the batch size must be a multiple of it.
        num_leading: how many leading arguments are not data (default 2: params, hparams).

    Returns:
        A function with the same signature and value (up to float rounding) as ``loss_fn``.
    """
    chk.check_callable(loss_fn, "loss_fn")
    chunk_size = chk.check_int(chunk_size, "chunk_size", minimum=1)
    num_leading = chk.check_int(num_leading, "num_leading", minimum=0)

    def wrapped(*args: Any) -> jax.Array:
        lead, data = args[:num_leading], args[num_leading:]
        if not data:
            raise ValueError("chunked_mean needs at least one data argument after the leading ones")
        n = jnp.shape(jax.tree.leaves(data)[0])[0]
        if n % chunk_size:
            raise ValueError(
                f"the batch of {n} examples is not a multiple of chunk_size={chunk_size}"
            )
        chunks = jax.tree.map(lambda a: a.reshape(n // chunk_size, chunk_size, *a.shape[1:]), data)
        body = jax.checkpoint(lambda chunk: loss_fn(*lead, *chunk))

        def step(total, chunk):
            return total + body(chunk), None

        total, _ = jax.lax.scan(step, jnp.zeros(()), chunks)
        return total / (n // chunk_size)

    return wrapped
