"""A lean entropic-OT Sinkhorn for dense costs: kernel mode, log-stabilized only when needed.

Solves ``min_P <C, P> - eps H(P)`` s.t. ``P 1 = a``, ``P^T 1 = b`` by Sinkhorn's alternation on a
stabilized kernel (Schmitzer 2019, "Stabilized sparse scaling algorithms for entropy regularized
transport problems", Sec. 3):

    K~_ij = exp((f_i + g_j - C_ij) / eps),   u <- a / (K~ v),   v <- b / (K~^T u),
    P = diag(u) K~ diag(v).

``f, g`` start as the row minima of ``C`` and the column minima of ``C - f`` (so no row or column of
``K~`` underflows to zero in float32) with ``v = exp(-g / eps)`` (the iterates of the plain loop
started at ``v = 1``). A warm start ``init = (f0, g0)`` (e.g. the previous solve of a slowly
changing cost, as in Gromov-Wasserstein's outer loop) replaces ``g = 0`` by ``g0``: ``f`` is the
c-transform ``min_j (C_ij - g0_j)``, ``g`` the column minima of ``C - f`` (``g >= g0``, and again
every row and column of ``K~`` holds a 1) and ``v = exp((g0 - g) / eps) <= 1``, the plain loop's
iterate started at ``v = exp(g0 / eps)``. Every ``check_every`` iterations the scalings are
absorbed into ``f, g`` and ``K~`` recomputed IF ``|log u|`` or ``|log v|`` exceeds
``absorb_threshold``, so the common case pays one ``n x m`` matrix-vector product per
half-iteration and nothing else. With ``threshold > 0`` the marginal error is checked at the
same points for free: after the ``u`` half-step the row marginal is exact, and the column error
``||v * (K~^T u) - b||_1`` reuses the product the ``v`` half-step needs (ott's criterion: its
iterations end with the row update too), and the loop stops early (``lax.while_loop``);
with ``threshold <= 0`` exactly ``num_iterations`` iterations run (in chunks, ``lax.fori_loop``).

Same problem as ott's ``Sinkhorn`` on ``Geometry(cost_matrix=C, epsilon=eps)``; pure, jit- and
vmap-safe. For several independent problems (restarts with different costs) use
:func:`sinkhorn_restarts`: ``vmap`` turns the matrix-vector products into batched ones, which
XLA:CPU runs 3-4x slower than the same products one problem after another (measured in
``experiments/benchmarks/hyperbolic_speed``), so it solves them in sequence (``lax.map``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxml._validation import check_array, check_int, check_scalar

__all__ = ["SinkhornOutput", "sinkhorn_restarts", "sinkhorn_stabilized"]


class SinkhornOutput(NamedTuple):
    """Result of :func:`sinkhorn_stabilized`.

    Attributes:
        plan: ``[n, m]`` transport plan.
        f: ``[n]`` dual potential (``f + eps log u``).
        g: ``[m]`` dual potential (``g + eps log v``).
        iterations: int32 iterations run.
        error: the L1 column-marginal error ``||v * (K~^T u) - b||_1`` of the last check's
            iterate before its final ``v`` half-step (after which ``P^T 1 = b`` to rounding and
            the row marginal carries the remaining error).
        absorptions: int32 number of log-domain absorptions (kernel recomputations).
    """

    plan: jax.Array
    f: jax.Array
    g: jax.Array
    iterations: jax.Array
    error: jax.Array
    absorptions: jax.Array


def sinkhorn_stabilized(
    cost: jax.Array,
    epsilon: float | jax.Array,
    a: jax.Array | None = None,
    b: jax.Array | None = None,
    *,
    num_iterations: int = 1000,
    check_every: int = 10,
    threshold: float = -1.0,
    absorb_threshold: float = 30.0,
    one_pass: bool = False,
    block_rows: int | None = None,
    init: tuple[jax.Array, jax.Array] | None = None,
) -> SinkhornOutput:
    """Entropic OT between ``a`` and ``b`` for the cost matrix ``cost`` (see the module doc).

    Args:
        cost: ``[n, m]`` float cost matrix.
        epsilon: entropic regularization (absolute; e.g. ``0.05 * cost.std()``), > 0.
        a: ``[n]`` source weights summing to 1 (default uniform).
        b: ``[m]`` target weights summing to 1 (default uniform).
        num_iterations: maximum iterations (a multiple of ``check_every`` is run).
        check_every: iterations between absorption / convergence checks.
        threshold: stop when the marginal error is below it; ``<= 0`` runs all iterations.
        absorb_threshold: absorb the scalings into the potentials once ``|log u|`` or
            ``|log v|`` exceeds this (30 keeps float32 products far from overflow).
        one_pass: read ``K~`` once per iteration: in row blocks, ``u_i = a_i / (K~_i v)`` and
            then ``K~^T u += u_i K~_i`` while the block is in cache (half the memory traffic of
            two matrix-vector products, and ``K~^T`` is not stored; measured: half the CPU time
            of the default, but single-threaded, so not faster in wall time on a loaded
            2-core machine). ``False`` (default): two products on a stored ``K~`` and
            ``K~^T``. Same iterates up to float summation order.
        block_rows: rows per block of ``one_pass`` (default: about 256 KiB of float32 rows).
        init: optional warm start ``(f0, g0)``, ``[n]`` and ``[m]`` dual potentials (e.g. a
            previous output's ``f, g``). The first half-iteration computes ``u`` from ``v``, so
            the iterates depend on ``g0`` only (``f0`` is checked, not used); ``g0 = 0`` gives
            the cold start exactly.

    Returns:
        :class:`SinkhornOutput`.

    Raises:
        TypeError/ValueError: bad shapes, dtypes or counts (value checks when concrete).
    """
    n, m = check_array(cost, "cost", ndim=2, dtype="real")
    num_iterations = check_int(num_iterations, "num_iterations", minimum=1)
    check_every = check_int(check_every, "check_every", minimum=1)
    check_scalar(absorb_threshold, "absorb_threshold", minimum=0.0, min_open=True)
    check_scalar(threshold, "threshold")
    if block_rows is not None:
        block_rows = check_int(block_rows, "block_rows", minimum=1)
    if not isinstance(epsilon, jax.core.Tracer):
        check_scalar(epsilon, "epsilon", minimum=0.0, min_open=True)
    dtype = cost.dtype
    a = jnp.full((n,), 1.0 / n, dtype) if a is None else check_array(a, "a", shape=(n,)) and a
    b = jnp.full((m,), 1.0 / m, dtype) if b is None else check_array(b, "b", shape=(m,)) and b
    a, b = jnp.asarray(a, dtype), jnp.asarray(b, dtype)
    eps = jnp.asarray(epsilon, dtype)
    if init is None:
        f = jnp.min(cost, axis=1)
        g = jnp.min(cost - f[:, None], axis=0)
        v0 = jnp.exp(-g / eps)
    else:
        if not isinstance(init, tuple | list) or len(init) != 2:
            raise TypeError(f"init must be a pair (f0, g0) of [n] and [m] arrays; got {init!r}")
        check_array(init[0], "init[0] (f0)", shape=(n,), dtype="real")
        check_array(init[1], "init[1] (g0)", shape=(m,), dtype="real")
        g0 = jnp.asarray(init[1], dtype)
        # c-transforms: f_i = min_j (C_ij - g0_j) <= C_ij - g0_j, so g_j = min_i (C_ij - f_i)
        # >= g0_j and v <= 1; every row and column of K~ holds a 1 (its argmin).
        f = jnp.min(cost - g0[None, :], axis=1)
        g = jnp.min(cost - f[:, None], axis=0)
        v0 = jnp.exp((g0 - g) / eps)

    if one_pass:
        # Row blocks of ~256 KiB (float32): block i's K~ v, then u_i, then u_i K~_i while the
        # block is still in cache. Padded rows hold ones and a zero weight, so u = 0 there.
        br = int(block_rows) if block_rows else int(min(max(8, 2**16 // m), n))
        nb = -(-n // br)
        a_blk = jnp.pad(a, (0, nb * br - n)).reshape(nb, br)

        def kernel(f, g):
            k = jnp.exp((f[:, None] + g[None, :] - cost) / eps)
            return jnp.pad(k, ((0, nb * br - n), (0, 0)), constant_values=1).reshape(nb, br, m)

        def iterate(k, v):
            def block(w, ka):
                kk, aa = ka
                ub = aa / (kk @ v)
                return w + ub @ kk, ub

            w, u = jax.lax.scan(block, jnp.zeros((m,), dtype), (k, a_blk))
            return u.reshape(-1)[:n], w

        def dense(k):
            return k.reshape(nb * br, m)[:n]
    else:

        def kernel(f, g):
            k = jnp.exp((f[:, None] + g[None, :] - cost) / eps)
            # K~^T is stored too: both half-iterations are then row-major matrix-vector products.
            return k, k.T

        def iterate(k, v):  # u = a / (K~ v) and K~^T u
            u = a / (k[0] @ v)
            return u, k[1] @ u

        def dense(k):
            return k[0]

    def chunk(carry):
        k, u, v, f, g, it, _, absorbed = carry

        def step(_, uv):
            u, w = iterate(k, uv[1])
            return u, b / w

        u, v = jax.lax.fori_loop(0, check_every - 1, step, (u, v))
        # The last iteration also measures the error, for free: after u's update the row
        # marginal is exact, so the column one, v * (K~^T u) against b, is the error (ott's
        # Sinkhorn measures the same after its row update).
        u, w = iterate(k, v)
        err = jnp.sum(jnp.abs(v * w - b))
        v = b / w
        need = jnp.maximum(jnp.max(jnp.abs(jnp.log(u))), jnp.max(jnp.abs(jnp.log(v))))
        need = (need > absorb_threshold) | ~jnp.all(jnp.isfinite(u)) | ~jnp.all(jnp.isfinite(v))

        def absorb(_):
            f2, g2 = f + eps * jnp.log(u), g + eps * jnp.log(v)
            return kernel(f2, g2), jnp.ones_like(u), jnp.ones_like(v), f2, g2

        k, u, v, f, g = jax.lax.cond(need, absorb, lambda _: (k, u, v, f, g), operand=None)
        return k, u, v, f, g, it + check_every, err, absorbed + need.astype(jnp.int32)

    # v = exp(-g / eps) is the plain loop's v = 1 in these coordinates (same iterates as the
    # unstabilized loop); each row and column of K~ holds a 1 where g_j = 0, so no division by 0.
    carry = (kernel(f, g), jnp.ones((n,), dtype), v0, f, g)
    carry = (
        *carry,
        jnp.zeros((), jnp.int32),
        jnp.asarray(jnp.inf, dtype),
        jnp.zeros((), jnp.int32),
    )
    chunks = -(-num_iterations // check_every)
    if threshold > 0:
        out = jax.lax.while_loop(
            lambda c: (c[5] < chunks * check_every) & (c[6] > threshold), chunk, carry
        )
    else:
        out = jax.lax.fori_loop(0, chunks, lambda _, c: chunk(c), carry)
    k, u, v, f, g, it, err, absorbed = out
    plan = u[:, None] * dense(k) * v[None, :]
    return SinkhornOutput(plan, f + eps * jnp.log(u), g + eps * jnp.log(v), it, err, absorbed)


def sinkhorn_restarts(
    costs: jax.Array,
    epsilon: float | jax.Array,
    a: jax.Array | None = None,
    b: jax.Array | None = None,
    *,
    batch_size: int = 1,
    **kwargs,
) -> SinkhornOutput:
    """:func:`sinkhorn_stabilized` on ``R`` independent costs ``[R, n, m]`` (e.g. restarts).

    Same results as ``jax.vmap(sinkhorn_stabilized)`` (to rounding), but the problems run
    ``batch_size`` at a time (``lax.map``; 1 = one after another): on CPU a vmapped
    matrix-vector product over 8 different kernels is a batched ``dot_general`` that XLA runs far
    slower than 8 separate products (see the module doc). Differentiable like the single solve.

    Args:
        costs: ``[R, n, m]`` cost matrices.
        epsilon: a scalar, or ``[R]`` (one per problem).
        a, b: ``[n]`` / ``[m]`` weights shared by all problems (default uniform).
        batch_size: problems vmapped together inside the sequential map (>= 1).
        **kwargs: the keyword arguments of :func:`sinkhorn_stabilized`.

    Returns:
        :class:`SinkhornOutput` with a leading ``R`` axis on every field.
    """
    check_array(costs, "costs", ndim=3, dtype="real")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    r = costs.shape[0]
    if not isinstance(epsilon, jax.core.Tracer) and not np.all(np.asarray(epsilon) > 0):
        raise ValueError(f"epsilon must be > 0 (every entry); got {epsilon}")
    eps = jnp.broadcast_to(jnp.asarray(epsilon, costs.dtype), (r,))
    return jax.lax.map(
        lambda ce: sinkhorn_stabilized(ce[0], ce[1], a, b, **kwargs),
        (costs, eps),
        batch_size=None if batch_size == 1 else batch_size,
    )
