"""Checks that need several devices, run in ONE subprocess with 8 simulated CPU devices.

    XLA_FLAGS=--xla_force_host_platform_device_count=8 \
        python -m tests.parallel._multidevice_checks OUT

Prints one JSON object on the last line of stdout (read by ``conftest.multidevice``) and writes
the 1-process x 4-device reference of the multi-process test to ``OUT/reference_*.npz``.
"""

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.models import MLP, init_train_state
from jaxml.parallel import (
    collective_dependence,
    data_parallel_sweep,
    dc_s3gd,
    device_mesh,
    init_sweep_state,
    make_data_parallel_step,
    pmap_driver,
    put_replicated,
    put_sharded,
    replicate,
    shard_map_driver,
    split_batch,
    sync_sgd,
)
from tests.parallel import _mp_worker

AXIS = "d"
K = 8


def _optimizers():
    return {
        "sync": sync_sgd(0.2, 0.9, axis_name=AXIS),
        "dc_stale_tau2": dc_s3gd(0.2, 0.5, staleness=2, axis_name=AXIS),
        "dc_local_tau1": dc_s3gd(
            0.2,
            2.0,
            staleness=1,
            momentum=0.9,
            variant="local",
            axis_name=AXIS,
            mean_square_decay=0.95,
        ),
        "dc_stale_tau1": dc_s3gd(0.2, 0.04, staleness=1, momentum=0.9, axis_name=AXIS),
    }


def _setup(opt):
    model = MLP(hidden=(16,), num_outputs=3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 64, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=(6, 64)).astype(np.int32)
    params = model.init(jax.random.key(0), x[0, :1])
    state = replicate(init_train_state(params, opt), K)
    return model, x, y, state


def _flat(tree):
    return np.concatenate([np.ravel(np.asarray(v)) for v in jax.tree.leaves(tree)])


def _groups(dep):
    groups = {}
    for path, flag in dep.outputs.items():
        if path.startswith("[0].params"):
            key = "params"
        elif path.startswith("[0].opt_state.grads"):
            key = "issued_buffer"
        elif path.startswith("[1]"):
            key = "metrics"
        else:
            continue
        groups.setdefault(key, []).append(bool(flag))
    return groups


def drivers_and_overlap():
    """Per optimizer: pmap vs jit(shard_map) vs vmap vs a lax.scan of steps inside shard_map
    (max |difference| of params after 6 steps), and which outputs of the compiled shard_map step
    depend on an all-reduce."""
    mesh = device_mesh(K, AXIS)
    out = {}
    for name, opt in _optimizers().items():
        model, x, y, state = _setup(opt)
        step = make_data_parallel_step(model.apply, opt, axis_name=AXIS)
        sm = jax.jit(shard_map_driver(step, mesh))
        xs = [split_batch(x[t], K) for t in range(x.shape[0])]
        ys = [split_batch(y[t], K) for t in range(x.shape[0])]
        args = (put_sharded(state, mesh), put_sharded(xs[0], mesh), put_sharded(ys[0], mesh))
        compiled = sm.lower(*args).compile()
        dep = collective_dependence(compiled.as_text(), jax.eval_shape(sm, *args))
        record = {"num_collectives": len(dep.collectives), **_groups(dep)}
        if name == "dc_stale_tau1":  # overlap only
            out[name] = record
            continue
        pm = pmap_driver(step, axis_name=AXIS)

        def scanned(s, xx, yy, step=step):  # all steps in one program: the state is a scan carry
            return jax.lax.scan(lambda carry, batch: step(carry, *batch), s, (xx, yy))

        sc = jax.jit(shard_map_driver(scanned, mesh))
        vm = jax.jit(jax.vmap(step, axis_name=AXIS))
        a, b, c = state, args[0], state
        losses = []
        for t in range(x.shape[0]):
            a, ma = pm(a, xs[t], ys[t])
            b, _ = compiled(b, put_sharded(xs[t], mesh), put_sharded(ys[t], mesh))
            c, _ = vm(c, xs[t], ys[t])
            losses.append(float(ma["loss"][0]))
        d, _ = sc(
            put_sharded(state, mesh),
            put_sharded(np.stack(xs, 1), mesh),
            put_sharded(np.stack(ys, 1), mesh),
        )
        la = _flat(a.params)
        first = np.asarray(jax.tree.leaves(a.params)[0])
        record.update(
            pmap_vs_shard_map=float(np.abs(la - _flat(b.params)).max()),
            pmap_vs_vmap=float(np.abs(la - _flat(c.params)).max()),
            pmap_vs_scan=float(np.abs(la - _flat(d.params)).max()),
            moved=float(np.abs(la - _flat(state.params)).max()),
            rows_differ=float(np.abs(first - first[0]).max()),
            losses=losses,
        )
        out[name] = record
    # Arguments broadcast to every device (not stacked), under both drivers.
    opt = _optimizers()["dc_stale_tau1"]
    model, x, y, state = _setup(opt)
    step = make_data_parallel_step(model.apply, opt, axis_name=AXIS)
    scaled = lambda s, xx, yy, scale: step(s, xx * scale, yy)
    pm = pmap_driver(scaled, axis_name=AXIS, broadcast_argnums=(3,))
    sm = jax.jit(shard_map_driver(scaled, mesh, broadcast_argnums=(3,)))
    xs, ys = split_batch(x[0], K), split_batch(y[0], K)
    a, _ = pm(state, xs, ys, jnp.float32(0.5))
    b, _ = sm(
        put_sharded(state, mesh), put_sharded(xs, mesh), put_sharded(ys, mesh), jnp.float32(0.5)
    )
    out["broadcast_args"] = float(np.abs(_flat(a) - _flat(b)).max())
    # The pmap driver compiles to the same structure as shard_map.
    args = (state, xs, ys, jnp.float32(0.5))
    dep = collective_dependence(pm.lower(*args).compile().as_text(), jax.eval_shape(pm, *args))
    out["pmap_dc_stale_tau1"] = _groups(dep)
    return out


def sweep_on_8_vs_1():
    """jaxml.parallel.data_parallel_sweep of sync SGD (2 lrs x 2 seeds, 2 chunks of 3 steps) on
    8 devices vs on 1: equal shards of the same global batch, so the same numbers up to float32
    rounding of the gradient mean."""
    model = MLP(hidden=(16,), num_outputs=3)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=64).astype(np.int32)
    seeds, lrs = np.arange(2, dtype=np.int32), np.float32([0.1, 0.3])
    keys = jax.vmap(jax.random.key)(seeds)
    out = {}
    for k in (1, K):
        mesh = device_mesh(k, AXIS)
        opt_fn = lambda lr: sync_sgd(lr, axis_name=AXIS)  # noqa: E731
        chunk = jax.jit(
            data_parallel_sweep(
                model.apply, opt_fn, mesh, num_examples=64, global_batch=32, steps_per_call=3
            )
        )
        init = lambda key: model.init(key, x[:1])  # noqa: E731
        state = init_sweep_state(init, opt_fn(0.1), seeds, len(lrs), mesh)
        inputs = put_replicated((x, y, keys, lrs), mesh)
        losses = []
        for c in range(2):
            state, loss = chunk(state, *inputs, np.int32(c))
            losses.append(np.asarray(loss[0]))
        out[k] = (_flat(jax.tree.map(lambda a: np.asarray(a)[0], state.params)), np.stack(losses))
    return {
        "sweep_params_8_vs_1": float(np.abs(out[K][0] - out[1][0]).max()),
        "sweep_losses_8_vs_1": float(np.abs(out[K][1] - out[1][1]).max()),
        "sweep_moved": float(np.abs(out[1][1][0, 0] - out[1][1][-1, -1]).max()),
    }


def reference(out_dir: Path, steps: int):
    """The multi-process test's reference: the same worker code on 1 process x 4 devices."""
    with jax.enable_x64(True):
        mesh = device_mesh(4, _mp_worker.AXIS)
        for name in _mp_worker._optimizers():
            state = _mp_worker.train(mesh, steps, name)
            _mp_worker.save_rows(state, out_dir / f"reference_{name}_0.npz")


def main():
    out_dir = Path(sys.argv[1])
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    assert jax.device_count() == K, jax.device_count()
    result = drivers_and_overlap()
    result.update(sweep_on_8_vs_1())
    reference(out_dir, steps)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
