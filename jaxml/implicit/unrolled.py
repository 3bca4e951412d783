"""The unrolled-differentiation baseline: backpropagate through K inner optimizer steps.

``w_K(lambda) = opt^K(w_0, lambda)``; the hypergradient is ``d/dlambda L_V(w_K(lambda), lambda)``.
Memory grows with K (reverse mode stores every step's activations): the cost Lorraine et al.
(2020) avoid with the IFT. With many small steps from an optimum it approaches the IFT answer
(their Theorem 2: i unrolled SGD steps from w* = i-term Neumann).
"""

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import optax

PyTree = Any


def unrolled_hypergradient(
    train_loss: Callable[..., jax.Array],
    val_loss: Callable[..., jax.Array],
    params: PyTree,
    hparams: PyTree,
    optimizer: optax.GradientTransformation,
    num_steps: int,
    *,
    opt_state: PyTree | None = None,
    train_args: tuple = (),
    val_args: tuple = (),
    batched_train_args: bool = False,
) -> PyTree:
    """Hypergradient by differentiating through ``num_steps`` steps of ``optimizer``.

    Args:
        train_loss: ``train_loss(params, hparams, *train_args) -> scalar``.
        val_loss: ``val_loss(params, hparams, *val_args) -> scalar``.
        params: starting inner parameters ``w_0``.
        hparams: hyperparameters (differentiated).
        optimizer: any optax transformation (its state is differentiated through too).
        num_steps: K >= 0 (static).
        opt_state: optimizer state at ``w_0`` (default ``optimizer.init(params)``).
        train_args: arguments of ``train_loss``; with ``batched_train_args`` every leaf has a
            leading axis of size K and step k uses slice k (a different mini-batch per step).
        val_args: arguments of ``val_loss``.

    Returns:
        ``d L_V(w_K, hparams) / d hparams``, shaped like ``hparams``.
    """
    if not isinstance(num_steps, (int, np.integer)) or num_steps < 0:
        raise ValueError(f"num_steps must be an int >= 0, got {num_steps!r}")
    train_args, val_args = tuple(train_args), tuple(val_args)
    if batched_train_args:
        for leaf in jax.tree.leaves(train_args):
            if np.shape(leaf)[:1] != (num_steps,):
                raise ValueError(
                    f"with batched_train_args every train_args leaf needs a leading axis of size "
                    f"num_steps={num_steps}; got shape {np.shape(leaf)}"
                )
    state0 = optimizer.init(params) if opt_state is None else opt_state

    def outer(h):
        def step(carry, args):
            w, s = carry
            g = jax.grad(train_loss)(w, h, *(args if batched_train_args else train_args))
            updates, s = optimizer.update(g, s, w)
            return (optax.apply_updates(w, updates), s), None

        xs = train_args if batched_train_args else None
        (w, _), _ = jax.lax.scan(step, (params, state0), xs, length=num_steps)
        return val_loss(w, h, *val_args)

    return jax.grad(outer)(hparams)
