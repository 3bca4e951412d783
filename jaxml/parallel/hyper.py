"""Hypergradients of data-parallel DC-S3GD training: loss hyperparameters and DC's ``lambda``.

Two kinds of hyperparameters, two ways to differentiate (Lorraine et al. 2020; Rigazzi 2019):

- **Loss hyperparameters** (e.g. per-layer log weight decays in the training loss): the IFT at
  the trained weights ``w*``, ``dL_V/dh = d_h L_V - d_w L_V H^{-1} d2L_T/dw dh``
  (:func:`data_parallel_hypergradient`). Stale DC-S3GD's fixed points are the stationary points of
  the training loss (at a fixed point ``w_t = w_{t-tau}`` and the all-reduced gradient is zero), so
  the IFT of the *loss* applies unchanged. Every device holds one shard of the global batch; the
  validation gradient, each Hessian-vector product and the final vector-Jacobian product are
  local and then averaged over the mesh axis with ``lax.pmean``. By linearity of the mean over
  equal shards this is exactly the single-device hypergradient of the global batch
  (:func:`jaxml.implicit.hypergradient`), up to float rounding.
- **DC's compensation strength** ``lambda`` (a hyperparameter of the *optimizer*, not of the
  loss): the compensation term ``lambda G (.) G (.) (w_t - w_{t-tau})`` vanishes at every fixed
  point of the DC-S3GD map, so the fixed point does not depend on ``lambda`` and the IFT
  hypergradient through the update map's fixed point is exactly zero: it carries no signal.
  ``lambda`` only shapes the trajectory, so we differentiate the trajectory: truncated unrolled
  differentiation over the last ``K`` DC steps (the state ``K`` steps back, including the ring
  buffers, is held constant; Shaban et al. 2019's truncated back-propagation), in **forward
  mode** (one ``jax.jvp`` along ``log lambda``): ``lambda`` is one scalar, so forward mode is
  exact, costs about one extra forward pass per step and stores nothing, where reverse mode
  would keep ``K`` steps of activations. Forward mode also crosses the all-reduce inside DC-S3GD
  without ambiguity (the tangent of ``pmean`` is the ``pmean`` of tangents). A short horizon
  favours greedy choices (Wu et al. 2018): the figure compares against a grid of ``lambda``.

:func:`traced_dc_s3gd` is the stale rule of :func:`~jaxml.parallel.dc_s3gd.dc_s3gd` with
``lambda`` as a (possibly traced) array, so that it can be differentiated; with the same
``lambda`` it gives the same updates and uses the same :class:`DCS3GDState`.
:func:`dc_bilevel` puts the two together in an ``(init, update)`` pair like
:func:`jaxml.implicit.bilevel`, written per device: run it under ``shard_map``/``pmap``/``vmap``
binding ``axis_name`` (or with ``axis_name=None`` on one device).
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from jaxml import _validation as v
from jaxml.implicit import Bilevel, BilevelState, neumann_inverse_hvp, tree_norm, tree_vdot
from jaxml.parallel._checks import check_axis_name, check_learning_rate
from jaxml.parallel.compensation import delay_compensation
from jaxml.parallel.dc_s3gd import DCS3GDState, _read, _write, dc_s3gd
from jaxml.train import optax_scan

__all__ = ["data_parallel_hypergradient", "dc_bilevel", "dc_lambda_hypergradient", "traced_dc_s3gd"]

PyTree = Any


def _pmean(tree: PyTree, axis_name: Any) -> PyTree:
    return tree if axis_name is None else jax.lax.pmean(tree, axis_name)


def _check_lam(lam: Any) -> None:
    v.check_nonnegative(lam, "lam")  # a traced scalar passes (no value yet)


def traced_dc_s3gd(
    learning_rate: float, lam: Any, staleness: int = 1, *, axis_name: Any = None
) -> optax.GradientTransformation:
    """DC-S3GD's stale rule (flattened state, no momentum) with a differentiable ``lambda``.

    ``w_{t+1} = w_t - eta * [G_{t-tau} + lam * G_{t-tau} (.) G_{t-tau} (.) (w_t - w_{t-tau})]``
    with ``G_s = pmean_k g_s^k`` (no update during the first ``tau`` steps); see
    :mod:`jaxml.parallel.dc_s3gd`. Invariant: for a concrete ``lam`` the updates and states equal
    those of ``dc_s3gd(learning_rate, lam, staleness, axis_name=axis_name)``.

    Args:
        learning_rate: ``eta > 0`` (a float or scalar array).
        lam: ``lambda >= 0``, a scalar; may be a tracer (e.g. ``exp`` of a hyperparameter).
        staleness: ``tau >= 1``.
        axis_name: the workers' mapped axis; None for one worker.

    Returns:
        An ``optax.GradientTransformation`` with state :class:`DCS3GDState` ([tau, P] buffers).

    Raises:
        ValueError: ``learning_rate <= 0``, a concrete ``lam < 0`` / NaN / not 0-d,
            ``staleness < 1``. TypeError: a schedule as ``learning_rate``, a non-number ``lam``,
            a bad ``axis_name``.
    """
    check_learning_rate(learning_rate)
    if callable(learning_rate):
        raise TypeError("learning_rate must be a number here, not a schedule")
    _check_lam(lam)
    tau = v.check_int(staleness, "staleness", minimum=1)
    axis_name = check_axis_name(axis_name)
    init_fn = dc_s3gd(learning_rate, 0.0, tau, axis_name=axis_name).init  # the same layout

    def update_fn(updates, state: DCS3GDState, params=None):
        if params is None:
            raise ValueError("params is required: call update(grads, state, params)")
        local, unravel = ravel_pytree(updates)
        flat = ravel_pytree(params)[0]
        issued = _pmean(local, axis_name)
        slot = state.count % tau
        arrived = _read(state.grads, slot, tau)
        arrived_at = _read(state.params, slot, tau)
        corrected = delay_compensation(arrived, flat, arrived_at, lam)
        direction = jnp.where(state.count >= tau, corrected, jnp.zeros_like(corrected))
        new_state = state._replace(
            count=optax.safe_int32_increment(state.count),
            grads=_write(state.grads, slot, issued),
            params=_write(state.params, slot, flat),
        )
        return unravel(-learning_rate * direction), new_state

    return optax.GradientTransformation(init_fn, update_fn)


def _check_losses(train_loss: Any, val_loss: Any) -> None:
    v.check_callable(train_loss, "train_loss")
    v.check_callable(val_loss, "val_loss")


def data_parallel_hypergradient(
    train_loss: Callable[..., jax.Array],
    val_loss: Callable[..., jax.Array],
    params: PyTree,
    hparams: PyTree,
    *,
    axis_name: Any,
    num_terms: int = 5,
    alpha: float = 0.1,
    train_args: tuple = (),
    val_args: tuple = (),
) -> tuple[PyTree, dict[str, jax.Array]]:
    """The IFT hypergradient (Neumann inverse) of the global batch, all-reduced over ``axis_name``.

    Per device ``k`` with shards ``train_args^k``, ``val_args^k``: ``v1 = pmean(d_w L_V^k)``,
    ``direct = pmean(d_h L_V^k)``, ``v2 = alpha sum_j (I - alpha H)^j v1`` with every ``H u =
    pmean(H^k u)`` all-reduced, ``v3 = pmean(d_h <d_w L_T^k, v2>)``; returns ``direct - v3``.
    Invariant: equals ``jaxml.implicit.hypergradient(..., method="neumann")`` on the
    concatenated global batch when the shards have equal size (every loss is a mean).

    Args:
        train_loss: ``train_loss(params, hparams, *train_args) -> scalar`` (a mean over rows).
        val_loss: ``val_loss(params, hparams, *val_args) -> scalar``.
        params, hparams: pytrees (replicated: the same on every device).
        axis_name: the mapped axis, or None on one device (then no all-reduce).
        num_terms: Neumann terms ``>= 0``.
        alpha: Neumann step ``> 0`` (the inner learning rate).
        train_args, val_args: this device's shards.

    Returns:
        ``(hypergradient like hparams, {"val_loss", "diverged"})``; ``val_loss`` is the mean
        over devices; ``diverged`` flags a growing Neumann series or a non-finite result.

    Raises:
        TypeError: a non-callable loss, ``train_args``/``val_args`` not a tuple, a bad
            ``axis_name``. ValueError: ``num_terms < 0``, ``alpha <= 0``.
    """
    _check_losses(train_loss, val_loss)
    axis_name = check_axis_name(axis_name)
    num_terms = v.check_int(num_terms, "num_terms", minimum=0)
    v.check_positive(alpha, "alpha")
    for name, args in (("train_args", train_args), ("val_args", val_args)):
        if not isinstance(args, tuple | list):
            raise TypeError(f"{name} must be a tuple of arrays; got {type(args).__name__}")

    val, (v1, direct) = jax.value_and_grad(val_loss, argnums=(0, 1))(params, hparams, *val_args)
    val, v1, direct = _pmean((val, v1, direct), axis_name)

    def grad_w(p, h):
        return jax.grad(train_loss)(p, h, *train_args)

    # Products as gradients of <grad_w, u> (reverse over reverse): ``u`` is all-reduced (the same
    # on every device) while the local gradient varies over the axis; an inner product mixes
    # them freely under shard_map, where a JVP would need primal and tangent of one kind.
    def hvp(u):
        return _pmean(jax.grad(lambda p: tree_vdot(grad_w(p, hparams), u))(params), axis_name)

    v2, inv = neumann_inverse_hvp(hvp, v1, num_terms, alpha, return_info=True)
    v3 = jax.grad(lambda h: tree_vdot(grad_w(params, h), v2))(hparams)
    hg = jax.tree.map(lambda d, m: d - m, direct, _pmean(v3, axis_name))
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(hg)]))
    return hg, {"val_loss": val, "diverged": inv.diverged | ~finite}


def dc_lambda_hypergradient(
    train_loss: Callable[..., jax.Array],
    val_loss: Callable[..., jax.Array],
    params: PyTree,
    opt_state: DCS3GDState,
    hparams: PyTree,
    log_lam: jax.Array,
    train_batches: tuple,
    val_args: tuple = (),
    *,
    learning_rate: float,
    staleness: int = 1,
    axis_name: Any = None,
):
    """``d L_V(w_K) / d log lambda`` through ``K`` DC-S3GD steps, by forward mode (one JVP).

    ``w_K`` comes from ``K = len(train_batches[0])`` steps of :func:`traced_dc_s3gd` with
    ``lambda = exp(log_lam)`` from ``(params, opt_state)`` (held constant: truncated unrolling);
    ``L_V`` is averaged over the devices.

    Args:
        train_loss, val_loss: as in :func:`data_parallel_hypergradient`.
        params, opt_state: the weights and DC state ``K`` steps before the end.
        hparams: the loss hyperparameters (not differentiated here).
        log_lam: scalar ``log lambda``.
        train_batches: tuple of arrays ``[K, b, ...]`` (this device's shards).
        val_args: this device's validation shard.
        learning_rate, staleness, axis_name: of the DC rule.

    Returns:
        ``(d_log_lam, val_loss, params_K, opt_state_K, train_losses [K])``: the derivative and
        the mean validation loss are device-invariant scalars.

    Raises:
        TypeError: a non-callable loss, empty or non-tuple ``train_batches``, non-tuple
            ``val_args``. ValueError: a non-scalar or NaN ``log_lam``, a bad ``learning_rate``
            or ``staleness``.
    """
    _check_losses(train_loss, val_loss)
    if not isinstance(train_batches, tuple | list) or not jax.tree.leaves(train_batches):
        raise TypeError("train_batches must be a non-empty tuple of arrays [K, b, ...]")
    if not isinstance(val_args, tuple | list):
        raise TypeError(f"val_args must be a tuple of arrays; got {type(val_args).__name__}")
    v.check_scalar(log_lam, "log_lam")
    check_learning_rate(learning_rate)
    v.check_int(staleness, "staleness", minimum=1)
    axis_name = check_axis_name(axis_name)

    def tail(ll):
        opt = traced_dc_s3gd(learning_rate, jnp.exp(ll), staleness, axis_name=axis_name)
        res = optax_scan(
            lambda p, *b: train_loss(p, hparams, *b),
            opt,
            params,
            opt_state,
            batches=tuple(train_batches),
        )
        val = _pmean(val_loss(res.params, hparams, *val_args), axis_name)
        return val, (res.params, res.opt_state, res.losses)

    log_lam = jnp.asarray(log_lam)
    val, d_lam, (w, s, losses) = jax.jvp(tail, (log_lam,), (log_lam * 0 + 1,), has_aux=True)
    return d_lam, val, w, s, losses


def dc_bilevel(
    train_loss: Callable[..., jax.Array],
    val_loss: Callable[..., jax.Array],
    outer_optimizer: optax.GradientTransformation,
    *,
    learning_rate: float,
    staleness: int = 1,
    unroll_steps: int = 5,
    num_terms: int = 5,
    axis_name: Any = None,
    lam_key: str = "log_lam",
) -> Bilevel:
    """The bilevel loop with data-parallel DC-S3GD inside; ``hparams[lam_key]`` is log lambda.

    ``update(state, train_batches, val_args)`` (per device; batches ``[T, b, ...]``): ``T - K``
    DC steps, then ``K = unroll_steps`` DC steps differentiated along ``log lambda``
    (:func:`dc_lambda_hypergradient`), then the IFT hypergradient of every other hyperparameter
    at the new weights on the last batch (:func:`data_parallel_hypergradient`, Neumann step =
    the learning rate), then one ``outer_optimizer`` step on ``hparams`` (a dict; the losses get
    the whole dict). A diverged or non-finite hypergradient is not applied (``info["skipped"]``).
    ``update(..., tune_lambda=False)`` zeroes the lambda entry of the hypergradient (grid runs of
    a fixed lambda); it may be a traced bool, so that one compiled program serves both.

    Args:
        train_loss: ``train_loss(params, hparams, *batch) -> scalar``, a mean over the rows.
        val_loss: ``val_loss(params, hparams, *val_args) -> scalar``.
        outer_optimizer: optax transform of ``hparams`` (e.g. Adam).
        learning_rate: DC-S3GD's ``eta`` (also the Neumann step).
        staleness: DC-S3GD's ``tau >= 1``.
        unroll_steps: ``K >= 1``, the DC steps differentiated along ``log lambda``.
        num_terms: Neumann terms of the IFT.
        axis_name: the mapped device axis, None on one device.
        lam_key: the key of ``log lambda`` in ``hparams``.

    Returns:
        :class:`jaxml.implicit.Bilevel`; ``init(params, hparams)`` builds a
        :class:`jaxml.implicit.BilevelState` whose inner state is a :class:`DCS3GDState`;
        ``update`` returns ``(state, info)`` with ``info`` = ``train_loss``, ``val_loss``
        (device means), ``hypergrad`` (like ``hparams``), ``hypergrad_norm``, ``skipped``.

    Raises:
        TypeError/ValueError: a bad argument, named; from ``init``, ``hparams`` without a
        finite scalar at ``lam_key``; from ``update``, fewer than ``unroll_steps`` batches.
    """
    _check_losses(train_loss, val_loss)
    v.check_optimizer(outer_optimizer, "outer_optimizer")
    check_learning_rate(learning_rate)
    staleness = v.check_int(staleness, "staleness", minimum=1)
    unroll = v.check_int(unroll_steps, "unroll_steps", minimum=1)
    num_terms = v.check_int(num_terms, "num_terms", minimum=0)
    axis_name = check_axis_name(axis_name)
    v.check_str(lam_key, "lam_key")

    def lam_of(hparams):
        if not isinstance(hparams, dict) or lam_key not in hparams:
            raise ValueError(f"hparams must be a dict with the scalar log lambda at {lam_key!r}")
        return hparams[lam_key]

    def init(params, hparams) -> BilevelState:
        v.check_scalar(lam_of(hparams), f"hparams[{lam_key!r}]")
        opt = traced_dc_s3gd(learning_rate, 0.0, staleness, axis_name=axis_name)
        zero = jnp.zeros((), jnp.int32)
        return BilevelState(
            params, hparams, opt.init(params), outer_optimizer.init(hparams), zero, zero
        )

    def update(state: BilevelState, train_batches: tuple, val_args: tuple = (), tune_lambda=True):
        if not isinstance(state, BilevelState):
            raise TypeError(f"state must be a BilevelState; got {type(state).__name__}")
        if not isinstance(train_batches, tuple | list) or not jax.tree.leaves(train_batches):
            raise TypeError("train_batches must be a non-empty tuple of arrays [T, b, ...]")
        num = jnp.shape(jax.tree.leaves(train_batches)[0])[0]
        if num < unroll:
            raise ValueError(f"train_batches has T={num} steps, fewer than unroll_steps={unroll}")
        hp = state.hparams
        log_lam = lam_of(hp)
        loss = lambda p, *b: train_loss(p, hp, *b)  # noqa: E731
        params, inner = state.params, state.inner_opt_state
        if num > unroll:
            head = tuple(jax.tree.map(lambda b: b[: num - unroll], tuple(train_batches)))
            opt = traced_dc_s3gd(learning_rate, jnp.exp(log_lam), staleness, axis_name=axis_name)
            res = optax_scan(loss, opt, params, inner, batches=head)
            params, inner = res.params, res.opt_state
        tail = tuple(jax.tree.map(lambda b: b[num - unroll :], tuple(train_batches)))
        kw = {"learning_rate": learning_rate, "staleness": staleness, "axis_name": axis_name}
        d_lam, _, params, inner, losses = dc_lambda_hypergradient(
            train_loss, val_loss, params, inner, hp, log_lam, tail, val_args, **kw
        )
        d_lam = jnp.where(tune_lambda, d_lam, jnp.zeros_like(d_lam))
        last = jax.tree.map(lambda b: b[-1], tuple(train_batches))
        hg, info = data_parallel_hypergradient(
            train_loss,
            val_loss,
            params,
            hp,
            axis_name=axis_name,
            num_terms=num_terms,
            alpha=learning_rate,
            train_args=last,
            val_args=tuple(val_args),
        )
        hg = {**hg, lam_key: hg[lam_key] + d_lam}  # the IFT part of lambda is exactly zero
        ok = ~info["diverged"] & jnp.isfinite(d_lam)
        safe = jax.tree.map(lambda g: jnp.where(ok, g, 0.0), hg)
        updates, outer = outer_optimizer.update(safe, state.outer_opt_state, hp)
        keep = lambda new, old: jnp.where(ok, new, old)  # noqa: E731
        new_hp = jax.tree.map(keep, optax.apply_updates(hp, updates), hp)
        outer = jax.tree.map(keep, outer, state.outer_opt_state)
        new_state = BilevelState(
            params,
            new_hp,
            inner,
            outer,
            state.step + 1,
            state.num_skipped + (~ok).astype(jnp.int32),
        )
        return new_state, {
            "train_loss": _pmean(losses[-1], axis_name),
            "val_loss": info["val_loss"],
            "hypergrad": hg,
            "hypergrad_norm": tree_norm(hg),
            "skipped": ~ok,
        }

    return Bilevel(init, update)
