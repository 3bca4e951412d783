"""Unsupervised alignment of two embedded hierarchies with optimal transport.

Alvarez-Melis, Mroueh & Jaakkola, "Unsupervised Hierarchy Matching with Optimal Transport over
Hyperbolic Spaces" (AISTATS 2020): given only ``x`` ``[n, d]`` and ``y`` ``[m, d]`` in the
Poincare ball, find a coupling ``P`` (and a map ``f``) with ``f(x_i) ~ y_j`` where ``P_ij`` is
large. Three methods (:data:`METHODS`):

``"hyperbolic_ot"``
    Alternate (1) entropic OT ``P = Sinkhorn(C)`` with ``C_ij = d(f(x_i), y_j)^p`` under
    :class:`~jaxml.hyperbolic.cost.PoincareCost` and (2) an update of the registration map, a ball
    isometry ``f(x) = a (+) (W x)`` (rotation/reflection ``W`` + Mobius translation ``a``):

    * both sets are first moved so that their Lorentzian centroids sit at the origin
      (:func:`~jaxml.hyperbolic.poincare.centroid` is isometry-equivariant, so for an exact
      isometry the residual map fixes 0 and is orthogonal);
    * ``W`` step: orthogonal Procrustes in the tangent space at 0,
      ``W = polar(sum_ij P_ij log_0((-a) (+) y_j) log_0(x_i)^T)`` (closed form);
    * ``a`` step: gradient steps on ``sum_i d(a (+) W x_i, t_i)^p`` w.r.t. ``u``
      (``a = exp_0(u)``), ``t_i`` the plan's barycentric targets, each with the best length of
      a geometric grid (a monotone line search: points near the boundary make the cost very
      sensitive to the translation, and fixed-step or Adam updates oscillate);
    * epsilon is annealed geometrically from ``epsilon_start`` to ``epsilon`` (both relative to
      the standard deviation of the initial cost matrix), Sinkhorn potentials are warm-started,
      and ``num_restarts`` initial rotations (the principal-axis alignment of the tangent
      coordinates with signs fixed by third moments, the identity, that alignment with one
      axis flipped, Haar-random rotations) run in parallel with ``vmap``; the restart with the
      lowest final transport cost is kept (no labels are used). For large sets the restarts run
      on random subsets of ``restart_subsample`` points and the winner is refined on the full
      sets. (A deeper gyro-linear layer stack, optional in the issue, is not implemented.)

``"euclidean_procrustes"``
    Wasserstein-Procrustes (Grave et al. 2019) in ambient coordinates: Euclidean centering, then
    alternate Sinkhorn on ``|W x_i - y_j|^2`` and ``W = polar(Y^T P^T X)``, with the same
    annealing and restarts. It cannot represent a Mobius translation, the paper's negative
    result.

``"gromov_wasserstein"``
    ott's entropic Gromov-Wasserstein on the two intra-set hyperbolic distance matrices
    (``d^p``); it needs no map.

All return an :class:`AlignmentResult` with the plan, its log (scores that never underflow, for
precision@k), the fitted map (an :class:`~jaxml.hyperbolic.isometry.Isometry`, a
:class:`EuclideanMap` or None) and the hard matching ``argmax_j P_ij``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from ott.geometry import geometry
from ott.problems.linear import linear_problem
from ott.problems.quadratic import quadratic_problem
from ott.solvers.linear import sinkhorn
from ott.solvers.quadratic import gromov_wasserstein

from jaxml.hyperbolic import poincare
from jaxml.hyperbolic._checks import check_curvature, check_float, check_int, check_point_set
from jaxml.hyperbolic.cost import PoincareCost
from jaxml.hyperbolic.isometry import Isometry, apply_isometry, compose_isometries

__all__ = [
    "METHODS",
    "AlignmentResult",
    "EuclideanMap",
    "align",
    "apply_map",
]

METHODS = ("hyperbolic_ot", "euclidean_procrustes", "gromov_wasserstein")


class EuclideanMap(NamedTuple):
    """``f(x) = W (x - x_mean) + y_mean`` in ambient coordinates (the Procrustes baseline).

    Attributes:
        rotation: ``[d, d]`` orthogonal ``W``.
        x_mean: ``[d]``.
        y_mean: ``[d]``.
    """

    rotation: jax.Array
    x_mean: jax.Array
    y_mean: jax.Array


class AlignmentResult(NamedTuple):
    """What :func:`align` returns.

    Attributes:
        plan: ``[n, m]`` transport plan (rows sum to ``1/n``, columns to ``1/m``).
        log_plan: ``[n, m]`` its logarithm ``(f_i + g_j - C_ij) / eps`` from the dual
            potentials: the same ranking per row without underflow (use it for precision@k).
        mapping: the fitted map (``Isometry`` for hyperbolic OT, ``EuclideanMap`` for the
            Procrustes baseline, None for GW); apply it with :func:`apply_map`.
        mapped_x: ``[n, d]`` ``f(x)`` (None for GW).
        matching: int ``[n]`` hard matching ``argmax_j plan_ij``.
        cost: transport cost ``<P, C>`` of the kept restart (GW: its primal GW cost).
        restart_costs: ``[R]`` the transport cost reached by each restart (``[1]`` for GW).
        method: the method's name.
    """

    plan: jax.Array
    log_plan: jax.Array
    mapping: Isometry | EuclideanMap | None
    mapped_x: jax.Array | None
    matching: jax.Array
    cost: jax.Array
    restart_costs: jax.Array
    method: str


def apply_map(mapping: Isometry | EuclideanMap, x: ArrayLike, c: float = 1.0) -> jax.Array:
    """Applies a fitted map to ``[..., d]`` points.

    Args:
        mapping: an ``Isometry`` (hyperbolic) or ``EuclideanMap`` (ambient; the result is
            projected into the ball, since an ambient map may leave it).
        x: points.
        c: curvature magnitude.
    """
    if isinstance(mapping, Isometry):
        return apply_isometry(mapping, x, c)
    if isinstance(mapping, EuclideanMap):
        x = jnp.asarray(x)
        out = (x - mapping.x_mean) @ mapping.rotation.T + mapping.y_mean
        return poincare.project(out, 1e-5, c)
    raise TypeError(f"mapping must be an Isometry or EuclideanMap; got {type(mapping).__name__}")


# ----------------------------------------------------------------------------------------------
# Shared pieces.


def _polar(m: jax.Array) -> jax.Array:
    """The orthogonal factor ``U V^T`` of ``m = U S V^T`` (maximizes ``tr(W^T m)``)."""
    u, _, vt = jnp.linalg.svd(m)
    return u @ vt


def _eps_schedule(start: float, end: float, num_iters: int, anneal_fraction: float) -> np.ndarray:
    """Geometric decay from ``start`` to ``end`` over the first ``anneal_fraction`` iterations."""
    num_anneal = max(1, int(round(anneal_fraction * num_iters)))
    decay = np.geomspace(start, end, num_anneal) if num_anneal > 1 else np.array([end])
    tail = np.full(num_iters - num_anneal, end)
    return np.concatenate([decay, tail])[:num_iters].astype(np.float32)


def _initial_rotations(
    key: jax.Array, lx: jax.Array, ly: jax.Array, num_restarts: int
) -> jax.Array:
    """``[R, d, d]`` initial orthogonal maps from tangent (or ambient) coordinates.

    In order: the principal-axis alignment ``E_y S E_x^T`` with the signs ``S`` chosen so that
    the third moments along matched axes agree (exact for an isometric copy with distinct
    covariance eigenvalues), the identity, the principal-axis alignments with one axis' sign
    flipped, then Haar-random rotations.
    """
    d = lx.shape[1]
    _, ex = jnp.linalg.eigh(lx.T @ lx / lx.shape[0])
    _, ey = jnp.linalg.eigh(ly.T @ ly / ly.shape[0])
    skew_x = jnp.mean((lx @ ex) ** 3, axis=0)
    skew_y = jnp.mean((ly @ ey) ** 3, axis=0)
    signs = jnp.where(skew_x * skew_y < 0, -1.0, 1.0).astype(lx.dtype)
    inits = [(ey * signs[None, :]) @ ex.T, jnp.eye(d, dtype=lx.dtype)]
    for axis in range(d):
        inits.append((ey * signs.at[axis].multiply(-1.0)[None, :]) @ ex.T)
    inits = inits[:num_restarts]
    num_random = num_restarts - len(inits)
    if num_random > 0:
        g = jax.random.normal(key, (num_random, d, d), lx.dtype)
        q, r = jnp.linalg.qr(g)
        diag = jnp.diagonal(r, axis1=1, axis2=2)
        inits.extend(list(q * jnp.sign(jnp.where(diag == 0, 1.0, diag))[:, None, :]))
    return jnp.stack(inits)


class _LoopConfig(NamedTuple):
    """Static settings of the alternation (hashable, for jit)."""

    hyperbolic: bool
    c: float
    power: float
    translation_steps: int
    sinkhorn_threshold: float
    sinkhorn_max_iterations: int


def _cost_matrix(fx: jax.Array, y: jax.Array, cfg: _LoopConfig) -> jax.Array:
    if cfg.hyperbolic:
        return PoincareCost(cfg.c, cfg.power).all_pairs(fx, y)
    diff = fx[:, None, :] - y[None, :, :]
    return jnp.sum(diff * diff, axis=-1)


def _map_points(w: jax.Array, u: jax.Array, x: jax.Array, cfg: _LoopConfig) -> jax.Array:
    rotated = x @ w.T
    if cfg.hyperbolic:
        return poincare.mobius_add(poincare.expmap0(u, cfg.c), rotated, cfg.c)
    return rotated


def _solve(cost, eps, init, cfg: _LoopConfig):
    geom = geometry.Geometry(cost_matrix=cost, epsilon=eps)
    solver = sinkhorn.Sinkhorn(
        threshold=cfg.sinkhorn_threshold,
        max_iterations=cfg.sinkhorn_max_iterations,
        implicit_diff=None,
    )
    return solver(linear_problem.LinearProblem(geom), init=init)


# Step lengths (in the tangent space at 0) tried by the translation line search, and 0.
_TRANSLATION_STEPS = np.concatenate([[0.0], 0.5 ** np.arange(1, 16)]).astype(np.float32)


def _barycentric_targets(plan: jax.Array, y_hyperboloid: jax.Array, c: float) -> jax.Array:
    """``[n, d]``: per row, the Lorentzian centroid of ``y`` weighted by the plan's row."""
    s = plan @ y_hyperboloid  # [n, d + 1]
    minkowski = s[:, :1] ** 2 - jnp.sum(s[:, 1:] ** 2, axis=1, keepdims=True)
    s = s / (jnp.sqrt(c) * jnp.sqrt(jnp.maximum(minkowski, jnp.finfo(s.dtype).tiny)))
    return poincare.from_hyperboloid(s, c)


def _alternate(w0, u0, x, y, lx, eps_schedule, cfg: _LoopConfig):
    """One restart: scan over epsilons of (Sinkhorn, W step, translation step).

    Returns the map ``(w, u)`` of the last Sinkhorn solve with that solve's potentials
    ``(f, g)`` (so that the map and the plan agree; the map update after the last solve is
    dropped) and the transport cost of every solve.

    The W step is the closed-form tangent-space Procrustes solution, kept only if it lowers
    ``<P, C>``. The translation steps fit ``a`` to the plan's barycentric targets
    ``t_i`` (``min_u sum_i d(a (+) W x_i, t_i)^p``, an ``O(n d)`` surrogate of ``<P, C>``): each
    moves ``u`` along ``-grad`` by the best of a geometric grid of lengths, 0 included, so it
    never increases the surrogate.
    """
    n, m = x.shape[0], y.shape[0]
    f0 = jnp.zeros((n,), x.dtype)
    g0 = jnp.zeros((m,), x.dtype)
    lengths = jnp.asarray(_TRANSLATION_STEPS, x.dtype)
    y_hyp = poincare.to_hyperboloid(y, cfg.c) if cfg.hyperbolic else None

    def transport_loss(u, w, plan):
        return jnp.sum(plan * _cost_matrix(_map_points(w, u, x, cfg), y, cfg))

    def target_loss(u, w, targets):
        d = poincare.distance(_map_points(w, u, x, cfg), targets, cfg.c)
        return jnp.sum(d**cfg.power)

    target_grad = jax.grad(target_loss)
    losses_along = jax.vmap(target_loss, in_axes=(0, None, None))

    def outer(carry, eps):
        w, u, f, g, _, _ = carry
        w_used, u_used = w, u
        cost = _cost_matrix(_map_points(w, u, x, cfg), y, cfg)
        out = _solve(cost, eps, (f, g), cfg)
        plan = jax.lax.stop_gradient(out.matrix)
        if cfg.hyperbolic:
            z = poincare.mobius_add(-poincare.expmap0(u, cfg.c), y, cfg.c)
            w_new = _polar(poincare.logmap0(z, cfg.c).T @ plan.T @ lx)
        else:
            w_new = _polar(y.T @ plan.T @ x)
        keep_old = transport_loss(u, w, plan) < transport_loss(u, w_new, plan)
        w = jnp.where(keep_old, w, w_new)
        if cfg.hyperbolic and cfg.translation_steps > 0:
            targets = _barycentric_targets(plan, y_hyp, cfg.c)

            def line_search(_, u):
                grad = target_grad(u, w, targets)
                direction = grad / jnp.maximum(jnp.linalg.norm(grad), jnp.finfo(x.dtype).tiny)
                candidates = u[None, :] - lengths[:, None] * direction[None, :]
                return candidates[jnp.argmin(losses_along(candidates, w, targets))]

            u = jax.lax.fori_loop(0, cfg.translation_steps, line_search, u)
        return (w, u, out.f, out.g, w_used, u_used), jnp.sum(plan * cost)

    init = (w0, u0, f0, g0, w0, u0)
    (_, _, f, g, w, u), costs = jax.lax.scan(outer, init, eps_schedule)
    return w, u, f, g, costs


def _finish(w, u, f, g, x, y, eps, cfg: _LoopConfig):
    """The plan ``exp((f_i + g_j - C_ij) / eps)`` of the last solve, its log and its cost."""
    cost = _cost_matrix(_map_points(w, u, x, cfg), y, cfg)
    log_plan = (f[:, None] + g[None, :] - cost) / eps
    plan = jnp.exp(log_plan)
    return plan, log_plan, jnp.sum(plan * cost)


@functools.partial(jax.jit, static_argnames=("cfg",))
def _run_restarts(w0s, x, y, lx, eps_schedule, cfg: _LoopConfig):
    """All restarts in parallel (``vmap``), each ending with its final plan and cost."""
    u0 = jnp.zeros((x.shape[1],), x.dtype)

    def one(w0):
        w, u, f, g, _ = _alternate(w0, u0, x, y, lx, eps_schedule, cfg)
        return (w, u, *_finish(w, u, f, g, x, y, eps_schedule[-1], cfg))

    return jax.vmap(one)(w0s)


@functools.partial(jax.jit, static_argnames=("cfg",))
def _refine(w0, u0, x, y, lx, eps_schedule, cfg: _LoopConfig):
    """One run of the alternation from ``(w0, u0)``, then the final plan."""
    w, u, f, g, _ = _alternate(w0, u0, x, y, lx, eps_schedule, cfg)
    return (w, u, *_finish(w, u, f, g, x, y, eps_schedule[-1], cfg))


@functools.partial(jax.jit, static_argnames=("cfg", "center", "num_restarts", "restart_subsample"))
def _prepare(x, y, key, cfg: _LoopConfig, center: bool, num_restarts: int, restart_subsample: int):
    """Centering, the cost scale, initial rotations and the restart subsets (one program)."""
    d = x.shape[1]
    if cfg.hyperbolic:
        mx = poincare.centroid(x, c=cfg.c) if center else jnp.zeros((d,), x.dtype)
        my = poincare.centroid(y, c=cfg.c) if center else jnp.zeros((d,), x.dtype)
        x0 = poincare.mobius_add(-mx, x, cfg.c)
        y0 = poincare.mobius_add(-my, y, cfg.c)
    else:
        mx = jnp.mean(x, axis=0) if center else jnp.zeros((d,), x.dtype)
        my = jnp.mean(y, axis=0) if center else jnp.zeros((d,), x.dtype)
        x0, y0 = x - mx, y - my
    scale = jnp.maximum(jnp.std(_cost_matrix(x0, y0, cfg)), jnp.finfo(x.dtype).tiny)
    k_init, k_sub_x, k_sub_y = jax.random.split(key, 3)
    w0s = _initial_rotations(k_init, _tangent(x0, cfg), _tangent(y0, cfg), num_restarts)

    def subsample(k, p):
        if p.shape[0] <= restart_subsample:
            return p
        return p[jax.random.choice(k, p.shape[0], (restart_subsample,), replace=False)]

    xs, ys = subsample(k_sub_x, x0), subsample(k_sub_y, y0)
    return mx, my, x0, y0, scale, w0s, xs, ys


def _tangent(p, cfg: _LoopConfig):
    return poincare.logmap0(p, cfg.c) if cfg.hyperbolic else p


@functools.partial(jax.jit, static_argnames=("cfg",))
def _final_map(w, u, mx, my, x, cfg: _LoopConfig):
    """The fitted map in the original coordinates and ``f(x)``."""
    if not cfg.hyperbolic:
        mapping = EuclideanMap(rotation=w, x_mean=mx, y_mean=my)
        return mapping, apply_map(mapping, x, cfg.c)
    eye = jnp.eye(x.shape[1], dtype=x.dtype)
    inner = Isometry(rotation=w, translation=poincare.expmap0(u, cfg.c))
    mapping = compose_isometries(
        Isometry(eye, my), compose_isometries(inner, Isometry(eye, -mx), cfg.c), cfg.c
    )
    return mapping, apply_isometry(mapping, x, cfg.c)


def _register(
    x,
    y,
    key,
    *,
    hyperbolic,
    c,
    power,
    epsilon,
    epsilon_start,
    num_iters,
    anneal_fraction,
    num_restarts,
    restart_subsample,
    translation_steps,
    sinkhorn_threshold,
    sinkhorn_max_iterations,
    center,
):
    """Annealed restarts (on subsets when the sets are large), refinement, final plan."""
    cfg = _LoopConfig(
        hyperbolic,
        float(c),
        float(power),
        int(translation_steps),
        float(sinkhorn_threshold),
        int(sinkhorn_max_iterations),
    )
    mx, my, x0, y0, scale, w0s, xs, ys = _prepare(
        x, y, key, cfg, center, num_restarts, restart_subsample
    )
    schedule = scale * jnp.asarray(
        _eps_schedule(epsilon_start, epsilon, num_iters, anneal_fraction), x0.dtype
    )
    ws, us, plans, log_plans, costs = _run_restarts(w0s, xs, ys, _tangent(xs, cfg), schedule, cfg)
    _check_restarts(costs, log_plans, "hyperbolic_ot" if hyperbolic else "euclidean_procrustes")
    finite = np.isfinite(np.asarray(costs)) & np.all(
        np.isfinite(np.asarray(log_plans)), axis=(1, 2)
    )
    best = int(np.argmin(np.where(finite, np.asarray(costs), np.inf)))
    if xs.shape[0] == x0.shape[0] and ys.shape[0] == y0.shape[0]:
        w, u, plan, log_plan, cost = ws[best], us[best], plans[best], log_plans[best], costs[best]
    else:
        # Refine the winner on the full sets, starting at 10x the final epsilon.
        refine = scale * jnp.asarray(
            _eps_schedule(10.0 * epsilon, epsilon, max(5, num_iters // 3), anneal_fraction),
            x0.dtype,
        )
        w, u, plan, log_plan, cost = _refine(
            ws[best], us[best], x0, y0, _tangent(x0, cfg), refine, cfg
        )
        if not (np.isfinite(float(cost)) and bool(jnp.all(jnp.isfinite(log_plan)))):
            raise RuntimeError(
                f"align: the refinement of the best restart ({best}, cost {float(costs[best]):.6g} "
                f"on {xs.shape[0]} x {ys.shape[0]} subsampled points) on the full "
                f"{x0.shape[0]} x {y0.shape[0]} sets ended with a non-finite transport cost "
                f"({float(cost)}) or log-plan; try a larger epsilon or a smaller power"
            )
    mapping, mapped = _final_map(w, u, mx, my, x, cfg)
    return mapping, mapped, plan, log_plan, cost, costs


def _check_restarts(costs, log_plans, method: str) -> None:
    """Raises when no restart ended with a finite transport cost and a finite log-plan."""
    costs = np.asarray(costs)
    finite_plan = np.all(np.isfinite(np.asarray(log_plans)), axis=tuple(range(1, log_plans.ndim)))
    ok = np.isfinite(costs) & finite_plan
    if not np.any(ok):
        raise RuntimeError(
            f"align(method={method!r}): none of the {costs.size} restart(s) ended finite "
            f"(transport costs {costs.tolist()[:8]}{' ...' if costs.size > 8 else ''}; "
            f"{int(np.sum(~finite_plan))} of {costs.size} log-plans hold NaN/inf); the cost "
            "d^power or the Sinkhorn potentials overflowed: try a smaller power or a larger "
            "epsilon"
        )


@functools.partial(
    jax.jit,
    static_argnames=(
        "c",
        "power",
        "epsilon",
        "max_iterations",
        "sinkhorn_threshold",
        "sinkhorn_max_iterations",
    ),
)
def _gromov_wasserstein(
    x, y, *, c, power, epsilon, max_iterations, sinkhorn_threshold, sinkhorn_max_iterations
):
    """ott's entropic GW on the intra-set ``d^p`` matrices (one compiled program per setting)."""
    dx = PoincareCost(c, power).all_pairs(x, x)
    dy = PoincareCost(c, power).all_pairs(y, y)
    prob = quadratic_problem.QuadraticProblem(
        geometry.Geometry(cost_matrix=dx), geometry.Geometry(cost_matrix=dy)
    )
    solver = gromov_wasserstein.GromovWasserstein(
        linear_solver=sinkhorn.Sinkhorn(
            threshold=sinkhorn_threshold,
            max_iterations=sinkhorn_max_iterations,
            implicit_diff=None,
        ),
        epsilon=epsilon,
        relative_epsilon="std",
        max_iterations=max_iterations,
        store_inner_errors=False,
    )
    out = solver(prob)
    lin = out.linear_state
    log_plan = lin.geom._center(lin.f, lin.g) / lin.geom.epsilon + jnp.log(out._rescale_factor)
    return out.matrix, log_plan, out.primal_cost


def align(
    x: ArrayLike,
    y: ArrayLike,
    method: str = "hyperbolic_ot",
    *,
    key: jax.Array | None = None,
    c: float = 1.0,
    power: float = 2.0,
    epsilon: float | None = None,
    epsilon_start: float = 1.0,
    num_iters: int = 30,
    anneal_fraction: float = 0.7,
    num_restarts: int = 16,
    restart_subsample: int = 300,
    center: bool = True,
    translation_steps: int = 2,
    gw_iterations: int = 50,
    sinkhorn_threshold: float = 1e-3,
    sinkhorn_max_iterations: int = 300,
    gw_sinkhorn_max_iterations: int = 2000,
) -> AlignmentResult:
    """Aligns two point sets of the Poincare ball without correspondences.

    This is a driver: it validates the inputs and jit-compiles its inner loops itself.

    Args:
        x: ``[n, d]`` source points (inside the ball of radius ``1/sqrt(c)``).
        y: ``[m, d]`` target points.
        method: one of :data:`METHODS`.
        key: PRNG key for the random restarts and subsets (required unless
            ``method="gromov_wasserstein"``).
        c: curvature magnitude.
        power: the cost is ``distance ** power`` (hyperbolic OT and GW); the Euclidean baseline
            always uses the squared Euclidean distance.
        epsilon: final entropic regularization relative to the standard deviation of the cost
            (default 0.01 for the two map-based methods, 0.005 for GW).
        epsilon_start: initial relative epsilon of the annealing.
        num_iters: outer alternations (Sinkhorn + map update).
        anneal_fraction: share of ``num_iters`` over which epsilon decays.
        num_restarts: initial rotations tried in parallel.
        restart_subsample: restarts run on at most this many random points of each set.
        center: hyperbolic OT: move each set's Lorentzian centroid to 0 first; Euclidean
            Procrustes: subtract each set's mean.
        translation_steps: line-search gradient steps on the Mobius translation per
            alternation (0: rotation only).
        gw_iterations: outer iterations of Gromov-Wasserstein.
        sinkhorn_threshold: marginal-error tolerance of each Sinkhorn solve.
        sinkhorn_max_iterations: cap on each warm-started Sinkhorn solve of the alternation
            (a solve need not converge fully: the next one continues from its potentials, and
            the last ``(1 - anneal_fraction) num_iters`` solves share the final epsilon).
        gw_sinkhorn_max_iterations: cap on GW's inner Sinkhorn solves.

    Returns:
        An :class:`AlignmentResult`.

    Raises:
        ValueError: unknown method, empty or non-2-D sets, mismatched dimensions (map-based
            methods), points outside the ball, or bad hyperparameters.
        RuntimeError: no restart ended with a finite transport cost and log-plan (GW: its one
            run; large sets: also when the refinement of the best restart is non-finite), e.g.
            ``d^power`` overflowing. Non-finite restarts are otherwise skipped, never returned.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    check_curvature(c)
    n, dx = check_point_set(x, "x", c)
    m, dy = check_point_set(y, "y", c)
    if method != "gromov_wasserstein" and dx != dy:
        raise ValueError(
            f"x and y must have the same dimension d for method {method!r}; got x: [{n}, {dx}], "
            f"y: [{m}, {dy}] (gromov_wasserstein accepts different dimensions)"
        )
    power = check_float(power, "power")
    if epsilon is None:
        epsilon = 0.005 if method == "gromov_wasserstein" else 0.01
    epsilon = check_float(epsilon, "epsilon")
    epsilon_start = check_float(epsilon_start, "epsilon_start")
    num_iters = check_int(num_iters, "num_iters", minimum=1)
    anneal_fraction = check_float(anneal_fraction, "anneal_fraction")
    if anneal_fraction > 1.0:
        raise ValueError(f"anneal_fraction must be in (0, 1]; got {anneal_fraction}")
    num_restarts = check_int(num_restarts, "num_restarts", minimum=1)
    restart_subsample = check_int(restart_subsample, "restart_subsample", minimum=2)
    translation_steps = check_int(translation_steps, "translation_steps", minimum=0)
    gw_iterations = check_int(gw_iterations, "gw_iterations", minimum=1)
    sinkhorn_threshold = check_float(sinkhorn_threshold, "sinkhorn_threshold")
    sinkhorn_max_iterations = check_int(
        sinkhorn_max_iterations, "sinkhorn_max_iterations", minimum=1
    )
    gw_sinkhorn_max_iterations = check_int(
        gw_sinkhorn_max_iterations, "gw_sinkhorn_max_iterations", minimum=1
    )
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    dtype = jnp.result_type(x, y, jnp.float32)
    x, y = x.astype(dtype), y.astype(dtype)

    if method == "gromov_wasserstein":
        plan, log_plan, cost = _gromov_wasserstein(
            x,
            y,
            c=float(c),
            power=power,
            epsilon=epsilon,
            max_iterations=gw_iterations,
            sinkhorn_threshold=sinkhorn_threshold,
            sinkhorn_max_iterations=gw_sinkhorn_max_iterations,
        )
        _check_restarts(jnp.reshape(cost, (1,)), log_plan[None], method)
        return AlignmentResult(
            plan=plan,
            log_plan=log_plan,
            mapping=None,
            mapped_x=None,
            matching=jnp.argmax(log_plan, axis=1),
            cost=cost,
            restart_costs=jnp.reshape(cost, (1,)),
            method=method,
        )

    if key is None:
        raise ValueError(f"key (a PRNG key) is required for method {method!r}")
    hyperbolic = method == "hyperbolic_ot"
    mapping, mapped, plan, log_plan, cost, restart_costs = _register(
        x,
        y,
        key,
        hyperbolic=hyperbolic,
        c=c,
        power=power if hyperbolic else 2.0,
        epsilon=epsilon,
        epsilon_start=epsilon_start,
        num_iters=num_iters,
        anneal_fraction=anneal_fraction,
        num_restarts=num_restarts,
        restart_subsample=restart_subsample,
        translation_steps=translation_steps,
        sinkhorn_threshold=sinkhorn_threshold,
        sinkhorn_max_iterations=sinkhorn_max_iterations,
        center=center,
    )
    return AlignmentResult(
        plan=plan,
        log_plan=log_plan,
        mapping=mapping,
        mapped_x=mapped,
        matching=jnp.argmax(log_plan, axis=1),
        cost=cost,
        restart_costs=restart_costs,
        method=method,
    )
