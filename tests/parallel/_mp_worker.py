"""Worker of the multi-process tests: a tiny data-parallel run over every device of every process.

Started by :class:`jaxml.parallel.LocalCluster` (which sets ``JAXML_COORDINATOR``, the rank
variables and the simulated device count)::

    python -m tests.parallel._mp_worker --out DIR [--steps 4] [--forever]

Each process writes ``DIR/<optimizer>_<process_id>.npz`` with the rows (devices) of the final
stacked parameters it holds. ``train`` is also called in one process (4 devices) as the reference.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

AXIS = "devices"
GLOBAL_BATCH = 16


def _optimizers():
    from jaxml.parallel import dc_s3gd, sync_sgd

    return {
        "sync": sync_sgd(0.3, 0.5, axis_name=AXIS),
        "dc_local": dc_s3gd(0.3, 0.5, staleness=2, momentum=0.5, variant="local", axis_name=AXIS),
    }


def _batches(steps):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(steps, GLOBAL_BATCH, 5))
    y = rng.integers(0, 3, size=(steps, GLOBAL_BATCH)).astype(np.int32)
    return x, y


def train(mesh, steps, name, *, on_step=None):
    """``steps`` shard_map steps of optimizer ``name`` on ``mesh``; returns the stacked state."""
    import jax

    from jaxml.models import MLP, init_train_state
    from jaxml.parallel import make_data_parallel_step, put_sharded, shard_map_driver, split_batch

    opt = _optimizers()[name]
    model = MLP(hidden=(8,), num_outputs=3)
    x, y = _batches(steps)
    k = mesh.size
    params = model.init(jax.random.key(0), x[0, :1])
    if jax.config.jax_enable_x64:  # flax initializes float32; compare runs in float64
        params = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    host = jax.device_get(init_train_state(params, opt))
    state = put_sharded(jax.tree.map(lambda a: np.broadcast_to(a, (k, *np.shape(a))), host), mesh)
    step = make_data_parallel_step(model.apply, opt, axis_name=AXIS)
    step_fn = jax.jit(shard_map_driver(step, mesh), donate_argnums=0)
    for t in range(steps):
        xb = put_sharded(np.asarray(split_batch(x[t], k)), mesh)
        yb = put_sharded(np.asarray(split_batch(y[t], k)), mesh)
        state, _ = step_fn(state, xb, yb)
        jax.block_until_ready(state)
        if on_step is not None:
            on_step(t)
    return state


def save_rows(state, path):
    import jax

    from jaxml.parallel import addressable_rows

    rows, local = addressable_rows(state.params)
    leaves = {jax.tree_util.keystr(p): v for p, v in jax.tree_util.tree_flatten_with_path(local)[0]}
    np.savez(
        path, rows=np.asarray(rows), **{f"leaf{i}": leaves[k] for i, k in enumerate(sorted(leaves))}
    )


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--forever", action="store_true", help="train until killed")
    parser.add_argument("--watchdog_s", type=float, default=60.0)
    args = parser.parse_args(argv)

    from jaxml.parallel import Watchdog, device_mesh, initialize_from_env

    info = initialize_from_env(initialization_timeout_s=30)
    import jax

    jax.config.update("jax_enable_x64", True)
    mesh = device_mesh(None, AXIS)
    out = Path(args.out)
    print(f"process {info.process_id}/{info.num_processes}: {mesh.size} devices", flush=True)
    with Watchdog(args.watchdog_s, what="training step") as dog:
        if args.forever:
            steps = 10_000
            train(
                mesh,
                steps,
                "sync",
                on_step=lambda t: (dog.kick(f"step {t}"), print(f"step {t}", flush=True)),
            )
        else:
            for name in _optimizers():
                state = train(mesh, args.steps, name, on_step=lambda t: dog.kick(f"step {t}"))
                save_rows(state, out / f"{name}_{info.process_id}.npz")
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
