"""DC-S3GD: delay-compensated stale-synchronous SGD (Rigazzi 2019, arXiv 1911.02516).

Every worker ``k`` (one device of a data-parallel group of ``K``) at step ``t``:

1. computes its local gradient ``g_t^k = grad L_k(w_t^k)`` (done by the caller);
2. issues the all-reduce ``G_t = (1/K) sum_k g_t^k`` and stores it, with the weights ``w_t^k``
   it was computed at, in a ring buffer of ``tau = staleness`` slots;
3. takes the averaged gradient issued ``tau`` steps earlier, ``G_{t-tau}``, out of the buffer and
   moves it to the current weights with the DC-ASGD correction
   (:func:`~jaxml.parallel.compensation.delay_compensation`)

       G_hat = G_{t-tau} + lambda * G_{t-tau} (.) G_{t-tau} (.) (w_t^k - w_{t-tau}^k);

4. updates the weights. Two rules (``variant``):

   - ``"stale"`` (the plain stale-synchronous rule):
     ``w_{t+1} = w_t - eta * G_hat``. All workers hold the same weights.
   - ``"local"`` (local step + correction): the worker also applies its fresh local gradient
     right away and, when the average of step ``t - tau`` arrives, replaces the local gradient it
     applied at that step by the compensated average:
     ``w_{t+1}^k = w_t^k - eta * (g_t^k + G_hat - g_{t-tau}^k)``. With ``lambda = 0``, unrolled,
     ``w_{t+1}^k = w_0 - eta * (sum_{s <= t-tau} G_s + sum_{t-tau < s <= t} g_s^k)``: the
     weights differ between workers only by the local gradients still in flight. (Compensating
     ``g_{t-tau}^k`` too, with the same curvature proxy, would cancel the correction; with its
     own proxy ``g^k (.) g^k`` and the adaptive strength it diverged in our runs, so only the
     average is compensated. On the digits MLP the local rule is the most robust one without
     compensation and becomes unstable with the adaptive compensation at large learning rates:
     see ``experiments/dcs3gd/convergence.py``.)

   With momentum ``mu`` the direction ``d_t`` above (``G_hat``, or ``g_t^k + G_hat - g_{t-tau}^k``)
   goes through a heavy-ball buffer ``m_t = d_t + mu * m_{t-1}``; the update is ``-eta * m_t``.

During the first ``tau`` steps nothing has arrived yet: the stale rule makes no update (zero), the
local rule applies the local gradient only.

Overlap: the all-reduce issued at step ``t`` only feeds the state (the ring buffer); the weight
update of step ``t`` reads the buffer slot written at ``t - tau``. So for ``tau >= 1`` the new
weights do not depend on this step's all-reduce, and XLA may run the collective concurrently with
the update and the next forward/backward pass (:mod:`jaxml.parallel.hlo` checks this on the
compiled program). With ``tau = 0`` the rule is synchronous SGD (any ``lambda``: the weight
difference is zero) and equals :func:`~jaxml.parallel.sync_sgd.sync_sgd`.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from jaxml import _validation as v
from jaxml.parallel._checks import check_axis_name, check_learning_rate
from jaxml.parallel.compensation import adaptive_lambda, delay_compensation

VARIANTS = ("stale", "local")
Params = Any
Updates = Any


class DCS3GDState(NamedTuple):
    """State of :func:`dc_s3gd` (a pytree; per worker).

    Attributes:
        count: int32 scalar, the number of updates done (``t``).
        grads: ring buffer of in-flight averaged gradients, ``[tau, P]`` for the ``P`` raveled
            parameters (``flatten=True``; else each leaf ``[tau, *leaf.shape]``); slot
            ``s % tau`` holds ``G_s`` for ``s`` in ``[t - tau, t)``. ``()`` when ``tau = 0``.
        params: ring buffer of the weights ``w_s^k`` at which ``G_s`` was computed (same layout).
        local_grads: ring buffer of this worker's own ``g_s^k`` (``"local"`` variant; else ``()``).
        momentum: heavy-ball buffer ``m_{t-1}`` (``[P]``, or the params' shapes), or ``()``.
        mean_square: running mean of ``G^2`` for the adaptive ``lambda`` (DC-ASGD-a), or ``()``.
    """

    count: jax.Array
    grads: Updates
    params: Params
    local_grads: Updates
    momentum: Updates
    mean_square: Updates


def _ring(tree: Any, size: int) -> Any:
    return jax.tree.map(lambda a: jnp.zeros((size, *jnp.shape(a)), jnp.asarray(a).dtype), tree)


def _read(buffer: Any, slot: jax.Array, size: int) -> Any:
    if size == 1:
        return jax.tree.map(lambda b: b[0], buffer)
    return jax.tree.map(lambda b: jax.lax.dynamic_index_in_dim(b, slot, keepdims=False), buffer)


def _write(buffer: Any, slot: jax.Array, value: Any) -> Any:
    # Always an in-place update of the old buffer (also for size 1): the result keeps the buffer's
    # type, including shard_map's "varying over the device axis" even when ``value`` is an
    # all-reduced (device-invariant) array, so the state can be a scan carry.
    return jax.tree.map(
        lambda b, v: jax.lax.dynamic_update_index_in_dim(b, jnp.asarray(v, b.dtype), slot, 0),
        buffer,
        value,
    )


def dc_s3gd(
    learning_rate: optax.ScalarOrSchedule,
    lam: float,
    staleness: int = 1,
    momentum: float = 0.0,
    variant: str = "stale",
    *,
    axis_name: str | tuple[str, ...] | None = None,
    mean_square_decay: float | None = None,
    eps: float = 1e-7,
    flatten: bool = True,
) -> optax.GradientTransformation:
    """DC-S3GD as an optax transform: all-reduce now, apply the compensated stale average.

    ``update(local_grads, state, params)`` must be called once per step on every worker, inside
    the ``pmap``/``shard_map`` (or ``vmap``) that binds ``axis_name``; ``params`` is required
    (the compensation needs ``w_t``). See the module docstring for the two rules.

    Args:
        learning_rate: ``eta > 0``: a float, a scalar array (may be traced, e.g. vmapped over a
            sweep of learning rates) or an optax schedule of ``count``.
        lam: compensation strength ``lambda >= 0`` (MXNet's DCASGD default is 0.04); ``0`` gives
            stale SGD without compensation. With ``mean_square_decay`` it is ``lambda_0``.
        staleness: ``tau >= 0``, how many steps an all-reduce stays in flight; ``0`` is synchronous.
        momentum: heavy-ball ``mu`` in ``[0, 1)``.
        variant: ``"stale"`` (plain stale rule) or ``"local"`` (fresh local gradient + correction).
        axis_name: the mapped axis of the workers; None for a single worker (no all-reduce).
        mean_square_decay: if given (e.g. 0.95), use DC-ASGD-a's adaptive
            ``lambda_t = lam / sqrt(v_t + eps)``, ``v_t = d * v_{t-1} + (1 - d) * G_{t-tau}^2``.
        eps: floor of ``v_t`` in the adaptive strength.
        flatten: keep the state as flat vectors (``jax.flatten_util.ravel_pytree`` of the
            params) and do the update's arithmetic on one vector: the same numbers, far fewer
            (fused) operations per step than leaf by leaf, and a single all-reduce. With
            ``False`` the buffers mirror the params' pytree.

    Returns:
        An ``optax.GradientTransformation`` with state :class:`DCS3GDState`. Its ``update`` runs
        traced (inside jit/shard_map) and does not check values: a NaN gradient passes through
        to the weights, and the training loop's NaN-loss check stops the run
        (``experiments.harness.train_loop``).

    Raises:
        ValueError: ``staleness < 0``, unknown ``variant``, ``lam < 0``, ``momentum`` outside
            ``[0, 1)``, a non-positive ``learning_rate``, ``mean_square_decay`` outside
            ``[0, 1)`` or ``eps <= 0``, NaN or inf in any of them -- each naming the argument,
            before anything is traced.
        TypeError: a wrong kind (a string, None or a float where ``staleness`` goes, a
            non-bool ``flatten``, a non-hashable ``axis_name``).
    """
    check_learning_rate(learning_rate)
    v.check_scalar(momentum, "momentum", minimum=0.0, maximum=1.0, max_open=True)
    axis_name = check_axis_name(axis_name)
    tau = v.check_int(staleness, "staleness", minimum=0)
    v.check_choice(variant, "variant", VARIANTS)
    lam = float(v.check_nonnegative(lam, "lam"))
    if mean_square_decay is not None:
        v.check_scalar(
            mean_square_decay, "mean_square_decay", minimum=0.0, maximum=1.0, max_open=True
        )
    v.check_positive(eps, "eps")
    v.check_bool(flatten, "flatten")
    use_momentum = momentum > 0
    adaptive = mean_square_decay is not None and tau > 0

    def init_fn(params: Params) -> DCS3GDState:
        if flatten:
            params = ravel_pytree(params)[0]
        zeros = jax.tree.map(jnp.zeros_like, params)
        return DCS3GDState(
            count=jnp.zeros((), jnp.int32),
            grads=_ring(params, tau) if tau else (),
            params=_ring(params, tau) if tau else (),
            local_grads=_ring(params, tau) if tau and variant == "local" else (),
            momentum=zeros if use_momentum else (),
            mean_square=zeros if adaptive else (),
        )

    def update_fn(updates: Updates, state: DCS3GDState, params: Params | None = None):
        if params is None:
            raise ValueError(
                "params is required: dc_s3gd needs params, call update(grads, state, params)"
            )
        unravel = None
        if flatten:
            local, unravel = ravel_pytree(updates)
            params = ravel_pytree(params)[0]
        else:
            local = updates
        # The all-reduce of this step: its result only goes into the ring buffer (tau >= 1).
        issued = jax.lax.pmean(local, axis_name) if axis_name is not None else local
        count = state.count
        grads_buf, params_buf, local_buf, mean_square = (
            state.grads,
            state.params,
            state.local_grads,
            state.mean_square,
        )
        if tau == 0:
            direction = issued
        else:
            slot = count % tau
            arrived = _read(grads_buf, slot, tau)
            arrived_at = _read(params_buf, slot, tau)
            valid = count >= tau  # the slot holds a real all-reduce (not the zero init)
            if adaptive:
                d = mean_square_decay
                new_ms = jax.tree.map(lambda v, g: d * v + (1 - d) * g * g, mean_square, arrived)
                mean_square = jax.tree.map(
                    lambda new, old: jnp.where(valid, new, old), new_ms, mean_square
                )
                strength = adaptive_lambda(lam, mean_square, eps)
            else:
                strength = lam
            corrected = delay_compensation(arrived, params, arrived_at, strength)
            if variant == "stale":
                direction = jax.tree.map(
                    lambda c: jnp.where(valid, c, jnp.zeros_like(c)), corrected
                )
            else:
                applied = _read(local_buf, slot, tau)
                direction = jax.tree.map(
                    lambda g, c, a: g + jnp.where(valid, c - a, jnp.zeros_like(c)),
                    local,
                    corrected,
                    applied,
                )
                local_buf = _write(local_buf, slot, local)
            grads_buf = _write(grads_buf, slot, issued)
            params_buf = _write(params_buf, slot, params)
        trace = state.momentum
        if use_momentum:
            direction = jax.tree.map(lambda dd, m: dd + momentum * m, direction, trace)
            trace = direction
        eta = learning_rate(count) if callable(learning_rate) else learning_rate
        new_updates = jax.tree.map(lambda dd: -eta * dd, direction)
        if unravel is not None:
            new_updates = unravel(new_updates)
        new_state = DCS3GDState(
            count=optax.safe_int32_increment(count),
            grads=grads_buf,
            params=params_buf,
            local_grads=local_buf,
            momentum=trace,
            mean_square=mean_square,
        )
        return new_updates, new_state

    return optax.GradientTransformation(init_fn, update_fn)
