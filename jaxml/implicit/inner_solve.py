"""Solving the inner problem to (near) optimality: the point where the IFT is exact.

``lbfgs_minimize`` runs ``num_steps`` optax L-BFGS steps (with its zoom line search) in one
``lax.scan``; used where an exact reference hypergradient needs ``grad_w L_T(w*) ~= 0`` (e.g. the
hypergradient-accuracy figure, Lorraine et al. 2020, sec. 5.1).
"""

from collections.abc import Callable

import jax
import optax

from jaxml import _validation as chk
from jaxml._validation import PyTree
from jaxml.implicit.inverse_hvp import check_float_tree

__all__ = ["lbfgs_minimize"]


def lbfgs_minimize(loss: Callable[[PyTree], jax.Array], params: PyTree, num_steps: int) -> PyTree:
    """``num_steps`` L-BFGS steps on ``loss(params) -> scalar`` from ``params``; returns the params.

    Args:
        loss: the objective (a scalar function of the parameter pytree).
        params: the starting point (pytree of float arrays).
        num_steps: L-BFGS iterations (int >= 0). Jit-safe; a NaN loss is returned, not raised.
    """
    chk.check_callable(loss, "loss")
    check_float_tree(params, "params")
    num_steps = chk.check_int(num_steps, "num_steps", minimum=0)
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(loss)

    def step(carry, _):
        p, s = carry
        value, grad = value_and_grad(p, state=s)
        updates, s = opt.update(grad, s, p, value=value, grad=grad, value_fn=loss)
        return (optax.apply_updates(p, updates), s), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=num_steps)
    return params
