"""Step-time measurement shared by the scaling figure, its multi-process worker and the benchmark.

The generic pieces (interleaved timing, the ratio's confidence interval) are jaxml.parallel.timing.

One data-parallel training step of a small model on a fixed synthetic global batch (digits-like
shapes: 8x8x1 images, 10 classes), jitted ``shard_map`` over a 1-D mesh, for synchronous SGD and
DC-S3GD. Models are named by a spec: ``"cnn:32,64"`` (jaxml's SmallCNN with those channels) or
``"mlp:256,256"`` (MLP with those hidden widths).
Callers must have set ``XLA_FLAGS`` (simulated devices) before importing this module's JAX.
"""

from typing import Any

import jax
import numpy as np

from jaxml.models import MLP, SmallCNN, init_train_state
from jaxml.parallel import (
    collective_dependence,
    dc_s3gd,
    make_data_parallel_step,
    put_sharded,
    ratio_interval,
    shard_map_driver,
    split_batch,
    sync_sgd,
    time_interleaved,
)

AXIS = "devices"
METHODS = ("sync", "dc")


def optimizer(method: str, *, learning_rate: float = 0.1, staleness: int = 1):
    if method == "sync":
        return sync_sgd(learning_rate, 0.9, axis_name=AXIS)
    if method == "dc":
        return dc_s3gd(learning_rate, 2.0, staleness, 0.9, axis_name=AXIS, mean_square_decay=0.95)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def make_model(spec: str):
    """``"cnn:32,64"`` -> SmallCNN(features=(32, 64)); ``"mlp:256,256"`` -> MLP((256, 256))."""
    kind, _, widths = spec.partition(":")
    sizes = tuple(int(w) for w in widths.split(",") if w)
    if kind == "cnn" and sizes:
        return SmallCNN(features=sizes, num_outputs=10)
    if kind == "mlp":
        return MLP(hidden=sizes, num_outputs=10)
    raise ValueError(f"model must look like 'cnn:32,64' or 'mlp:256,256', got {spec!r}")


def synthetic_batches(num_batches: int, global_batch: int, seed: int = 0):
    """``x [num_batches, B, 8, 8, 1]`` float32 and ``y [num_batches, B]`` labels, from a seed."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(64, 10))
    x = rng.normal(size=(num_batches, global_batch, 64)).astype(np.float32)
    y = np.argmax(x @ w + rng.gumbel(size=(num_batches, global_batch, 10)), -1).astype(np.int32)
    return x.reshape(num_batches, global_batch, 8, 8, 1), y


def build(method: str, mesh, *, model: str, global_batch: int, staleness: int = 1):
    """Returns ``(step_fn, state, x_dev, y_dev)``: the jitted step and its placed inputs."""
    k = mesh.size
    if global_batch % k:
        raise ValueError(f"global_batch {global_batch} is not divisible by {k} devices")
    model = make_model(model)
    opt = optimizer(method, staleness=staleness)
    x, y = synthetic_batches(1, global_batch)
    params = model.init(jax.random.key(0), x[0, :1])
    host = jax.device_get(init_train_state(params, opt))
    state = put_sharded(jax.tree.map(lambda a: np.broadcast_to(a, (k, *np.shape(a))), host), mesh)
    step = make_data_parallel_step(model.apply, opt, axis_name=AXIS)
    # No donation: with the state donated, XLA:CPU inserts defensive copies of every state
    # buffer at the start of the step (more of them for DC-S3GD, whose update is scheduled
    # before the forward pass), which costs more than fresh output buffers.
    step_fn = jax.jit(shard_map_driver(step, mesh))
    x_dev = put_sharded(np.asarray(split_batch(x[0], k)), mesh)
    y_dev = put_sharded(np.asarray(split_batch(y[0], k)), mesh)
    return step_fn, state, x_dev, y_dev


def compiled_facts(step_fn, state, x, y) -> dict[str, Any]:
    """FLOPs of one step (XLA cost analysis) and which outputs depend on the all-reduce."""
    compiled = step_fn.lower(state, x, y).compile()
    cost = compiled.cost_analysis()
    if isinstance(cost, list):  # older JAX returns one dict per program
        cost = cost[0] if cost else {}
    dep = collective_dependence(compiled.as_text(), jax.eval_shape(step_fn, state, x, y))
    params = [v for p, v in dep.outputs.items() if p.startswith("[0].params")]
    return {
        "flops_per_step": float((cost or {}).get("flops", float("nan"))),
        "num_collectives": len(dep.collectives),
        "async_collectives": dep.async_pairs,
        "params_depend_on_all_reduce": bool(any(params)),
    }


def losses_from(step_fn, state, mesh, *, global_batch: int, num_steps: int) -> list[float]:
    """The global-batch loss of ``num_steps`` steps from ``state`` on fresh synthetic batches: a
    numerics check that a multi-process run computes what a single-process one does."""
    x, y = synthetic_batches(num_steps, global_batch, seed=1)
    losses = []
    for t in range(num_steps):
        xb = put_sharded(np.asarray(split_batch(x[t], mesh.size)), mesh)
        yb = put_sharded(np.asarray(split_batch(y[t], mesh.size)), mesh)
        state, metrics = step_fn(state, xb, yb)
        losses.append(metrics["loss"])
    # Every device holds the same (all-reduced) loss; read one this process can address.
    return [float(np.asarray(m.addressable_shards[0].data).ravel()[0]) for m in losses]


def measure(
    mesh, *, model: str, global_batch: int, calls: int, repeats: int, check_steps: int = 0
) -> dict[str, Any]:
    """Step time of sync and DC-S3GD on ``mesh`` (interleaved) plus compiled-program facts, and
    with ``check_steps`` the losses of that many steps from the initial state."""
    built = {m: build(m, mesh, model=model, global_batch=global_batch) for m in METHODS}
    facts = {m: compiled_facts(*built[m]) for m in METHODS}
    losses = {
        m: losses_from(
            built[m][0], built[m][1], mesh, global_batch=global_batch, num_steps=check_steps
        )
        for m in METHODS
    }
    times = time_interleaved(built, calls=calls, repeats=repeats)
    out = {"num_devices": mesh.size, "global_batch": global_batch, "model": model}
    out["losses"] = losses
    for m in METHODS:
        out[m] = {"step_ms": 1e3 * times[m]["median_s"], "min_step_ms": 1e3 * times[m]["min_s"]}
        out[m].update(facts[m])
    # Headline: the median over repeats of the paired ratio (each DC-S3GD repeat runs right after
    # a sync repeat) with its order-statistic 95 % interval (jaxml.parallel.ratio_interval).
    paired = np.asarray(times["dc"]["samples_s"]) / np.asarray(times["sync"]["samples_s"])
    out["ratio_samples"] = paired.tolist()
    out["ratio_dc_over_sync"] = float(np.median(paired))
    if len(paired) >= 6:
        ci = ratio_interval(times["dc"]["samples_s"], times["sync"]["samples_s"], confidence=0.95)
        out["ratio_ci"] = {"low": ci.low, "high": ci.high, "coverage": ci.coverage, "n": ci.n}
    else:  # too few repeats for a 95 % interval: no interval, so no verdict can pass
        out["ratio_ci"] = None
    out["ratio_dc_over_sync_medians"] = times["dc"]["median_s"] / times["sync"]["median_s"]
    # The fastest repeat is the least disturbed by other jobs.
    out["ratio_dc_over_sync_min"] = times["dc"]["min_s"] / times["sync"]["min_s"]
    return out
