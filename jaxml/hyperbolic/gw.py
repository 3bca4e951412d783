"""Entropic Gromov-Wasserstein with the square loss on :func:`sinkhorn_stabilized`.

Solves (Peyre, Cuturi & Solomon, ICML 2016, "Gromov-Wasserstein averaging of kernel and distance
matrices", Sec. 2-3)

    min_P  sum_{i,k,j,l} (Dx_ik - Dy_jl)^2 P_ij P_kl - eps H(P)   s.t.  P 1 = a,  P^T 1 = b

by their projected mirror descent with step ``1 / eps``: each outer iteration solves the entropic
OT problem of the linearized cost (their Prop. 1 and eq. 6, square loss)

    C(P) = (Dx^2 p) 1^T + 1 (Dy^2 q)^T - 2 Dx P Dy^T,   p = P 1,  q = P^T 1,

starting from the product coupling ``P_0 = a b^T``. It is the same iteration as ott-jax's
``GromovWasserstein`` (balanced, square loss, ``relative_epsilon="std"``, ``warm_start=True``):

* every linearization's regularization is ``epsilon * std(C)`` (``relative_epsilon=True``);
* the solve of ``C(P_0)`` starts cold, every later one from the previous potentials;
* the loop stops after ``k >= min_iterations`` re-linearizations once two consecutive
  regularized OT costs ``<a, f - eps log a> + <b, g - eps log b> + eps (1 - sum P)`` are
  ``isclose(rtol=threshold)`` (``k > 2``), or one is not finite, or at ``max_iterations``;
* ``cost`` is the GW objective of the final plan, ``<C(P), P>``.

Differences from ott (none changes the iteration's fixed points): the inner Sinkhorn is
:func:`~jaxml.hyperbolic.sinkhorn_fast.sinkhorn_stabilized` (kernel mode with log-domain
absorption instead of log-sum-exp iterations; its stopping error is ott's, the L1 column error
right after the row update, checked every 10 iterations, but each of its iterations ends with one
more column update, so the returned plan's exact marginal is ``b``, not ``a``; and a warm start
enters through ``g`` alone, see its ``init``); ``std(C)`` is computed directly rather than from
``E[C^2] - E[C]^2``; and ott's output rescaling ``sqrt(previous mass / mass)`` is left out: in
the balanced case every solve's plan has mass ``sum b = 1`` to rounding, so that factor is 1.
Pure, jit- and vmap-safe (nested ``lax.while_loop``), no host synchronization.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxml._validation import check_array, check_bool, check_int, check_scalar
from jaxml.hyperbolic.sinkhorn_fast import sinkhorn_stabilized

__all__ = ["GWOutput", "entropic_gw"]


class GWOutput(NamedTuple):
    """Result of :func:`entropic_gw`.

    Attributes:
        plan: ``[n, m]`` coupling, the last linearization's entropic OT plan.
        log_plan: ``[n, m]`` its log, ``(f_i + g_j - C_ij) / eps`` with the last solve's own
            cost ``C``, potentials and regularization (finite where the plan underflows).
        cost: the GW objective of ``plan``, ``<C(plan), plan>`` (square loss, no entropy).
        f: ``[n]`` last solve's dual potential.
        g: ``[m]`` last solve's dual potential.
        epsilon: the last solve's absolute regularization.
        reg_ot_costs: ``[max_iterations]`` regularized OT cost of each re-linearization's solve
            (``nan`` where it did not run); the stopping rule compares consecutive ones.
        iterations: int32 re-linearizations solved (the first solve, of ``C(a b^T)``, is extra).
        sinkhorn_iterations: int32 Sinkhorn iterations, all solves together.
        converged: the stopping rule fired before ``max_iterations`` and every solve reached
            ``sinkhorn_threshold``.
    """

    plan: jax.Array
    log_plan: jax.Array
    cost: jax.Array
    f: jax.Array
    g: jax.Array
    epsilon: jax.Array
    reg_ot_costs: jax.Array
    iterations: jax.Array
    sinkhorn_iterations: jax.Array
    converged: jax.Array


def _reg_ot_cost(f, g, a, b, plan_mass, eps):
    """ott's ``compute_kl_reg_cost`` in the balanced case (the dual objective)."""
    div_a = jnp.sum(jnp.where(a > 0, a * (f - eps * jnp.log(a)), 0.0))
    div_b = jnp.sum(jnp.where(b > 0, b * (g - eps * jnp.log(b)), 0.0))
    return div_a + div_b + eps * (jnp.sum(a) * jnp.sum(b) - plan_mass)


def entropic_gw(
    dx: ArrayLike,
    dy: ArrayLike,
    epsilon: float,
    *,
    a: ArrayLike | None = None,
    b: ArrayLike | None = None,
    relative_epsilon: bool = True,
    max_iterations: int = 50,
    min_iterations: int = 5,
    threshold: float = 1e-3,
    sinkhorn_threshold: float = 1e-3,
    sinkhorn_max_iterations: int = 2000,
    warm_start: bool = True,
    one_pass: bool = False,
) -> GWOutput:
    """Entropic Gromov-Wasserstein between two metric-measure spaces (see the module doc).

    Args:
        dx: ``[n, n]`` symmetric dissimilarities of the source points (e.g. ``d(x_i, x_k)^p``).
        dy: ``[m, m]`` symmetric dissimilarities of the target points.
        epsilon: entropic regularization, > 0: a fraction of each linearized cost's standard
            deviation when ``relative_epsilon`` (ott's ``relative_epsilon="std"``), else absolute.
        a: ``[n]`` source weights summing to 1 (default uniform).
        b: ``[m]`` target weights summing to 1 (default uniform).
        relative_epsilon: scale ``epsilon`` by ``std(C)`` of each linearization.
        max_iterations: maximum re-linearizations (>= 1).
        min_iterations: re-linearizations before the stopping rule is consulted (>= 0).
        threshold: relative tolerance of the outer stopping rule (> 0).
        sinkhorn_threshold: L1 marginal error at which each inner Sinkhorn stops (> 0).
        sinkhorn_max_iterations: iteration cap of each inner Sinkhorn (>= 1; a multiple of 10
            is run).
        warm_start: start each inner Sinkhorn from the previous solve's potentials.
        one_pass: :func:`sinkhorn_stabilized`'s ``one_pass`` (one read of the kernel per
            iteration, single-threaded: about 2/3 of the CPU time, same iterates to rounding).

    Returns:
        :class:`GWOutput`. Invariant: ``plan.sum(0) == b`` to rounding; ``plan.sum(1) == a``
        to about ``sinkhorn_threshold`` (L1) when the last solve converged.

    Raises:
        TypeError/ValueError: bad shapes, dtypes, weights or settings (value checks when
            concrete), naming the argument.
    """
    (n, _) = check_array(dx, "dx", ndim=2, dtype="real")
    (m, _) = check_array(dy, "dy", ndim=2, dtype="real")
    check_array(dx, "dx", shape=(n, n))
    check_array(dy, "dy", shape=(m, m))
    if not isinstance(epsilon, jax.core.Tracer):
        check_scalar(epsilon, "epsilon", minimum=0.0, min_open=True)
    if a is not None:
        check_array(a, "a", shape=(n,), dtype="real", minimum=0.0)
    if b is not None:
        check_array(b, "b", shape=(m,), dtype="real", minimum=0.0)
    relative_epsilon = check_bool(relative_epsilon, "relative_epsilon")
    max_iterations = check_int(max_iterations, "max_iterations", minimum=1)
    min_iterations = check_int(min_iterations, "min_iterations", minimum=0)
    threshold = float(check_scalar(threshold, "threshold", minimum=0.0, min_open=True))
    sinkhorn_threshold = float(
        check_scalar(sinkhorn_threshold, "sinkhorn_threshold", minimum=0.0, min_open=True)
    )
    sinkhorn_max_iterations = check_int(
        sinkhorn_max_iterations, "sinkhorn_max_iterations", minimum=1
    )
    warm_start = check_bool(warm_start, "warm_start")
    one_pass = check_bool(one_pass, "one_pass")

    dtype = jnp.result_type(dx, dy, jnp.float32)
    dx, dy = jnp.asarray(dx, dtype), jnp.asarray(dy, dtype)
    a = jnp.full((n,), 1.0 / n, dtype) if a is None else jnp.asarray(a, dtype)
    b = jnp.full((m,), 1.0 / m, dtype) if b is None else jnp.asarray(b, dtype)
    dx2, dy2 = dx * dx, dy * dy

    def linearize(p, q, cross):
        # Peyre et al. eq. 6, square loss: f1 = f2 = t^2, h1(t) = t, h2(t) = 2 t.
        return (dx2 @ p)[:, None] + (dy2 @ q)[None, :] - 2.0 * cross

    def solve(cost, init):
        scale = jax.lax.stop_gradient(jnp.std(cost)) if relative_epsilon else 1.0
        eps = jnp.asarray(epsilon, dtype) * scale
        out = sinkhorn_stabilized(
            cost,
            eps,
            a,
            b,
            num_iterations=sinkhorn_max_iterations,
            threshold=sinkhorn_threshold,
            init=init,
            one_pass=one_pass,
        )
        reg = _reg_ot_cost(out.f, out.g, a, b, jnp.sum(out.plan), eps)
        return out, eps, reg

    def relinearize(plan):
        return linearize(plan.sum(1), plan.sum(0), dx @ plan @ dy.T)

    # k counts solves; solve 0 is the first linearization, at P_0 = a b^T, started cold
    # (g0 = 0 is sinkhorn_stabilized's cold start), so one compiled Sinkhorn serves every solve.
    # Solve k >= 1 is re-linearization k - 1, whose regularized OT cost goes to costs[k - 1].
    def cond(state):
        k, costs = state[0], state[1]
        it = k - 1
        prev, last = costs[jnp.maximum(it - 2, 0)], costs[jnp.maximum(it - 1, 0)]
        # ott's WassersteinSolver._continue, consulted once it >= min_iterations.
        converged = (it >= 2) & jnp.isclose(prev, last, rtol=threshold)
        go_on = (it <= 2) | (jnp.isfinite(last) & ~converged)
        return (k == 0) | ((it < max_iterations) & ((it < min_iterations) | go_on))

    def body(state):
        k, costs, plan, f, g, _, _, sk_its, sk_ok = state
        cost = relinearize(plan)
        start = (f, g) if warm_start else (jnp.zeros_like(f), jnp.zeros_like(g))
        out, eps, reg = solve(cost, start)
        costs = jnp.where(k > 0, costs.at[jnp.maximum(k - 1, 0)].set(reg), costs)
        ok = sk_ok & (out.error <= sinkhorn_threshold)
        return (k + 1, costs, out.plan, out.f, out.g, cost, eps, sk_its + out.iterations, ok)

    state = (
        jnp.zeros((), jnp.int32),
        jnp.full((max_iterations,), jnp.nan, dtype),
        jnp.outer(a, b),
        jnp.zeros((n,), dtype),
        jnp.zeros((m,), dtype),
        jnp.zeros((n, m), dtype),
        jnp.ones((), dtype),
        jnp.zeros((), jnp.int32),
        jnp.ones((), bool),
    )
    k, costs, plan, f, g, cost, eps, sk_its, sk_ok = jax.lax.while_loop(cond, body, state)
    it = k - 1
    log_plan = (f[:, None] + g[None, :] - cost) / eps
    gw_cost = jnp.sum(relinearize(plan) * plan)
    return GWOutput(
        plan=plan,
        log_plan=log_plan,
        cost=gw_cost,
        f=f,
        g=g,
        epsilon=eps,
        reg_ot_costs=costs,
        iterations=it,
        sinkhorn_iterations=sk_its,
        converged=(it < max_iterations) & sk_ok,
    )
