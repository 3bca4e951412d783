"""The L-C (learning-compression) algorithm as an optax wrapper (Carreira-Perpinan & Idelbayev
2018, the accuracy-recovery engine of Condensa, Joseph et al. 2019, Sec. 3).

L-C solves ``min_{w, theta} loss(w)  s.t.  w = theta, theta in C`` (``C``: the models a scheme
can produce) with an augmented Lagrangian. With multipliers ``lambda`` and penalty ``mu``:

- L-step: ``l_steps`` optimizer steps on ``loss(w) + mu/2 |w - theta - lambda/mu|^2`` (the
  wrapper adds the penalty's gradient ``mu (w - theta) - lambda`` to the loss gradient);
- C-step: ``theta = project(w - lambda/mu)`` (``scheme.decompress(*scheme.compress(.))``, the
  nearest compressed model);
- multipliers: ``lambda <- lambda - mu (w - theta)``; then ``mu <- mu_schedule(k)`` for the
  C-step count ``k``.

The wrapper is an ``optax.GradientTransformation`` whose ``update`` does one L-step iteration and,
every ``l_steps``-th call, the C-step and the multiplier update under ``lax.cond``, so the
compression runs inside the same jit-compiled training graph (e.g. inside
:func:`jaxml.train.optax_scan`). The compressed model is ``state.theta`` (see :func:`lc_theta`).
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxml import _validation as v
from jaxml._validation import PyTree

__all__ = ["LCState", "lc", "lc_theta"]


class LCState(NamedTuple):
    """State of :func:`lc`.

    Attributes:
        inner: the wrapped optimizer's state.
        theta: the current compressed model (float params in the scheme's feasible set).
        lam: the Lagrange multipliers, shaped like the params.
        mu: float32 scalar, the current penalty.
        count: int32, L-step iterations done.
        c_steps: int32, C-steps done (0 after ``init``, which does the first one).
    """

    inner: Any
    theta: PyTree
    lam: PyTree
    mu: jax.Array
    count: jax.Array
    c_steps: jax.Array


def _check_scheme(scheme: Any) -> None:
    if not callable(getattr(scheme, "project", None)):
        raise TypeError(
            "scheme must be a jaxml.compress scheme (with compress, decompress and project); "
            f"got {scheme!r}"
        )


def lc(
    scheme: Any,
    optimizer: optax.GradientTransformation,
    *,
    l_steps: int = 100,
    mu_init: float = 1e-3,
    mu_growth: float = 1.1,
    mu_schedule: Callable[[jax.Array], jax.Array] | None = None,
) -> optax.GradientTransformation:
    """Wraps ``optimizer`` into the L-C algorithm for ``scheme``.

    Args:
        scheme: a compression scheme (``Prune``, ``Quantize``, ``Compose``, ...).
        optimizer: the optax optimizer of the L-step.
        l_steps: optimizer steps per L-step (between two C-steps), >= 1.
        mu_init: the penalty ``mu_0 > 0``.
        mu_growth: ``mu_k = mu_init * mu_growth ** k`` after the ``k``-th C-step (>= 1).
        mu_schedule: optional ``k -> mu_k`` (a traced int32 ``k``) replacing the geometric one.

    Returns:
        ``optax.GradientTransformation``: ``init(params)`` does the first C-step
        (``theta = project(params)``, ``lambda = 0``); ``update(grads, state, params)`` needs
        ``params`` and expects ``grads`` of the loss alone (the penalty is added inside).
        Jit-safe; no host sync.

    Example::

        opt = lc(Prune(0.05), optax.adam(1e-3), l_steps=50, mu_init=1e-2, mu_growth=1.3)
        state = opt.init(params)
        out = optax_scan(loss, opt, params, state, batch_fn=..., num_steps=1000)
        compressed = lc_theta(out.opt_state)
    """
    _check_scheme(scheme)
    v.check_optimizer(optimizer)
    l_steps = v.check_int(l_steps, "l_steps", minimum=1)
    v.check_positive(mu_init, "mu_init")
    v.check_scalar(mu_growth, "mu_growth", minimum=1.0)
    if mu_schedule is not None:
        v.check_callable(mu_schedule, "mu_schedule")

    def mu_at(k):
        if mu_schedule is not None:
            return jnp.asarray(mu_schedule(k), jnp.float32)
        return jnp.float32(mu_init) * jnp.float32(mu_growth) ** k.astype(jnp.float32)

    def init(params):
        if not jax.tree.leaves(params):
            raise ValueError("params must hold at least one array; got an empty pytree")
        theta = scheme.project(params)
        lam = jax.tree.map(jnp.zeros_like, params)
        zero = jnp.zeros((), jnp.int32)
        return LCState(optimizer.init(params), theta, lam, mu_at(zero), zero, zero)

    def update(grads, state, params=None):
        if params is None:
            raise ValueError("params must be passed to lc's update (the penalty needs w)")
        mu = state.mu
        pen = jax.tree.map(
            lambda g, w, t, la: g + (mu * (w - t) - la).astype(g.dtype),
            grads,
            params,
            state.theta,
            state.lam,
        )
        updates, inner = optimizer.update(pen, state.inner, params)
        w_new = optax.apply_updates(params, updates)
        count = state.count + 1

        def c_step(_):
            shifted = jax.tree.map(lambda w, la: w - la / mu.astype(w.dtype), w_new, state.lam)
            theta = scheme.project(shifted)
            lam = jax.tree.map(
                lambda la, w, t: la - mu.astype(w.dtype) * (w - t), state.lam, w_new, theta
            )
            k = state.c_steps + 1
            return theta, lam, mu_at(k), k

        def keep(_):
            return state.theta, state.lam, mu, state.c_steps

        theta, lam, mu_next, k = jax.lax.cond(count % l_steps == 0, c_step, keep, None)
        return updates, LCState(inner, theta, lam, mu_next, count, k)

    return optax.GradientTransformation(init, update)


def lc_theta(state: Any) -> PyTree:
    """The compressed model held by an L-C state (found inside a chained optax state too)."""
    if isinstance(state, LCState):
        return state.theta
    if isinstance(state, tuple):
        for s in state:
            try:
                return lc_theta(s)
            except TypeError:
                continue
    raise TypeError(f"state must be (or contain) an LCState from jaxml.compress.lc; got {state!r}")
