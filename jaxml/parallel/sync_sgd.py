"""Synchronous data-parallel SGD: all-reduce (mean) the gradients, then take one SGD step.

With ``K`` workers holding the same weights ``w_t`` and local gradients ``g_t^k``, every worker
applies ``w_{t+1} = w_t - eta * m_t`` with ``m_t = G_t + mu * m_{t-1}`` and
``G_t = (1/K) sum_k g_t^k`` (heavy-ball momentum ``mu``, as in ``optax.sgd``); the weights stay
identical on every worker. This is the baseline of DC-S3GD (Rigazzi 2019, sec. 2): the update
cannot start before the all-reduce has finished.
"""

from typing import NamedTuple

import jax
import optax
from jax.flatten_util import ravel_pytree

from jaxml import _validation as v
from jaxml.parallel._checks import check_axis_name, check_learning_rate


class MeanAcrossState(NamedTuple):
    """:func:`mean_across` keeps no state."""


def mean_across(
    axis_name: str | tuple[str, ...] | None, *, flatten: bool = True
) -> optax.GradientTransformation:
    """A transform that replaces each gradient leaf by its mean over the named mapped axis.

    ``update(g^k) = lax.pmean(g^k, axis_name) = (1/K) sum_k g^k``. It must run inside a
    ``pmap``/``shard_map``/``vmap`` that binds ``axis_name``; with ``axis_name=None`` it is the
    identity (one worker).

    Args:
        axis_name: the mapped axis of the workers.
        flatten: all-reduce one raveled vector instead of one array per leaf (gradient
            "bucketing"): the same numbers, one collective instead of several -- each collective
            costs a round trip on a real (or TCP) network. :func:`dc_s3gd` does the same, so the
            two are compared with the same communication pattern.
    """
    axis_name = check_axis_name(axis_name)
    v.check_bool(flatten, "flatten")

    def init_fn(params):
        del params
        return MeanAcrossState()

    def update_fn(updates, state, params=None):
        del params
        if axis_name is None:
            return updates, state
        if flatten:
            flat, unravel = ravel_pytree(updates)
            return unravel(jax.lax.pmean(flat, axis_name)), state
        return jax.lax.pmean(updates, axis_name), state

    return optax.GradientTransformation(init_fn, update_fn)


def sync_sgd(
    learning_rate: optax.ScalarOrSchedule,
    momentum: float = 0.0,
    *,
    axis_name: str | tuple[str, ...] | None = None,
    flatten: bool = True,
) -> optax.GradientTransformation:
    """Synchronous data-parallel SGD: ``optax.chain(mean_across(axis_name), optax.sgd(...))``.

    Args:
        learning_rate: ``eta > 0``: a float, a scalar array (may be traced) or an optax schedule.
        momentum: heavy-ball ``mu`` in ``[0, 1)``; 0 disables the momentum buffer.
        axis_name: the mapped axis the workers live on (the ``axis_name`` of ``pmap`` or the mesh
            axis of ``shard_map``); None for a single worker.
        flatten: all-reduce the gradients as one raveled vector (see :func:`mean_across`).

    Returns:
        An ``optax.GradientTransformation`` whose ``update(local_grads, state, params)`` returns
        ``-eta * m_t`` (the same on every worker).
    """
    check_learning_rate(learning_rate)
    v.check_scalar(momentum, "momentum", minimum=0.0, maximum=1.0, max_open=True)
    v.check_bool(flatten, "flatten")
    return optax.chain(
        mean_across(axis_name, flatten=flatten), optax.sgd(learning_rate, momentum=momentum or None)
    )
