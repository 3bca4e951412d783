"""The unrolled-differentiation baseline: backpropagate through K inner optimizer steps.

``w_K(lambda) = opt^K(w_0, lambda)``; the hypergradient is ``d/dlambda L_V(w_K(lambda), lambda)``.
Memory grows with K (reverse mode stores every step's activations): the cost Lorraine et al.
(2020) avoid with the IFT. With many small steps from an optimum it approaches the IFT answer
(their Theorem 2: i unrolled SGD steps from w* = i-term Neumann).
"""

from collections.abc import Callable

import jax
import numpy as np
import optax

from jaxml import _validation as chk
from jaxml._validation import PyTree
from jaxml.implicit.inverse_hvp import check_loss_args
from jaxml.train import optax_scan


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
    chk.check_callable(train_loss, "train_loss")
    chk.check_callable(val_loss, "val_loss")
    chk.check_optimizer(optimizer)
    num_steps = chk.check_int(num_steps, "num_steps", minimum=0)
    chk.check_bool(batched_train_args, "batched_train_args")
    train_args, val_args = check_loss_args(params, hparams, train_args, val_args)
    if batched_train_args:
        for leaf in jax.tree.leaves(train_args):
            if np.shape(leaf)[:1] != (num_steps,):
                raise ValueError(
                    f"with batched_train_args every train_args leaf needs a leading axis of size "
                    f"num_steps={num_steps}; got shape {np.shape(leaf)}"
                )
    state0 = optimizer.init(params) if opt_state is None else opt_state

    def outer(h):
        w = params
        if num_steps > 0:
            loss = lambda p, *batch: train_loss(p, h, *batch)  # noqa: E731
            if batched_train_args and jax.tree.leaves(train_args):
                w = optax_scan(loss, optimizer, params, state0, batches=train_args).params
            else:
                w = optax_scan(
                    loss,
                    optimizer,
                    params,
                    state0,
                    batch_fn=lambda _: train_args,
                    num_steps=num_steps,
                ).params
        return val_loss(w, h, *val_args)

    return jax.grad(outer)(hparams)
