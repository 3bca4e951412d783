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

``"gw_then_hyperbolic"``
    GW's plan, then its barycentric projection ``t_i`` (Lorentzian centroids of ``y`` weighted by
    the plan's rows), the isometry fitted to ``x_i -> t_i``, a deep map fitted to ``t`` and refined
    by the registered hyperbolic OT of :mod:`~jaxml.hyperbolic.registration` (pure pipeline:
    :func:`~jaxml.hyperbolic.registration.register_from_plan`).

``registration="mlp"`` (hyperbolic OT only; :data:`REGISTRATIONS`) replaces the isometry by the
deep map ``f(x) = T(x) (+) g(T(x))`` of :mod:`~jaxml.hyperbolic.registration` (a hyperbolic MLP
residual on top of the isometric solution ``T``), trained end to end on the entropic OT cost.

All return an :class:`AlignmentResult` with the plan, its log (scores that never underflow, for
precision@k), the fitted map (an :class:`~jaxml.hyperbolic.isometry.Isometry`, a
:class:`EuclideanMap` or None) and the hard matching ``argmax_j P_ij``.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from ott.geometry import costs

from jaxml._validation import (
    check_bool,
    check_choice,
    check_int,
    check_key,
    check_positive,
    check_scalar,
)
from jaxml.hyperbolic import poincare
from jaxml.hyperbolic._checks import check_curvature, check_point_set, check_points
from jaxml.hyperbolic.cost import PoincareCost, solve_sinkhorn
from jaxml.hyperbolic.gw import entropic_gw
from jaxml.hyperbolic.isometry import (
    Isometry,
    apply_isometry,
    compose_isometries,
    fit_isometry,
)
from jaxml.hyperbolic.matching import precision_at_k
from jaxml.hyperbolic.registration import (
    LOSSES,
    DeepMap,
    DeepRegistration,
    apply_deep_map,
    register_from_isometry,
    register_from_plan,
)

__all__ = [
    "METHODS",
    "REGISTRATIONS",
    "AlignmentProblem",
    "AlignmentResult",
    "COLUMNS",
    "COLUMN_LABELS",
    "EuclideanMap",
    "RegistrationSolver",
    "RegistrationState",
    "align",
    "align_precision",
    "apply_map",
    "compare_methods",
    "pairwise_cost",
    "time_align",
]

METHODS = ("hyperbolic_ot", "euclidean_procrustes", "gromov_wasserstein", "gw_then_hyperbolic")
REGISTRATIONS = ("isometry", "mlp")


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
    mapping: Isometry | EuclideanMap | DeepMap | None
    mapped_x: jax.Array | None
    matching: jax.Array
    cost: jax.Array
    restart_costs: jax.Array
    method: str


def _result(*, plan, log_plan, mapping, mapped_x, cost, restart_costs, method) -> AlignmentResult:
    """An :class:`AlignmentResult`, its hard matching derived from the log-plan."""
    return AlignmentResult(
        plan=plan,
        log_plan=log_plan,
        mapping=mapping,
        mapped_x=mapped_x,
        matching=jnp.argmax(log_plan, axis=1),
        cost=cost,
        restart_costs=restart_costs,
        method=method,
    )


def apply_map(
    mapping: Isometry | EuclideanMap | DeepMap, x: ArrayLike, c: float = 1.0
) -> jax.Array:
    """Applies a fitted map to ``[..., d]`` points.

    Args:
        mapping: an ``Isometry`` (hyperbolic), a ``DeepMap`` (``registration="mlp"``) or an
            ``EuclideanMap`` (ambient; the result is projected into the ball, since an ambient
            map may leave it).
        x: points.
        c: curvature magnitude.
    """
    if isinstance(mapping, Isometry):
        return apply_isometry(mapping, x, c)
    if isinstance(mapping, EuclideanMap):
        x = jnp.asarray(x)
        out = (x - mapping.x_mean) @ mapping.rotation.T + mapping.y_mean
        return poincare.project(out, 1e-5, c)
    if isinstance(mapping, DeepMap):
        check_curvature(c)
        check_points(x, "x", c)
        d = mapping.isometry.rotation.shape[0]
        if jnp.shape(x)[-1] != d:
            raise ValueError(
                f"x has d = {jnp.shape(x)[-1]} coordinates but the map acts on d = {d}"
            )
        return apply_deep_map(mapping, x, c)
    raise TypeError(
        f"mapping must be an Isometry, DeepMap or EuclideanMap; got {type(mapping).__name__}"
    )


# ----------------------------------------------------------------------------------------------
# The problem, the cost's geometry and the registration solver.


class AlignmentProblem(NamedTuple):
    """Two point clouds and the cost that compares them (an ott-style problem, a pytree).

    The cost decides the registration map: :class:`~jaxml.hyperbolic.cost.PoincareCost` fits a
    ball isometry (rotation + Mobius translation, hyperbolic OT), ott's
    ``costs.SqEuclidean()`` fits an orthogonal map in ambient coordinates (Wasserstein-Procrustes).

    Attributes:
        x: ``[n, d]`` source points.
        y: ``[m, d]`` target points.
        cost_fn: a ``PoincareCost`` or ``ott.geometry.costs.SqEuclidean``.
    """

    x: jax.Array
    y: jax.Array
    cost_fn: costs.CostFn


def _is_hyperbolic(cost_fn: costs.CostFn) -> bool:
    """The registration map that ``cost_fn`` calls for (the only place the two are told apart)."""
    if isinstance(cost_fn, PoincareCost):
        return True
    if isinstance(cost_fn, costs.SqEuclidean):
        return False
    raise TypeError(
        "cost_fn must be a jaxml.hyperbolic.PoincareCost or ott.geometry.costs.SqEuclidean; got "
        f"{type(cost_fn).__name__}"
    )


def _curvature(cost_fn: costs.CostFn) -> float:
    return cost_fn.c if _is_hyperbolic(cost_fn) else 1.0


def pairwise_cost(cost_fn: costs.CostFn, x: jax.Array, y: jax.Array) -> jax.Array:
    """``[n, m]`` costs ``C_ij = cost_fn(x_i, y_j)`` (the squared Euclidean one as ``|x - y|^2``).

    Args:
        cost_fn: a ``PoincareCost`` or ``ott.geometry.costs.SqEuclidean``.
        x: ``[n, d]``.
        y: ``[m, d]``.
    """
    if _is_hyperbolic(cost_fn):
        return cost_fn.all_pairs(x, y)
    diff = x[:, None, :] - y[None, :, :]
    return jnp.sum(diff * diff, axis=-1)


def _tangent(cost_fn, p):
    """Coordinates in which the rotation is fitted: ``log_0`` (hyperbolic) or ambient."""
    return poincare.logmap0(p, cost_fn.c) if _is_hyperbolic(cost_fn) else p


def _map_points(cost_fn, w, u, x):
    """``exp_0(u) (+) W x`` (hyperbolic) or ``W x`` (Euclidean)."""
    rotated = x @ w.T
    if _is_hyperbolic(cost_fn):
        return poincare.mobius_add(poincare.expmap0(u, cost_fn.c), rotated, cost_fn.c)
    return rotated


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


def _barycentric_targets(plan: jax.Array, y_hyperboloid: jax.Array, c: float) -> jax.Array:
    """``[n, d]``: per row, the Lorentzian centroid of ``y`` weighted by the plan's row."""
    s = plan @ y_hyperboloid  # [n, d + 1]
    minkowski = s[:, :1] ** 2 - jnp.sum(s[:, 1:] ** 2, axis=1, keepdims=True)
    s = s / (jnp.sqrt(c) * jnp.sqrt(jnp.maximum(minkowski, jnp.finfo(s.dtype).tiny)))
    return poincare.from_hyperboloid(s, c)


# Step lengths (in the tangent space at 0) tried by the translation line search, and 0.
_TRANSLATION_STEPS = np.concatenate([[0.0], 0.5 ** np.arange(1, 16)]).astype(np.float32)


class RegistrationState(NamedTuple):
    """State of :class:`RegistrationSolver` (one restart).

    Attributes:
        rotation: ``[d, d]`` the current orthogonal ``W``.
        translation: ``[d]`` the current ``u`` (the Mobius translation is ``a = exp_0(u)``;
            stays 0 for the squared Euclidean cost).
        f: ``[n]`` dual potential of the last Sinkhorn solve (warm start of the next one).
        g: ``[m]``.
        solved_rotation: ``[d, d]`` the ``W`` the last solve's cost was built from, so that the
            map and the plan ``(f, g)`` agree.
        solved_translation: ``[d]`` the ``u`` of the last solve.
        cost: transport cost ``<P, C>`` of the last solve (``inf`` before the first).
        iteration: int32, the number of updates done.
    """

    rotation: jax.Array
    translation: jax.Array
    f: jax.Array
    g: jax.Array
    solved_rotation: jax.Array
    solved_translation: jax.Array
    cost: jax.Array
    iteration: jax.Array


@dataclasses.dataclass(frozen=True)
class RegistrationSolver:
    """Annealed alternation of entropic OT and a map update (hyperbolic OT / Procrustes-W).

    Pure ``init``/``update``/``run`` (optax-style, no host sync, no ``jit`` inside): jit and vmap
    them at the call site, e.g. over restarts
    ``jax.vmap(solver.run, in_axes=(None, 0, None))(problem, rotations, epsilons)``. The
    hyperparameters are static (the solver is hashable, so it can be a ``static_argnames`` arg).

    One :meth:`update` at epsilon ``eps`` (absolute, see :meth:`epsilons`), with ``f`` the map:

    1. ``P = Sinkhorn(C)``, ``C_ij = cost_fn(f(x_i), y_j)``, warm-started from ``(f, g)``;
    2. ``W`` step (closed form, kept only if it lowers ``<P, C>``): hyperbolic,
       ``W = polar(sum_ij P_ij log_0((-a) (+) y_j) log_0(x_i)^T)``; Euclidean,
       ``W = polar(Y^T P^T X)``;
    3. (hyperbolic only) ``translation_steps`` line-search steps on ``u`` for the surrogate
       ``sum_i d(a (+) W x_i, t_i)^p`` (``t_i`` the plan's barycentric targets); each moves
       along ``-grad`` by the best of a geometric grid of lengths, 0 included, so it never
       increases the surrogate.

    Attributes:
        num_iters: updates per :meth:`run` (the length of :meth:`epsilons`).
        epsilon: final epsilon, relative to the cost scale.
        epsilon_start: initial relative epsilon of the geometric annealing.
        anneal_fraction: share of ``num_iters`` over which epsilon decays.
        translation_steps: line-search steps on the Mobius translation per update.
        sinkhorn_threshold: marginal-error tolerance of each Sinkhorn solve.
        sinkhorn_max_iterations: cap on each warm-started Sinkhorn solve.
    """

    num_iters: int = 30
    epsilon: float = 0.01
    epsilon_start: float = 1.0
    anneal_fraction: float = 0.7
    translation_steps: int = 2
    sinkhorn_threshold: float = 1e-3
    sinkhorn_max_iterations: int = 300

    def __post_init__(self):
        check_int(self.num_iters, "num_iters", minimum=1)
        check_positive(self.epsilon, "epsilon")
        check_positive(self.epsilon_start, "epsilon_start")
        check_scalar(
            self.anneal_fraction, "anneal_fraction", minimum=0.0, maximum=1.0, min_open=True
        )
        check_int(self.translation_steps, "translation_steps", minimum=0)
        check_positive(self.sinkhorn_threshold, "sinkhorn_threshold")
        check_int(self.sinkhorn_max_iterations, "sinkhorn_max_iterations", minimum=1)

    def epsilons(self, scale: ArrayLike, dtype=jnp.float32) -> jax.Array:
        """``[num_iters]`` absolute epsilons: ``scale`` times the relative annealing schedule.

        Args:
            scale: the cost scale (:func:`align` uses the std of the centred sets' cost matrix).
            dtype: of the schedule.
        """
        return scale * jnp.asarray(
            _eps_schedule(self.epsilon_start, self.epsilon, self.num_iters, self.anneal_fraction),
            dtype,
        )

    def init(
        self,
        problem: AlignmentProblem,
        rotation: ArrayLike,
        translation: ArrayLike | None = None,
    ) -> RegistrationState:
        """The state before the first solve: map ``(rotation [d, d], translation [d])``, zero
        potentials."""
        x, y = problem.x, problem.y
        rotation = jnp.asarray(rotation, x.dtype)
        if translation is None:
            translation = jnp.zeros((x.shape[1],), x.dtype)
        translation = jnp.asarray(translation, x.dtype)
        return RegistrationState(
            rotation=rotation,
            translation=translation,
            f=jnp.zeros((x.shape[0],), x.dtype),
            g=jnp.zeros((y.shape[0],), x.dtype),
            solved_rotation=rotation,
            solved_translation=translation,
            cost=jnp.asarray(jnp.inf, x.dtype),
            iteration=jnp.zeros([], jnp.int32),
        )

    def _sinkhorn(self, cost, eps, init):
        return solve_sinkhorn(
            cost,
            eps,
            init,
            threshold=self.sinkhorn_threshold,
            max_iterations=self.sinkhorn_max_iterations,
        )

    def update(
        self, state: RegistrationState, problem: AlignmentProblem, epsilon: ArrayLike
    ) -> RegistrationState:
        """One Sinkhorn solve at absolute ``epsilon``, then the map update (see the class)."""
        x, y, cost_fn = problem
        hyperbolic = _is_hyperbolic(cost_fn)
        c = _curvature(cost_fn)
        w, u = state.rotation, state.translation

        def transport_loss(u, w, plan):
            return jnp.sum(plan * pairwise_cost(cost_fn, _map_points(cost_fn, w, u, x), y))

        cost = pairwise_cost(cost_fn, _map_points(cost_fn, w, u, x), y)
        out = self._sinkhorn(cost, epsilon, (state.f, state.g))
        plan = jax.lax.stop_gradient(out.matrix)
        if hyperbolic:
            z = poincare.mobius_add(-poincare.expmap0(u, c), y, c)
            w_new = _polar(poincare.logmap0(z, c).T @ plan.T @ _tangent(cost_fn, x))
        else:
            w_new = _polar(y.T @ plan.T @ x)
        keep_old = transport_loss(u, w, plan) < transport_loss(u, w_new, plan)
        w_next = jnp.where(keep_old, w, w_new)
        u_next = u
        if hyperbolic and self.translation_steps > 0:
            u_next = self._translation_steps(cost_fn, x, y, w_next, u, plan)
        return RegistrationState(
            rotation=w_next,
            translation=u_next,
            f=out.f,
            g=out.g,
            solved_rotation=w,
            solved_translation=u,
            cost=jnp.sum(plan * cost),
            iteration=state.iteration + 1,
        )

    def _translation_steps(self, cost_fn, x, y, w, u, plan):
        c, power = cost_fn.c, cost_fn.power
        lengths = jnp.asarray(_TRANSLATION_STEPS, x.dtype)
        targets = _barycentric_targets(plan, poincare.to_hyperboloid(y, c), c)

        def target_loss(u):
            d = poincare.distance(_map_points(cost_fn, w, u, x), targets, c)
            return jnp.sum(d**power)

        target_grad = jax.grad(target_loss)
        losses_along = jax.vmap(target_loss)

        def line_search(_, u):
            grad = target_grad(u)
            direction = grad / jnp.maximum(jnp.linalg.norm(grad), jnp.finfo(x.dtype).tiny)
            candidates = u[None, :] - lengths[:, None] * direction[None, :]
            return candidates[jnp.argmin(losses_along(candidates))]

        return jax.lax.fori_loop(0, self.translation_steps, line_search, u)

    def run(
        self,
        problem: AlignmentProblem,
        rotation: ArrayLike,
        epsilons: ArrayLike,
        translation: ArrayLike | None = None,
    ) -> RegistrationState:
        """``init`` then one ``update`` per entry of ``epsilons`` ``[T]`` (a ``lax.scan``).

        The returned state's ``solved_*`` map, ``(f, g)`` and ``cost`` belong to the last solve;
        :meth:`transport` turns them into the plan.
        """
        state = self.init(problem, rotation, translation)

        def body(state, eps):
            return self.update(state, problem, eps), None

        state, _ = jax.lax.scan(body, state, jnp.asarray(epsilons))
        return state

    def transport(
        self, state: RegistrationState, problem: AlignmentProblem, epsilon: ArrayLike
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """``(plan [n, m], log_plan [n, m], cost)`` of the last solve at ``epsilon``:
        ``log_plan = (f_i + g_j - C_ij) / eps`` with ``C`` built from the ``solved_*`` map."""
        x, y, cost_fn = problem
        mapped = _map_points(cost_fn, state.solved_rotation, state.solved_translation, x)
        cost = pairwise_cost(cost_fn, mapped, y)
        log_plan = (state.f[:, None] + state.g[None, :] - cost) / epsilon
        plan = jnp.exp(log_plan)
        return plan, log_plan, jnp.sum(plan * cost)


# ----------------------------------------------------------------------------------------------
# The eager driver's compiled pieces (one program per shape and setting, reused across calls).


@functools.partial(jax.jit, static_argnames=("solver",))
def _run_restarts(solver: RegistrationSolver, problem: AlignmentProblem, w0s, epsilons):
    """All restarts in parallel (``vmap`` of :meth:`RegistrationSolver.run`), each with its plan.

    Returns ``(rotations [R, d, d], translations [R, d], plans, log_plans [R, n, m], costs [R])``.
    """

    def one(w0):
        state = solver.run(problem, w0, epsilons)
        return (
            state.solved_rotation,
            state.solved_translation,
            *solver.transport(state, problem, epsilons[-1]),
        )

    return jax.vmap(one)(w0s)


@functools.partial(jax.jit, static_argnames=("solver",))
def _refine(solver: RegistrationSolver, problem: AlignmentProblem, w0, u0, epsilons):
    """One run from ``(w0, u0)`` on the full sets, then its plan."""
    state = solver.run(problem, w0, epsilons, u0)
    return (
        state.solved_rotation,
        state.solved_translation,
        *solver.transport(state, problem, epsilons[-1]),
    )


@functools.partial(jax.jit, static_argnames=("center", "num_restarts", "restart_subsample"))
def _prepare(
    problem: AlignmentProblem, key, center: bool, num_restarts: int, restart_subsample: int
):
    """Centering, the cost scale, initial rotations and the restart subsets (one program)."""
    x, y, cost_fn = problem
    d = x.shape[1]
    if _is_hyperbolic(cost_fn):
        c = cost_fn.c
        mx = poincare.centroid(x, c=c) if center else jnp.zeros((d,), x.dtype)
        my = poincare.centroid(y, c=c) if center else jnp.zeros((d,), x.dtype)
        x0 = poincare.mobius_add(-mx, x, c)
        y0 = poincare.mobius_add(-my, y, c)
    else:
        mx = jnp.mean(x, axis=0) if center else jnp.zeros((d,), x.dtype)
        my = jnp.mean(y, axis=0) if center else jnp.zeros((d,), x.dtype)
        x0, y0 = x - mx, y - my
    scale = jnp.maximum(jnp.std(pairwise_cost(cost_fn, x0, y0)), jnp.finfo(x.dtype).tiny)
    k_init, k_sub_x, k_sub_y = jax.random.split(key, 3)
    w0s = _initial_rotations(k_init, _tangent(cost_fn, x0), _tangent(cost_fn, y0), num_restarts)

    def subsample(k, p):
        if p.shape[0] <= restart_subsample:
            return p
        return p[jax.random.choice(k, p.shape[0], (restart_subsample,), replace=False)]

    xs, ys = subsample(k_sub_x, x0), subsample(k_sub_y, y0)
    return mx, my, x0, y0, scale, w0s, xs, ys


@jax.jit
def _final_map(cost_fn, w, u, mx, my, x):
    """The fitted map in the original coordinates and ``f(x)``."""
    if not _is_hyperbolic(cost_fn):
        mapping = EuclideanMap(rotation=w, x_mean=mx, y_mean=my)
        return mapping, apply_map(mapping, x)
    c = cost_fn.c
    eye = jnp.eye(x.shape[1], dtype=x.dtype)
    inner = Isometry(rotation=w, translation=poincare.expmap0(u, c))
    mapping = compose_isometries(
        Isometry(eye, my), compose_isometries(inner, Isometry(eye, -mx), c), c
    )
    return mapping, apply_isometry(mapping, x, c)


def _register(problem, key, solver: RegistrationSolver, *, num_restarts, restart_subsample, center):
    """Annealed restarts (on subsets when the sets are large), refinement, final plan; the
    restart selection (best finite restart, raise when none is finite) is eager."""
    x, y, cost_fn = problem
    method = "hyperbolic_ot" if _is_hyperbolic(cost_fn) else "euclidean_procrustes"
    mx, my, x0, y0, scale, w0s, xs, ys = _prepare(
        problem, key, center, num_restarts, restart_subsample
    )
    ws, us, plans, log_plans, costs_ = _run_restarts(
        solver, AlignmentProblem(xs, ys, cost_fn), w0s, solver.epsilons(scale, x0.dtype)
    )
    _check_restarts(costs_, log_plans, method)
    finite = np.isfinite(np.asarray(costs_)) & np.all(
        np.isfinite(np.asarray(log_plans)), axis=(1, 2)
    )
    best = int(np.argmin(np.where(finite, np.asarray(costs_), np.inf)))
    if xs.shape[0] == x0.shape[0] and ys.shape[0] == y0.shape[0]:
        w, u, plan, log_plan, cost = ws[best], us[best], plans[best], log_plans[best], costs_[best]
    else:
        # Refine the winner on the full sets, starting at 10x the final epsilon.
        refiner = dataclasses.replace(
            solver, num_iters=max(5, solver.num_iters // 3), epsilon_start=10.0 * solver.epsilon
        )
        w, u, plan, log_plan, cost = _refine(
            refiner,
            AlignmentProblem(x0, y0, cost_fn),
            ws[best],
            us[best],
            refiner.epsilons(scale, x0.dtype),
        )
        if not (np.isfinite(float(cost)) and bool(jnp.all(jnp.isfinite(log_plan)))):
            raise RuntimeError(
                f"align: the refinement of the best restart ({best}, cost "
                f"{float(costs_[best]):.6g} "
                f"on {xs.shape[0]} x {ys.shape[0]} subsampled points) on the full "
                f"{x0.shape[0]} x {y0.shape[0]} sets ended with a non-finite transport cost "
                f"({float(cost)}) or log-plan; try a larger epsilon or a smaller power"
            )
    mapping, mapped = _final_map(cost_fn, w, u, mx, my, x)
    return mapping, mapped, plan, log_plan, cost, costs_


def _check_restarts(costs_, log_plans, method: str) -> None:
    """Raises when no restart ended with a finite transport cost and a finite log-plan."""
    costs_ = np.asarray(costs_)
    finite_plan = np.all(np.isfinite(np.asarray(log_plans)), axis=tuple(range(1, log_plans.ndim)))
    ok = np.isfinite(costs_) & finite_plan
    if not np.any(ok):
        raise RuntimeError(
            f"align(method={method!r}): none of the {costs_.size} restart(s) ended finite "
            f"(transport costs {costs_.tolist()[:8]}{' ...' if costs_.size > 8 else ''}; "
            f"{int(np.sum(~finite_plan))} of {costs_.size} log-plans hold NaN/inf); the cost "
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
    """Entropic GW on the intra-set ``d^p`` matrices (one compiled program per setting).

    :func:`~jaxml.hyperbolic.gw.entropic_gw`: ott's ``GromovWasserstein`` iteration (square loss,
    ``relative_epsilon="std"``, warm-started inner solves) on the kernel-mode
    :func:`~jaxml.hyperbolic.sinkhorn_fast.sinkhorn_stabilized`. The log-plan is the last
    solve's own, ``(f_i + g_j - C_ij) / eps`` with that solve's cost ``C``, so it is exactly
    ``log(plan)`` (finite where the plan underflows) and the matching ranks what GW returned
    (ott's output only exposes the last potentials next to the cost re-linearized at the final
    plan, a mix of two iterates).
    """
    dx = PoincareCost(c, power).all_pairs(x, x)
    dy = PoincareCost(c, power).all_pairs(y, y)
    out = entropic_gw(
        dx,
        dy,
        epsilon,
        relative_epsilon=True,
        max_iterations=max_iterations,
        sinkhorn_threshold=sinkhorn_threshold,
        sinkhorn_max_iterations=sinkhorn_max_iterations,
        # Each linearization's Sinkhorn starts from the previous one's potentials: the same
        # fixed point in about 2/3 of the iterations on the WordNet mammal closure.
        warm_start=True,
        # One read of the kernel per Sinkhorn iteration, single-threaded: on the WordNet
        # mammals 0.6x the CPU time of the two-product loop and not slower in wall time on
        # the shared 2-core machine (docs/performance.md); same iterates to rounding.
        one_pass=True,
    )
    return out.plan, out.log_plan, out.cost


# ----------------------------------------------------------------------------------------------
# Deep registration (registration="mlp" and gw_then_hyperbolic).


def _deep_settings(method, registration, d, **kw) -> DeepRegistration | None:
    """Validates ``registration`` and the deep settings; the solver, or None (no deep map)."""
    if registration is not None:
        check_choice(registration, "registration", REGISTRATIONS)
    if method == "gw_then_hyperbolic":
        if registration == "isometry":
            raise ValueError(
                "registration='isometry' is not available for method 'gw_then_hyperbolic' (it "
                "refines GW's plan with the deep map); use registration='mlp' or None"
            )
    elif method != "hyperbolic_ot" and registration == "mlp":
        raise ValueError(
            f"registration='mlp' needs a hyperbolic method ('hyperbolic_ot' or "
            f"'gw_then_hyperbolic'); got method {method!r}"
        )
    elif registration != "mlp":
        return None
    hidden = check_int(kw["hidden"], "hidden", minimum=1)
    if hidden < d:
        raise ValueError(
            f"hidden must be >= d = {d} (a narrower hyperbolic MLP cannot be invertible, so the "
            f"registration map could not be one-to-one); got hidden = {hidden}"
        )
    return DeepRegistration(
        hidden=hidden,
        num_outer=check_int(kw["deep_outer"], "deep_outer", minimum=1),
        inner_steps=check_int(kw["deep_inner"], "deep_inner", minimum=1),
        learning_rate=float(check_positive(kw["deep_learning_rate"], "deep_learning_rate")),
        epsilon=kw["epsilon"],
        epsilon_start=float(check_positive(kw["deep_epsilon_start"], "deep_epsilon_start")),
        fit_steps=check_int(kw["deep_fit_steps"], "deep_fit_steps", minimum=0),
        power=kw["power"],
        c=kw["c"],
        sinkhorn_threshold=kw["sinkhorn_threshold"],
        sinkhorn_max_iterations=kw["sinkhorn_max_iterations"],
        loss=check_choice(kw["deep_loss"], "deep_loss", LOSSES),
    )


def _check_init(init, method, deep, n, m) -> None:
    if not isinstance(init, AlignmentResult):
        raise TypeError(f"init must be an AlignmentResult (from align); got {type(init).__name__}")
    want = {"hyperbolic_ot": "hyperbolic_ot", "gw_then_hyperbolic": "gromov_wasserstein"}
    if deep is None or method not in want:
        raise ValueError(
            "init is only used by the deep registration (method 'hyperbolic_ot' with "
            f"registration='mlp', or 'gw_then_hyperbolic'); got method {method!r}"
        )
    if init.method != want[method] or (
        method == "hyperbolic_ot" and not isinstance(init.mapping, Isometry)
    ):
        raise ValueError(
            f"init for method {method!r} must be a {want[method]!r} result"
            + (" with an Isometry mapping" if method == "hyperbolic_ot" else "")
            + f"; got a {init.method!r} result"
        )
    if tuple(init.plan.shape) != (n, m):
        raise ValueError(
            f"init was computed on other sets: its plan is {tuple(init.plan.shape)}, x and y "
            f"give ({n}, {m})"
        )


_deep_from_isometry = jax.jit(register_from_isometry, static_argnames=("reg",))
_deep_from_plan = jax.jit(register_from_plan, static_argnames=("reg",))


@functools.partial(jax.jit, static_argnames=("reg",))
def _deep_transport(reg, mapping, x, y, f, g, eps):
    plan, log_plan, cost = reg.transport(mapping, x, y, f, g, eps)
    return plan, log_plan, cost, apply_deep_map(mapping, x, reg.c)


def _deep_result(reg: DeepRegistration, out, x, y, method: str) -> AlignmentResult:
    """Keeps the finite restart with the lowest cost (eager); raises when all diverged."""
    costs_ = np.asarray(out.runs.cost)
    losses = np.asarray(out.runs.losses)
    finite = np.isfinite(costs_) & np.all(np.isfinite(losses), axis=1)
    if not np.any(finite):
        raise RuntimeError(
            f"align(method={method!r}, registration='mlp'): all {costs_.size} deep "
            f"registration restart(s) diverged (non-finite loss; final costs "
            f"{costs_.tolist()[:8]}); try a smaller deep_learning_rate or a larger epsilon"
        )
    best = int(np.argmin(np.where(finite, costs_, np.inf)))
    params = jax.tree_util.tree_map(lambda a: a[best], out.runs.params)
    mapping = DeepMap(out.isometry, params)
    plan, log_plan, cost, mapped = _deep_transport(
        reg, mapping, x, y, out.runs.f[best], out.runs.g[best], out.epsilons[-1]
    )
    if not (np.isfinite(float(cost)) and bool(jnp.all(jnp.isfinite(log_plan)))):
        raise RuntimeError(f"align(method={method!r}): the best deep restart's plan is non-finite")
    return _result(
        plan=plan,
        log_plan=log_plan,
        mapping=mapping,
        mapped_x=mapped,
        cost=cost,
        restart_costs=jnp.where(jnp.asarray(finite), out.runs.cost, jnp.inf),
        method=method,
    )


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
    registration: str | None = None,
    hidden: int = 32,
    deep_outer: int = 10,
    deep_inner: int = 10,
    deep_learning_rate: float = 0.01,
    deep_epsilon_start: float = 0.1,
    deep_fit_steps: int = 100,
    deep_loss: str = "alternating",
    init: AlignmentResult | None = None,
) -> AlignmentResult:
    """Aligns two point sets of the Poincare ball without correspondences.

    This is the eager driver: it validates the inputs, runs the restarts of the pure
    :class:`RegistrationSolver` (``vmap``) in one compiled program per shape and setting (reused
    across calls), keeps the best finite restart (raising when none is finite) and refines it.
    To jit or vmap an alignment yourself, use :class:`AlignmentProblem` and
    :class:`RegistrationSolver` directly.

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
        registration: the map of hyperbolic OT, one of :data:`REGISTRATIONS`: ``"isometry"``
            (default for ``"hyperbolic_ot"``) or ``"mlp"`` (the deep map of
            :mod:`~jaxml.hyperbolic.registration`, started from the isometric solution; the
            only choice, and default, for ``"gw_then_hyperbolic"``). Not used by the other
            methods (must be None or "isometry" there).
        hidden: width of the deep map's hidden Mobius layer (``>= d``).
        deep_outer: Sinkhorn solves of the deep registration (epsilon annealed from
            ``deep_epsilon_start`` to ``epsilon``, relative to the std of the initial cost).
        deep_inner: optimizer steps per solve.
        deep_learning_rate: Adam / Riemannian Adam step size of the deep map.
        deep_epsilon_start: initial relative epsilon of the deep registration.
        deep_fit_steps: ``"gw_then_hyperbolic"``: steps fitting the map to GW's barycentric
            projection before the OT refinement.
        deep_loss: the deep registration's training loss, one of
            :data:`~jaxml.hyperbolic.registration.LOSSES`: ``"alternating"`` plan / map steps or
            gradient steps on the debiased Sinkhorn ``"divergence"`` (see
            :class:`~jaxml.hyperbolic.DeepRegistration`).
        init: for the deep registration only, a previous result on the same ``x, y`` to start
            from instead of recomputing it: a ``"hyperbolic_ot"`` result with an isometry
            (``registration="mlp"``) or a ``"gromov_wasserstein"`` result
            (``"gw_then_hyperbolic"``); its ``cost`` is then not recomputed (time the two calls
            together to time the pipeline).
        The deep registration runs ``num_restarts`` restarts (``vmap``; different MLP inits)
        and keeps the one with the lowest final transport cost among those that stayed finite.

    Returns:
        An :class:`AlignmentResult`.

    Raises:
        ValueError: unknown method, empty or non-2-D sets, mismatched dimensions (map-based
            methods), points outside the ball, or bad hyperparameters.
        RuntimeError: no restart ended with a finite transport cost and log-plan (GW: its one
            run; large sets: also when the refinement of the best restart is non-finite), e.g.
            ``d^power`` overflowing. Non-finite restarts are otherwise skipped, never returned.
    """
    check_choice(method, "method", METHODS)
    c = float(check_curvature(c))
    n, dx = check_point_set(x, "x", c)
    m, dy = check_point_set(y, "y", c)
    if method != "gromov_wasserstein" and dx != dy:
        raise ValueError(
            f"x and y must have the same dimension d for method {method!r}; got x: [{n}, {dx}], "
            f"y: [{m}, {dy}] (gromov_wasserstein accepts different dimensions)"
        )
    power = float(check_positive(power, "power"))
    if epsilon is None:
        epsilon = 0.005 if method == "gromov_wasserstein" else 0.01
    epsilon = float(check_positive(epsilon, "epsilon"))
    epsilon_start = float(check_positive(epsilon_start, "epsilon_start"))
    num_iters = check_int(num_iters, "num_iters", minimum=1)
    anneal_fraction = float(
        check_scalar(anneal_fraction, "anneal_fraction", minimum=0.0, maximum=1.0, min_open=True)
    )
    num_restarts = check_int(num_restarts, "num_restarts", minimum=1)
    restart_subsample = check_int(restart_subsample, "restart_subsample", minimum=2)
    center = check_bool(center, "center")
    translation_steps = check_int(translation_steps, "translation_steps", minimum=0)
    gw_iterations = check_int(gw_iterations, "gw_iterations", minimum=1)
    sinkhorn_threshold = float(check_positive(sinkhorn_threshold, "sinkhorn_threshold"))
    sinkhorn_max_iterations = check_int(
        sinkhorn_max_iterations, "sinkhorn_max_iterations", minimum=1
    )
    gw_sinkhorn_max_iterations = check_int(
        gw_sinkhorn_max_iterations, "gw_sinkhorn_max_iterations", minimum=1
    )
    deep = _deep_settings(
        method,
        registration,
        dx,
        c=c,
        power=power,
        epsilon=epsilon,
        hidden=hidden,
        deep_outer=deep_outer,
        deep_inner=deep_inner,
        deep_learning_rate=deep_learning_rate,
        deep_epsilon_start=deep_epsilon_start,
        deep_fit_steps=deep_fit_steps,
        deep_loss=deep_loss,
        sinkhorn_threshold=sinkhorn_threshold,
        sinkhorn_max_iterations=sinkhorn_max_iterations,
    )
    if init is not None:
        _check_init(init, method, deep, n, m)
    if deep is not None and key is None:
        raise ValueError(f"key (a PRNG key) is required for method {method!r}")
    if key is not None:
        check_key(key, "key")
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    dtype = jnp.result_type(x, y, jnp.float32)
    x, y = x.astype(dtype), y.astype(dtype)

    if method == "gw_then_hyperbolic" and init is not None:
        out = _deep_from_plan(deep, jax.random.split(key, num_restarts), x, y, init.plan)
        return _deep_result(deep, out, x, y, method)
    if method == "hyperbolic_ot" and init is not None:
        k_deep = jax.random.fold_in(key, 1)
        out = _deep_from_isometry(deep, jax.random.split(k_deep, num_restarts), init.mapping, x, y)
        return _deep_result(deep, out, x, y, method)
    if method in ("gromov_wasserstein", "gw_then_hyperbolic"):
        plan, log_plan, cost = _gromov_wasserstein(
            x,
            y,
            c=c,
            power=power,
            epsilon=epsilon,
            max_iterations=gw_iterations,
            sinkhorn_threshold=sinkhorn_threshold,
            sinkhorn_max_iterations=gw_sinkhorn_max_iterations,
        )
        _check_restarts(jnp.reshape(cost, (1,)), log_plan[None], "gromov_wasserstein")
        if deep is not None:
            out = _deep_from_plan(deep, jax.random.split(key, num_restarts), x, y, plan)
            return _deep_result(deep, out, x, y, method)
        return _result(
            plan=plan,
            log_plan=log_plan,
            mapping=None,
            mapped_x=None,
            cost=cost,
            restart_costs=jnp.reshape(cost, (1,)),
            method=method,
        )

    if key is None:
        raise ValueError(f"key (a PRNG key) is required for method {method!r}")
    cost_fn = PoincareCost(c, power) if method == "hyperbolic_ot" else costs.SqEuclidean()
    solver = RegistrationSolver(
        num_iters=num_iters,
        epsilon=epsilon,
        epsilon_start=epsilon_start,
        anneal_fraction=anneal_fraction,
        translation_steps=translation_steps,
        sinkhorn_threshold=sinkhorn_threshold,
        sinkhorn_max_iterations=sinkhorn_max_iterations,
    )
    mapping, mapped, plan, log_plan, cost, restart_costs = _register(
        AlignmentProblem(x, y, cost_fn),
        key,
        solver,
        num_restarts=num_restarts,
        restart_subsample=restart_subsample,
        center=center,
    )
    if deep is not None:
        k_deep = jax.random.fold_in(key, 1)
        out = _deep_from_isometry(deep, jax.random.split(k_deep, num_restarts), mapping, x, y)
        return _deep_result(deep, out, x, y, method)
    return _result(
        plan=plan,
        log_plan=log_plan,
        mapping=mapping,
        mapped_x=mapped,
        cost=cost,
        restart_costs=restart_costs,
        method=method,
    )


def align_precision(
    x: ArrayLike,
    y: ArrayLike,
    true_match: ArrayLike,
    method: str,
    seed: int,
    ks: tuple[int, ...] = (1, 10),
    **align_kwargs,
) -> dict[str, float]:
    """Aligns ``x`` to ``y`` and scores the plan: ``{"p_at_<k>" for k in ks, "seconds"}``.

    A host-side evaluation driver (it reads the scores back): ``align(x, y, method,
    key=jax.random.key(seed), **align_kwargs)``, then :func:`precision_at_k` of its log-plan
    against ``true_match`` (``[n]``, target index of each source point, -1 where unknown), and
    the wall time of both.
    """
    seed = check_int(seed, "seed", minimum=0)
    if np.ndim(x) >= 1 and np.shape(true_match) != (np.shape(x)[0],):  # before the alignment
        raise ValueError(
            f"true_match must have shape [n] = ({np.shape(x)[0]},) (one entry per row of x); "
            f"got {np.shape(true_match)}"
        )
    t0 = time.perf_counter()
    res = align(x, y, method, key=jax.random.key(seed), **align_kwargs)
    out = {f"p_at_{k}": float(precision_at_k(res.log_plan, true_match, k)) for k in ks}
    return {**out, "seconds": time.perf_counter() - t0}


def time_align(x: ArrayLike, y: ArrayLike, method: str, *, repeats: int = 2, **align_kwargs):
    """Times ``repeats`` identical :func:`align` calls (host-side driver).

    Returns ``{"first_seconds", "seconds", "cpu_seconds"}``: the wall time of the first call
    (compilation included) and the wall and process-CPU time of the last (compiled; with
    ``repeats = 1`` the same call).
    """
    repeats = check_int(repeats, "repeats", minimum=1)
    times = []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        jax.block_until_ready(align(x, y, method, **align_kwargs).log_plan)
        times.append((time.perf_counter() - w0, time.process_time() - c0))
    return {"first_seconds": times[0][0], "seconds": times[-1][0], "cpu_seconds": times[-1][1]}


COLUMNS = (
    "euclidean_procrustes",
    "gromov_wasserstein",
    "hyperbolic_ot",
    "oracle_isometry",
    "deep_hot",
    "gw_then_hot",
)
#: A short human-readable name per column (figure legends and reports).
COLUMN_LABELS = {
    "euclidean_procrustes": "Euclidean Procrustes-W",
    "gromov_wasserstein": "Gromov-Wasserstein",
    "hyperbolic_ot": "isometric HOT",
    "oracle_isometry": "oracle isometry (true pairs)",
    "deep_hot": "deep HOT (MLP)",
    "gw_then_hot": "GW then deep HOT",
}
#: Small alignment settings for smoke runs (``compare_methods`` / ``align`` keywords plus the deep
#: map's ``deep_*``): every matching figure's ``tiny`` scale and the hyperbolic tests use these
#: same values, so they share one set of compiled programs.
TINY_ALIGNMENT = {
    "dim": 3,
    "num_restarts": 4,
    "num_iters": 12,
    "gw_iterations": 20,
    "deep_restarts": 2,
    "deep_outer": 3,
    "deep_inner": 3,
    "deep_hidden": 4,
    "deep_fit_steps": 10,
}


def compare_methods(
    x: ArrayLike,
    y: ArrayLike,
    true_match: ArrayLike,
    seed: int,
    ks: tuple[int, ...] = (1, 10),
    columns: tuple[str, ...] = COLUMNS,
    deep_kwargs: dict | None = None,
    **align_kwargs,
) -> dict[str, dict]:
    """Scores every column of :data:`COLUMNS` on one pair of sets (host-side driver).

    ``"deep_hot"`` is ``align(..., "hyperbolic_ot", registration="mlp")`` started from the
    ``"hyperbolic_ot"`` (isometry) result, ``"gw_then_hot"`` is ``"gw_then_hyperbolic"`` started
    from the ``"gromov_wasserstein"`` result: each stage runs once and a pipeline's ``seconds``
    is the sum of its stages. ``"oracle_isometry"`` fits the isometry WITH the true pairs
    (:func:`~jaxml.hyperbolic.fit_isometry`) and ranks by distance: an upper bound for any
    isometry-based matcher. A deep registration whose restarts all diverge is reported as
    ``{"diverged": True, "error": ...}`` with NaN precisions, never scored.

    Args:
        x: ``[n, d]``; y: ``[m, d]``; true_match: ``[n]`` (-1 where unknown).
        seed: alignment seed (``jax.random.key(seed)``).
        ks: the precision@k to report.
        columns: a subset of :data:`COLUMNS`.
        deep_kwargs: extra :func:`align` arguments of the two deep columns.
        **align_kwargs: :func:`align` arguments shared by every method.

    Returns:
        ``{column: {"p_at_<k>": float, ..., "seconds": float, "diverged": bool}}``.
    """
    seed = check_int(seed, "seed", minimum=0)
    for col in columns:
        check_choice(col, "columns", COLUMNS)
    truth = np.asarray(true_match)
    deep_kwargs = dict(deep_kwargs or {})
    key = jax.random.key(seed)
    out, cache = {}, {}

    def score(log_plan, seconds):
        row = {f"p_at_{k}": float(precision_at_k(log_plan, truth, k)) for k in ks}
        return {**row, "seconds": seconds, "diverged": False}

    def timed(method, **kw):
        t0 = time.perf_counter()
        res = align(x, y, method, **kw)
        jax.block_until_ready(res.log_plan)
        return res, time.perf_counter() - t0

    needs = {
        "hyperbolic_ot": ("hyperbolic_ot", "deep_hot"),
        "gromov_wasserstein": ("gromov_wasserstein", "gw_then_hot"),
    }
    for base, users in needs.items():
        if any(u in columns for u in users):
            kw = dict(align_kwargs, key=key) if base == "hyperbolic_ot" else dict(align_kwargs)
            if base == "gromov_wasserstein":
                kw.pop("num_restarts", None)
                kw.pop("num_iters", None)
                kw.pop("restart_subsample", None)
            cache[base] = timed(base, **kw)
    if "euclidean_procrustes" in columns:
        kw = {k: v for k, v in align_kwargs.items() if k != "gw_iterations"}
        res, sec = timed("euclidean_procrustes", key=key, **kw)
        out["euclidean_procrustes"] = score(res.log_plan, sec)
    for base in ("gromov_wasserstein", "hyperbolic_ot"):
        if base in columns:
            out[base] = score(cache[base][0].log_plan, cache[base][1])
    if "oracle_isometry" in columns:
        t0 = time.perf_counter()
        xa, ya = jnp.asarray(x), jnp.asarray(y)
        known = truth >= 0
        iso = fit_isometry(xa[known], ya[truth[known]], align_kwargs.get("c", 1.0))
        scores = -poincare.pairwise_distance(apply_isometry(iso, xa), ya)
        out["oracle_isometry"] = score(scores, time.perf_counter() - t0)
    for col, method, base in (
        ("deep_hot", "hyperbolic_ot", "hyperbolic_ot"),
        ("gw_then_hot", "gw_then_hyperbolic", "gromov_wasserstein"),
    ):
        if col not in columns:
            continue
        kw = {
            k: v
            for k, v in align_kwargs.items()
            if k not in ("gw_iterations", "num_iters", "restart_subsample")
        }
        kw.update(deep_kwargs)
        try:
            res, sec = timed(method, key=key, registration="mlp", init=cache[base][0], **kw)
            out[col] = score(res.log_plan, sec + cache[base][1])
        except RuntimeError as e:  # every restart diverged: reported, not scored
            nan = {f"p_at_{k}": float("nan") for k in ks}
            out[col] = {**nan, "seconds": float("nan"), "diverged": True, "error": str(e)}
    return {col: out[col] for col in columns}
