"""Riemannian Adam on the Poincare ball (Becigneul & Ganea, ICLR 2019) as an optax transform.

Every leaf is ``[..., d]`` points of the ball; each point is its own manifold factor with its own
second moment (a scalar). With ``lambda_p = 2 / (1 - c|p|^2)`` and ``t`` the step count:

* ``r = grad_E / lambda_p^2`` (the Riemannian gradient);
* ``m <- b1 m + (1 - b1) r``; ``v <- b2 v + (1 - b2) lambda_p^2 |r|^2`` (its squared
  Riemannian norm);
* ``p' = exp_p(-lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps))``;
* the momentum is parallel-transported to ``p'``:
  ``m <- (lambda_p / lambda_p') gyr[p', -p] m`` (Ungar's gyration, closed form below).

The update returned is ``p' - p`` (``optax.apply_updates`` then gives ``p'``), and ``p'`` is
clipped to norm ``(1 - proj_eps)/sqrt(c)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxml._validation import check_positive, check_scalar
from jaxml.hyperbolic import poincare
from jaxml.hyperbolic._checks import check_curvature

__all__ = ["RiemannianAdamState", "gyration", "parallel_transport", "riemannian_adam"]


class RiemannianAdamState(NamedTuple):
    """``count`` (int32 step counter), ``mu`` (momenta, like params), ``nu`` (``[..., 1]``)."""

    count: jax.Array
    mu: optax.Params
    nu: optax.Params


def _dot(a, b):
    return jnp.sum(a * b, axis=-1, keepdims=True)


def gyration(u: jax.Array, v: jax.Array, w: jax.Array, c: float = 1.0) -> jax.Array:
    """``gyr[u, v] w = (-(u (+) v)) (+) (u (+) (v (+) w))``, linear in ``w`` (closed form).

    Args:
        u, v: ``[..., d]`` points of the ball.
        w: ``[..., d]`` any vectors.
        c: curvature magnitude.
    """
    uw, vw, uv = _dot(u, w), _dot(v, w), _dot(u, v)
    u2, v2 = _dot(u, u), _dot(v, v)
    a = -c * c * uw * v2 + c * vw + 2.0 * c * c * uv * vw
    b = -c * c * vw * u2 - c * uw
    d = 1.0 + 2.0 * c * uv + c * c * u2 * v2
    return w + 2.0 * (a * u + b * v) / jnp.maximum(d, jnp.finfo(w.dtype).eps)


def parallel_transport(x: jax.Array, y: jax.Array, v: jax.Array, c: float = 1.0) -> jax.Array:
    """Parallel transport of a tangent vector ``v`` at ``x`` to ``y``:
    ``(lambda_x / lambda_y) gyr[y, -x] v``."""
    lam_x = poincare.conformal_factor(x, c)
    lam_y = poincare.conformal_factor(y, c)
    return (lam_x / lam_y)[..., None] * gyration(y, -x, v, c)


def riemannian_adam(
    learning_rate: float | optax.Schedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    c: float = 1.0,
    proj_eps: float = 1e-5,
) -> optax.GradientTransformation:
    """Riemannian Adam for ball-valued parameters (see the module docstring).

    Args:
        learning_rate: a float or an optax schedule ``count -> lr``.
        b1, b2: moment decay rates in ``[0, 1)``.
        eps: added to the root second moment.
        c: curvature magnitude.
        proj_eps: parameters stay at norm ``<= (1 - proj_eps)/sqrt(c)``.

    Returns:
        An ``optax.GradientTransformation``; its ``update`` requires ``params``.
    """
    check_curvature(c)
    if not callable(learning_rate):
        check_positive(learning_rate, "learning_rate")
    b1 = float(check_scalar(b1, "b1", minimum=0.0, maximum=1.0, max_open=True))
    b2 = float(check_scalar(b2, "b2", minimum=0.0, maximum=1.0, max_open=True))
    eps = float(check_positive(eps, "eps"))
    proj_eps = float(
        check_scalar(proj_eps, "proj_eps", minimum=0.0, maximum=1.0, min_open=True, max_open=True)
    )

    def init_fn(params) -> RiemannianAdamState:
        mu = jax.tree_util.tree_map(jnp.zeros_like, params)
        nu = jax.tree_util.tree_map(lambda p: jnp.zeros(p.shape[:-1] + (1,), p.dtype), params)
        return RiemannianAdamState(jnp.zeros([], jnp.int32), mu, nu)

    def update_fn(updates, state: RiemannianAdamState, params=None):
        if params is None:
            raise ValueError("riemannian_adam needs params: call update(grads, state, params)")
        count = optax.safe_int32_increment(state.count)
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate

        def leaf(g, p, m, v):
            lam = poincare.conformal_factor(p, c)[..., None]
            r = g / lam**2
            m = b1 * m + (1.0 - b1) * r
            v = b2 * v + (1.0 - b2) * lam**2 * _dot(r, r)
            t = count.astype(p.dtype)
            step = (m / (1.0 - b1**t)) / (jnp.sqrt(v / (1.0 - b2**t)) + eps)
            new = poincare.expmap(p, -jnp.asarray(lr, p.dtype) * step, c)
            new = poincare.project(new, proj_eps, c)
            return new - p, parallel_transport(p, new, m, c), v

        out = jax.tree_util.tree_map(leaf, updates, params, state.mu, state.nu)
        treedef = jax.tree_util.tree_structure(updates)
        leaves = treedef.flatten_up_to(out)
        upd, mu, nu = (treedef.unflatten([lf[i] for lf in leaves]) for i in range(3))
        return upd, RiemannianAdamState(count, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)
