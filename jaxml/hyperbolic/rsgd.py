"""Riemannian SGD on the Poincare ball as an ``optax.GradientTransformation``.

Nickel & Kiela (2017), Eq. 4-5: the Riemannian gradient is the Euclidean one rescaled by the
inverse metric, ``grad_R = ((1 - c|theta|^2)^2 / 4) grad_E = grad_E / lambda_theta^2``, and the
update ``theta <- proj(theta - eta grad_R)`` (first-order retraction) moves back inside the ball
with ``proj`` the radial clip to norm ``(1 - eps)/sqrt(c)``. ``retraction="expmap"`` uses the
exact exponential map ``theta <- proj(exp_theta(-eta grad_R))`` instead.

Every leaf of ``params`` is treated as ``[..., d]`` points of the ball (e.g. an embedding table
``[n, d]``); the update returned is ``new_params - params`` so that
``optax.apply_updates(params, updates)`` gives the projected point.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxml._validation import check_positive, check_scalar
from jaxml.hyperbolic import poincare
from jaxml.hyperbolic._checks import check_curvature

__all__ = ["RiemannianSGDState", "riemannian_sgd"]


class RiemannianSGDState(NamedTuple):
    """The step counter (feeds a learning-rate schedule)."""

    count: jax.Array


def riemannian_sgd(
    learning_rate: float | optax.Schedule,
    *,
    c: float = 1.0,
    eps: float = 1e-5,
    retraction: str = "projection",
) -> optax.GradientTransformation:
    """Riemannian SGD for parameters living in the Poincare ball (Nickel & Kiela 2017, Eq. 5).

    Args:
        learning_rate: a float or an ``optax`` schedule ``count -> lr``.
        c: curvature magnitude.
        eps: the projection margin: parameters stay at norm ``<= (1 - eps)/sqrt(c)``
            (1e-5 as in Nickel & Kiela).
        retraction: ``"projection"`` (``theta - eta grad_R``, the paper's first-order update) or
            ``"expmap"`` (``exp_theta(-eta grad_R)``).

    Returns:
        An ``optax.GradientTransformation``; its ``update`` requires ``params``.

    Raises:
        ValueError: bad ``c``, ``eps``, ``retraction`` or learning rate.
    """
    check_curvature(c)
    eps = float(check_scalar(eps, "eps", minimum=0.0, maximum=1.0, min_open=True, max_open=True))
    if retraction not in ("projection", "expmap"):
        raise ValueError(f"retraction must be 'projection' or 'expmap'; got {retraction!r}")
    if not callable(learning_rate):
        check_positive(learning_rate, "learning_rate")

    def init_fn(params) -> RiemannianSGDState:
        del params
        return RiemannianSGDState(count=jnp.zeros([], jnp.int32))

    def update_fn(updates, state: RiemannianSGDState, params=None):
        if params is None:
            raise ValueError("riemannian_sgd needs params: call update(grads, state, params)")
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate

        def leaf(g, p):
            lr_p = jnp.asarray(lr, p.dtype)
            inv_metric = jnp.square(jnp.maximum(1.0 - c * jnp.sum(p * p, -1, keepdims=True), 0.0))
            rgrad = 0.25 * inv_metric * g
            if retraction == "projection":
                new = p - lr_p * rgrad
            else:
                new = poincare.expmap(p, -lr_p * rgrad, c)
            return poincare.project(new, eps, c) - p

        new_updates = jax.tree_util.tree_map(leaf, updates, params)
        return new_updates, RiemannianSGDState(count=optax.safe_int32_increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)
