"""Data-parallel training of a whole sweep at once: every (configuration, seed) run on every device.

A study that compares optimizers over a grid of hyperparameters (learning rates) and seeds on ``K``
devices runs every run of the grid in ONE program per call: on each device the per-device
data-parallel step (:func:`~jaxml.parallel.step.make_data_parallel_step`) is swept
(:func:`jaxml.train.sweep`, a checked ``vmap``) over ``L`` configurations and ``S`` seeds and
scanned over ``T`` steps (:func:`jaxml.train.scan_steps`). Step ``t`` of seed ``s`` trains on the
global batch ``batch_sampler(...)(keys[s], t)`` of the (replicated) training set, of which
device ``k`` gathers its contiguous share (the indices of
:func:`~jaxml.parallel.drivers.shard_sampler`), so every configuration of a seed sees the same
batches, and a chunk resumed at ``chunk_index`` draws the batches an uninterrupted run would have
drawn. A chunk draws its ``T * S`` global batches once, split over the ``K`` devices and
all-gathered (each draw sorts ``n`` random keys; drawn on every device they cost ~1/3 of the
DC-S3GD convergence figure's step with ``K = 8``, ``S = 3``), not once per device.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh

from jaxml import _validation as v
from jaxml.models import TrainState, evaluate, init_train_state
from jaxml.parallel.drivers import put_sharded, shard_map_driver
from jaxml.parallel.step import make_data_parallel_step
from jaxml.train import RULES, batch_sampler, scan_steps, sweep

__all__ = ["data_parallel_sweep", "init_sweep_state", "sweep_evaluator"]


def data_parallel_sweep(
    apply_fn: Callable[[Any, jax.Array], jax.Array],
    optimizer_fn: Callable[[jax.Array], optax.GradientTransformation],
    mesh: Mesh,
    *,
    num_examples: int,
    global_batch: int,
    steps_per_call: int,
    rule: str = "without_replacement",
) -> Callable[..., tuple[Any, jax.Array]]:
    """Builds ``chunk(state, x, y, keys, hparams, chunk_index) -> (state, losses)``.

    Args:
        apply_fn: ``apply_fn(params, x) -> logits [b, c]``.
        optimizer_fn: ``optimizer_fn(hparam) -> optax transform`` over the mesh's axis (e.g.
            ``lambda lr: sync_sgd(lr, axis_name=axis)``); ``hparam`` is one (traced) row of
            ``hparams``.
        mesh: a 1-D mesh of ``K`` devices (:func:`~jaxml.parallel.drivers.device_mesh`).
        num_examples: ``n``, the rows of the training set ``x``/``y``.
        global_batch: ``B``, examples per step over all devices; a multiple of ``K``, ``<= n``.
        steps_per_call: ``T``, the steps one call runs.
        rule: the batch sampling rule (:func:`jaxml.train.batch_sampler`).

    Returns:
        ``chunk`` (not jitted: ``jax.jit(chunk, donate_argnums=0)`` at the call site), with
        ``state``: a :class:`~jaxml.models.TrainState` with leaves ``[K, L, S, ...]`` placed by
        :func:`~jaxml.parallel.drivers.put_sharded`; ``x`` ``[n, ...]``, ``y`` ``[n]``: the
        training set; ``keys`` ``[S]``: PRNG keys of the seeds' batch orders; ``hparams``
        ``[L, ...]``: one row per configuration; ``chunk_index``: int32 scalar ``c`` (the call
        runs steps ``c * T ... c * T + T - 1``); all but ``state`` replicated
        (:func:`~jaxml.parallel.drivers.put_replicated`). ``losses`` ``[K, T, L, S]`` are the
        global-batch losses before each step (the same on every device).

    Raises:
        ValueError / TypeError: bad sizes or kinds, naming the argument.
    """
    v.check_callable(apply_fn, "apply_fn")
    v.check_callable(optimizer_fn, "optimizer_fn")
    if not isinstance(mesh, Mesh) or len(mesh.axis_names) != 1:
        raise TypeError(f"mesh must be a 1-D jax.sharding.Mesh; got {mesh!r}")
    (axis,) = mesh.axis_names
    k = mesh.size
    n = v.check_int(num_examples, "num_examples", minimum=1)
    b = v.check_int(global_batch, "global_batch", minimum=k, maximum=n)
    if b % k:
        raise ValueError(f"global_batch must be a multiple of the {k} devices; got {b}")
    steps = v.check_int(steps_per_call, "steps_per_call", minimum=1)
    v.check_choice(rule, "rule", RULES)
    sampler = batch_sampler(n, b, rule=rule)

    def chunk_indices(keys, start):  # -> this device's share [T, S, B // K] of each batch
        s = keys.shape[0]
        total = steps * s
        per_device = -(-total // k)
        p = jax.lax.axis_index(axis) * per_device + jnp.arange(per_device, dtype=jnp.int32)
        p = jnp.minimum(p, total - 1)  # padding rows repeat the last draw (dropped below)
        drawn = jax.vmap(sampler)(keys[p % s], start + p // s)  # [per_device, B]
        every = jax.lax.all_gather(drawn, axis, tiled=True)[:total]  # [T * S, B]
        every = every.reshape(steps, s, b)
        return jax.lax.dynamic_slice_in_dim(every, jax.lax.axis_index(axis) * (b // k), b // k, 2)

    def one_run(state, idx, hparam, x, y):  # one (configuration, seed) on one device
        step = make_data_parallel_step(apply_fn, optimizer_fn(hparam), axis_name=axis)
        return step(state, jnp.take(x, idx, axis=0), jnp.take(y, idx, axis=0))

    per_seed = sweep(one_run, in_axes=(0, 0, None, None, None))
    per_config = sweep(per_seed, in_axes=(0, None, 0, None, None))

    def one_step(state, t, hparams, idx, start, x, y):
        return per_config(state, idx[t - start], hparams, x, y)

    def device_chunk(state, x, y, keys, hparams, chunk_index):
        start = jnp.asarray(chunk_index, jnp.int32) * steps
        idx = chunk_indices(keys, start)
        args = (hparams, idx, start, x, y)
        state, metrics = scan_steps(one_step, state, num_steps=steps, start_step=start, args=args)
        return state, metrics["loss"]

    return shard_map_driver(
        device_chunk,
        mesh,
        arg_names=("state", "x", "y", "keys", "hparams", "chunk_index"),
        broadcast_argnums=(1, 2, 3, 4, 5),
    )


def sweep_evaluator(
    apply_fn: Callable[[Any, jax.Array], jax.Array], splits: dict[str, tuple[Any, Any]]
) -> Callable[[Any], dict[str, Any]]:
    """Evaluates every run of a sweep state on named data sets, from device 0's replica.

    Args:
        apply_fn: ``apply_fn(params, x) -> logits [b, c]``.
        splits: ``{name: (x [n, ...], y [n])}``, e.g. ``{"test": (x, y), "train": (x, y)}``.

    Returns:
        ``evaluator(params) -> {"<name>_accuracy": [L, S], "<name>_loss": [L, S]}`` for
        ``params`` with leaves ``[K, L, S, ...]`` (a sweep state's params). Row 0 is used: the
        rows are equal except in DC-S3GD's ``"local"`` variant, where they differ by the local
        gradients still in flight. A pure function of ``params`` (the data are closed over):
        ``jax.jit`` it once at the call site.
    """
    v.check_callable(apply_fn, "apply_fn")
    if not isinstance(splits, dict) or not splits:
        raise TypeError(f"splits must be a non-empty dict of name -> (x, y); got {splits!r}")
    data = {}
    for name, xy in splits.items():
        if not isinstance(xy, tuple | list) or len(xy) != 2:
            raise TypeError(f"splits[{name!r}] must be a pair (x, y); got {type(xy).__name__}")
        v.check_array(xy[0], f"splits[{name!r}] x", min_ndim=1, dtype="float")
        x, y = jnp.asarray(xy[0]), jnp.asarray(xy[1])
        v.check_array(y, f"splits[{name!r}] y", shape=(x.shape[0],), dtype="int", minimum=0)
        data[name] = (x, y)
    one = lambda p, x, y: evaluate(apply_fn, p, x, y)  # noqa: E731
    per_run = sweep(sweep(one, in_axes=(0, None, None)), in_axes=(0, None, None))

    def evaluator(params):
        row0 = jax.tree.map(lambda a: a[0], params)
        out = {}
        for name, (x, y) in data.items():
            m = per_run(row0, x, y)
            out[f"{name}_accuracy"], out[f"{name}_loss"] = m["accuracy"], m["loss"]
        return out

    return evaluator


def init_sweep_state(
    init_fn: Callable[[jax.Array], Any],
    optimizer: optax.GradientTransformation,
    seeds: Any,
    num_configs: int,
    mesh: Mesh,
) -> TrainState:
    """The starting state of a :func:`data_parallel_sweep`, placed on the mesh.

    Seed ``s`` starts from ``init_fn(jax.random.key(s))`` under every configuration and on every
    device (the optimizer state must not depend on the swept hyperparameters, e.g. the learning
    rate, as for SGD, momentum and DC-S3GD).

    Args:
        init_fn: ``init_fn(key) -> params``, e.g. ``lambda k: model.init(k, x[:1])``.
        optimizer: builds the optimizer state (any member of the sweep).
        seeds: ``[S]`` int seeds.
        num_configs: ``L``, the number of swept configurations.
        mesh: the 1-D mesh of ``K`` devices.

    Returns:
        A :class:`~jaxml.models.TrainState` with leaves ``[K, L, S, ...]`` (put_sharded).
    """
    v.check_callable(init_fn, "init_fn")
    v.check_optimizer(optimizer)
    seeds = np.asarray(seeds)
    v.check_array(seeds, "seeds", ndim=1, dtype="int", min_size=1)
    num_configs = v.check_int(num_configs, "num_configs", minimum=1)
    if not isinstance(mesh, Mesh) or len(mesh.axis_names) != 1:
        raise TypeError(f"mesh must be a 1-D jax.sharding.Mesh; got {mesh!r}")

    @jax.jit
    def init(seeds):
        params = jax.vmap(lambda s: init_fn(jax.random.key(s)))(seeds)
        one = jax.vmap(lambda p: init_train_state(p, optimizer))(params)
        return jax.tree.map(lambda a: jnp.broadcast_to(a, (num_configs, *a.shape)), one)

    host = jax.device_get(init(seeds))
    k = mesh.size
    return put_sharded(jax.tree.map(lambda a: np.broadcast_to(a, (k, *np.shape(a))), host), mesh)
