"""Deep (non-isometric) registration of two hyperbolic point sets, trained end to end with OT.

The map is ``f(x) = z (+) g(z)``, ``z = T(x)``, with ``T`` a fixed ball :class:`Isometry` (the
initial registration: the isometric hyperbolic-OT solution, or the isometry fitted to a GW
plan's barycentric projection) and ``g`` a :class:`~jaxml.hyperbolic.nn.HyperbolicMLP`
``d -> hidden -> d`` whose output starts near 0. ``z (+) g(z)`` moves each point by exactly
the hyperbolic distance ``d(0, g(z))`` (left Mobius translations are isometries), so the residual
is well conditioned even for points near the boundary, where small ambient moves are long
hyperbolic ones. This corrects local, non-linear differences such as branch permutations, which
no isometry can (Alvarez-Melis, Mroueh & Jaakkola 2020, Sec. 5).

Training (:meth:`DeepRegistration.run`, pure, jit/vmap-able) has two losses, chosen by
``DeepRegistration.loss``:

* ``"alternating"`` (default): ``num_outer`` entropic OT solves (``solve_sinkhorn``, warm-started
  potentials, epsilon annealed geometrically), each followed by ``inner_steps`` optimizer steps
  (Adam on the kernels, Riemannian Adam on the Mobius biases) with the plan ``P`` held fixed, on
  the plan's barycentric targets (``inner_loss="barycentric"``) or on ``<P, C(f_theta(x), y)>``
  (``"plan"``). By the envelope theorem ``grad_theta OT_eps(f_theta(x), y) = <P*, grad_theta
  C>``, so each first ``"plan"`` step is an exact gradient step on the entropic OT cost, at the
  price of one Sinkhorn solve per ``inner_steps`` updates and no differentiation through
  Sinkhorn.
* ``"divergence"``: every one of the ``num_outer * inner_steps`` steps is a gradient step on the
  debiased Sinkhorn divergence ``S_eps(f(x), y) = OT_eps(f(x), y) - OT_eps(f(x), f(x)) / 2``
  (Feydy et al. 2019; the ``y, y`` term is constant in ``theta``), computed by
  :func:`ott.tools.sinkhorn_divergence.sinkhorn_divergence` with two Sinkhorn solves per step and
  its gradient by ott's implicit differentiation through the solves.

Which one is the default was decided by measurement (docs/hyperbolic.md, "Loss choice").
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike
from ott.geometry import pointcloud
from ott.solvers.linear import implicit_differentiation
from ott.tools.sinkhorn_divergence import sinkhorn_divergence

from jaxml._validation import (
    check_array,
    check_choice,
    check_int,
    check_key,
    check_positive,
    check_scalar,
)
from jaxml.hyperbolic import poincare
from jaxml.hyperbolic._checks import check_points
from jaxml.hyperbolic.cost import PoincareCost, solve_sinkhorn
from jaxml.hyperbolic.isometry import Isometry, compose_isometries
from jaxml.hyperbolic.nn import HyperbolicMLP, ball_param_labels
from jaxml.hyperbolic.radam import riemannian_adam

__all__ = [
    "LOSSES",
    "DeepMap",
    "DeepRegistration",
    "DeepRegistrationOutput",
    "DeepRestarts",
    "apply_deep_map",
    "barycentric_targets",
    "register_from_isometry",
    "register_from_plan",
]


LOSSES = ("alternating", "divergence")


class DeepMap(NamedTuple):
    """``f(x) = T(x) (+) g(T(x))``.

    Attributes:
        isometry: the initial registration ``T``.
        params: the flax variables of ``g`` (a ``HyperbolicMLP``; its layer sizes are read from
            the kernels' shapes).
    """

    isometry: Isometry
    params: dict


def _mlp_of(params, c) -> HyperbolicMLP:
    layers = params["params"]
    return HyperbolicMLP(
        tuple(layers[f"layer_{i}"]["kernel"].shape[1] for i in range(len(layers))), c=c
    )


def _apply(mapping: DeepMap, x: jax.Array, c: float) -> jax.Array:
    iso = mapping.isometry
    z = poincare.mobius_add(iso.translation, x @ iso.rotation.T, c)
    return poincare.mobius_add(z, _mlp_of(mapping.params, c).apply(mapping.params, z), c)


def apply_deep_map(mapping: DeepMap, x: ArrayLike, c: float = 1.0) -> jax.Array:
    """``f(x)`` for ``[..., d]`` points (traceable; :func:`~jaxml.hyperbolic.align`'s
    ``apply_map`` validates and calls this)."""
    return _apply(mapping, jnp.asarray(x), c)


def barycentric_targets(plan: jax.Array, y: jax.Array, c: float = 1.0) -> jax.Array:
    """``[n, d]``: per row of ``plan [n, m]``, the Lorentzian centroid of ``y [m, d]`` weighted
    by that row (the plan's barycentric projection, in the ball)."""
    h = poincare.to_hyperboloid(y, c)
    s = plan @ h
    minkowski = s[:, :1] ** 2 - jnp.sum(s[:, 1:] ** 2, axis=1, keepdims=True)
    s = s / (jnp.sqrt(c) * jnp.sqrt(jnp.maximum(minkowski, jnp.finfo(s.dtype).tiny)))
    return poincare.from_hyperboloid(s, c)


class DeepRegistrationOutput(NamedTuple):
    """``params`` of ``g``, the last solve's potentials ``f, g``, its ``cost`` ``<P, C>``, and the
    per-outer-step ``losses`` ``[num_outer]`` (non-finite: the run diverged)."""

    params: dict
    f: jax.Array
    g: jax.Array
    cost: jax.Array
    losses: jax.Array


@dataclasses.dataclass(frozen=True)
class DeepRegistration:
    """End-to-end OT training of :class:`DeepMap` (see the module docstring for both losses).

    Hashable (a valid ``static_argnames`` argument); ``init``/``fit_targets``/``run`` are pure.

    Attributes:
        hidden: width of the hidden Mobius layer (``>= d``: narrower maps cannot be invertible).
        num_outer: Sinkhorn solves.
        inner_steps: optimizer steps per solve.
        learning_rate: of Adam (kernels) and Riemannian Adam (biases).
        epsilon: final entropic regularization, relative to the cost scale.
        epsilon_start: initial relative epsilon of the geometric annealing.
        init_scale: std of the last kernel at init (``g`` starts near 0, ``f`` near ``T``).
        fit_steps: steps of :meth:`fit_targets` (regression on barycentric targets).
        power: the cost is ``d^power``.
        c: curvature magnitude.
        sinkhorn_threshold, sinkhorn_max_iterations: of each Sinkhorn solve.
        inner_loss: ``"barycentric"`` or ``"plan"``, the map loss of ``loss="alternating"``.
        loss: one of :data:`LOSSES`, ``"alternating"`` plan/map steps or gradient steps on the
            debiased Sinkhorn ``"divergence"`` (implicit differentiation through ott).
    """

    hidden: int = 32
    num_outer: int = 10
    inner_steps: int = 10
    learning_rate: float = 0.01
    epsilon: float = 0.01
    epsilon_start: float = 0.1
    init_scale: float = 0.01
    fit_steps: int = 100
    power: float = 2.0
    c: float = 1.0
    sinkhorn_threshold: float = 1e-3
    sinkhorn_max_iterations: int = 300
    inner_loss: str = "barycentric"
    loss: str = "alternating"

    def __post_init__(self):
        check_choice(self.loss, "loss", LOSSES)
        check_choice(self.inner_loss, "inner_loss", ("barycentric", "plan"))
        check_int(self.hidden, "hidden", minimum=1)
        check_int(self.num_outer, "num_outer", minimum=1)
        check_int(self.inner_steps, "inner_steps", minimum=1)
        check_positive(self.learning_rate, "learning_rate")
        check_positive(self.epsilon, "epsilon")
        check_positive(self.epsilon_start, "epsilon_start")
        check_scalar(self.init_scale, "init_scale", minimum=0.0)
        check_int(self.fit_steps, "fit_steps", minimum=0)
        check_positive(self.power, "power")
        check_positive(self.c, "c")
        check_positive(self.sinkhorn_threshold, "sinkhorn_threshold")
        check_int(self.sinkhorn_max_iterations, "sinkhorn_max_iterations", minimum=1)

    def _optimizer(self, params):
        return optax.multi_transform(
            {
                "ball": riemannian_adam(self.learning_rate, c=self.c),
                "euclidean": optax.adam(self.learning_rate),
            },
            ball_param_labels(params),
        )

    def init(self, key: jax.Array, d: int, dtype=jnp.float32) -> dict:
        """Variables of ``g`` (``d -> hidden -> d``), the last kernel ``N(0, init_scale^2)``."""
        if self.hidden < d:
            raise ValueError(
                f"hidden must be >= d = {d} for the registration map to be invertible; got "
                f"hidden = {self.hidden}"
            )
        mlp = HyperbolicMLP(
            (self.hidden, d),
            c=self.c,
            last_kernel_init=nn.initializers.normal(self.init_scale),
        )
        return mlp.init(key, jnp.zeros((1, d), dtype))

    def _cost(self, a, b):
        return poincare.pairwise_distance(a, b, self.c) ** self.power

    def _steps(self, params, isometry, loss_fn, num_steps):
        opt = self._optimizer(params)

        def step(carry, _):
            params, state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, state = opt.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), loss

        (params, _), losses = jax.lax.scan(step, (params, opt.init(params)), None, num_steps)
        return params, losses

    def fit_targets(self, params: dict, isometry: Isometry, x: jax.Array, targets: jax.Array):
        """``fit_steps`` steps on ``sum_i d(f(x_i), t_i)^power`` (fit ``f`` to a plan's
        barycentric projection ``targets [n, d]``). Returns ``(params, losses [fit_steps])``."""

        def loss(p):
            fx = _apply(DeepMap(isometry, p), x, self.c)
            return jnp.mean(poincare.distance(fx, targets, self.c) ** self.power)

        return self._steps(params, isometry, loss, self.fit_steps)

    def _sinkhorn(self, cost, eps, init):
        return solve_sinkhorn(
            cost,
            eps,
            init,
            threshold=self.sinkhorn_threshold,
            max_iterations=self.sinkhorn_max_iterations,
        )

    def epsilons(self, scale: ArrayLike, dtype=jnp.float32) -> jax.Array:
        """``[num_outer]`` absolute epsilons, geometric from ``epsilon_start`` to ``epsilon``
        times ``scale``."""
        t = jnp.linspace(0.0, 1.0, self.num_outer, dtype=dtype)
        return scale * self.epsilon_start * (self.epsilon / self.epsilon_start) ** t

    def run(
        self, params: dict, isometry: Isometry, x: jax.Array, y: jax.Array, epsilons: jax.Array
    ) -> DeepRegistrationOutput:
        """``len(epsilons)`` rounds of (Sinkhorn solve, ``inner_steps`` map steps), then a last
        solve at ``epsilons[-1]`` for the returned potentials and cost."""
        n, m = x.shape[0], y.shape[0]
        if self.loss == "divergence":
            return self._run_divergence(params, isometry, x, y, epsilons)

        def outer(carry, eps):
            params, f, g = carry
            cost = self._cost(_apply(DeepMap(isometry, params), x, self.c), y)
            out = self._sinkhorn(cost, eps, (f, g))
            plan = jax.lax.stop_gradient(out.matrix)

            if self.inner_loss == "plan":

                def loss(p):
                    return jnp.sum(plan * self._cost(_apply(DeepMap(isometry, p), x, self.c), y))

            else:
                targets = barycentric_targets(plan * n, y, self.c)

                def loss(p):
                    fx = _apply(DeepMap(isometry, p), x, self.c)
                    return jnp.mean(poincare.distance(fx, targets, self.c) ** self.power)

            params, losses = self._steps(params, isometry, loss, self.inner_steps)
            return (params, out.f, out.g), losses[0]

        init = (params, jnp.zeros((n,), x.dtype), jnp.zeros((m,), x.dtype))
        (params, f, g), losses = jax.lax.scan(outer, init, epsilons)
        cost = self._cost(_apply(DeepMap(isometry, params), x, self.c), y)
        out = self._sinkhorn(cost, epsilons[-1], (f, g))
        return DeepRegistrationOutput(params, out.f, out.g, jnp.sum(out.matrix * cost), losses)

    def divergence(self, params: dict, isometry: Isometry, x, y, epsilon) -> jax.Array:
        """The debiased Sinkhorn divergence ``S_eps(f(x), y)`` without its constant ``y, y``
        term (differentiable in ``params`` by implicit differentiation through ott)."""
        fx = _apply(DeepMap(isometry, params), x, self.c)
        div, _ = sinkhorn_divergence(
            pointcloud.PointCloud,
            fx,
            y,
            cost_fn=PoincareCost(self.c, self.power),
            epsilon=epsilon,
            static_b=True,
            solve_kwargs=dict(
                threshold=self.sinkhorn_threshold,
                max_iterations=self.sinkhorn_max_iterations,
                implicit_diff=implicit_differentiation.ImplicitDiff(),
            ),
        )
        return div

    def _run_divergence(self, params, isometry, x, y, epsilons):
        opt = self._optimizer(params)

        def outer(carry, eps):
            def step(carry, _):
                params, state = carry
                loss, grads = jax.value_and_grad(self.divergence)(params, isometry, x, y, eps)
                updates, state = opt.update(grads, state, params)
                return (optax.apply_updates(params, updates), state), loss

            carry, losses = jax.lax.scan(step, carry, None, self.inner_steps)
            return carry, losses[0]

        (params, _), losses = jax.lax.scan(outer, (params, opt.init(params)), epsilons)
        cost = self._cost(_apply(DeepMap(isometry, params), x, self.c), y)
        n, m = x.shape[0], y.shape[0]
        zeros = (jnp.zeros((n,), x.dtype), jnp.zeros((m,), x.dtype))
        out = self._sinkhorn(cost, epsilons[-1], zeros)
        return DeepRegistrationOutput(params, out.f, out.g, jnp.sum(out.matrix * cost), losses)

    def transport(self, mapping: DeepMap, x, y, f, g, epsilon):
        """``(plan, log_plan, cost)`` of potentials ``(f, g)`` with the map's cost matrix."""
        cost = self._cost(_apply(mapping, x, self.c), y)
        log_plan = (f[:, None] + g[None, :] - cost) / epsilon
        plan = jnp.exp(log_plan)
        return plan, log_plan, jnp.sum(plan * cost)


class DeepRestarts(NamedTuple):
    """What :func:`register_from_isometry` / :func:`register_from_plan` return.

    Attributes:
        isometry: the initial registration ``T`` shared by the restarts.
        runs: a :class:`DeepRegistrationOutput` with a leading restart axis ``[R, ...]``.
        epsilons: ``[num_outer]`` the absolute epsilons used (the plan is at ``epsilons[-1]``).
        fit_loss: ``[R]`` the last barycentric-fit loss (0 when there was no fit).
    """

    isometry: Isometry
    runs: DeepRegistrationOutput
    epsilons: jax.Array
    fit_loss: jax.Array


def _check_inputs(reg, keys, x, y, isometry=None, plan=None):
    """Shape and type checks (trace-safe; values are checked by the eager driver ``align``)."""
    if not isinstance(reg, DeepRegistration):
        raise TypeError(f"reg must be a DeepRegistration; got {type(reg).__name__}")
    check_key(keys, "keys")
    if jnp.ndim(keys) != 1:
        raise ValueError(f"keys must be a 1-D array of PRNG keys [R]; got shape {jnp.shape(keys)}")
    shape = check_points(x, "x", reg.c)
    if len(shape) != 2:
        raise ValueError(f"x must be [n, d]; got shape {shape}")
    n, d = shape
    if jnp.ndim(y) != 2 or jnp.shape(y)[1] != d:
        raise ValueError(f"y must be [m, d] with d = {d}; got shape {jnp.shape(y)}")
    check_points(y, "y", reg.c)
    if reg.hidden < d:
        raise ValueError(f"reg.hidden must be >= d = {d} for an invertible map; got {reg.hidden}")
    if isometry is not None and not isinstance(isometry, Isometry):
        raise TypeError(f"isometry must be an Isometry; got {type(isometry).__name__}")
    if isometry is not None and jnp.shape(isometry.rotation) != (d, d):
        raise ValueError(f"isometry acts on {jnp.shape(isometry.rotation)}, x has d = {d}")
    if plan is not None:
        check_array(plan, "plan", shape=(n, jnp.shape(y)[0]), dtype="real")


def _restarts(reg: DeepRegistration, keys, isometry, x, y, targets):
    z = poincare.mobius_add(isometry.translation, x @ isometry.rotation.T, reg.c)
    scale = jnp.maximum(jnp.std(reg._cost(z, y)), jnp.finfo(x.dtype).tiny)
    eps = reg.epsilons(scale, x.dtype)

    def one(k):
        params = reg.init(k, x.shape[1], x.dtype)
        fit_loss = jnp.zeros([], x.dtype)
        if targets is not None and reg.fit_steps > 0:
            params, fit_losses = reg.fit_targets(params, isometry, x, targets)
            fit_loss = fit_losses[-1]
        return reg.run(params, isometry, x, y, eps), fit_loss

    runs, fit_loss = jax.vmap(one)(keys)
    return DeepRestarts(isometry, runs, eps, fit_loss)


def register_from_isometry(
    reg: DeepRegistration, keys: jax.Array, isometry: Isometry, x: jax.Array, y: jax.Array
) -> DeepRestarts:
    """Deep registration starting at ``f = T`` (``g ~ 0``), one restart per key (``vmap``).

    Pure (jit it with ``reg`` static). Args: ``keys [R]``, ``isometry`` ``T``, ``x [n, d]``,
    ``y [m, d]``. The epsilons are relative to the std of ``C(T(x), y)``.
    """
    _check_inputs(reg, keys, x, y, isometry=isometry)
    return _restarts(reg, keys, isometry, x, y, None)


def register_from_plan(
    reg: DeepRegistration, keys: jax.Array, x: jax.Array, y: jax.Array, plan: jax.Array
) -> DeepRestarts:
    """Deep registration initialized from a plan ``[n, m]`` (e.g. Gromov-Wasserstein's).

    ``t = barycentric_targets(plan / row sums)``; ``T`` the isometry fitted to ``x_i -> t_i``
    (centroids + tangent Procrustes, as :func:`~jaxml.hyperbolic.fit_isometry`); each restart
    fits ``g`` to ``t`` (``fit_steps`` steps) and then runs :meth:`DeepRegistration.run`. Pure.
    """
    _check_inputs(reg, keys, x, y, plan=plan)
    c = reg.c
    rows = jnp.maximum(jnp.sum(plan, axis=1, keepdims=True), jnp.finfo(plan.dtype).tiny)
    targets = barycentric_targets(plan / rows, y, c)
    mx, mt = poincare.centroid(x, c=c), poincare.centroid(targets, c=c)
    lx = poincare.logmap0(poincare.mobius_add(-mx, x, c), c)
    lt = poincare.logmap0(poincare.mobius_add(-mt, targets, c), c)
    u, _, vt = jnp.linalg.svd(lt.T @ lx)
    w = u @ vt
    # T(x) = mt (+) W((-mx) (+) x), written as one a (+) (W' x).
    eye = jnp.eye(x.shape[1], dtype=x.dtype)
    inner = compose_isometries(Isometry(w, jnp.zeros_like(mx)), Isometry(eye, -mx), c)
    iso = compose_isometries(Isometry(eye, mt), inner, c)
    return _restarts(reg, keys, iso, x, y, targets)
