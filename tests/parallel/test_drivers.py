"""pmap / shard_map drivers and the per-device step.

One device in this process: the layout helpers, errors, and a 1-device mesh. The multi-device
checks (8 simulated devices) run once in a subprocess (``conftest.multidevice``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.models import MLP, init_train_state, make_train_step
from jaxml.parallel import (
    addressable_rows,
    collective_dependence,
    dc_s3gd,
    device_mesh,
    make_data_parallel_step,
    pmap_driver,
    put_sharded,
    replicate,
    shard_map_driver,
    split_batch,
    sync_sgd,
)


def test_split_batch_and_replicate():
    x = np.arange(24.0).reshape(12, 2)
    y = np.arange(12)
    xs, ys = split_batch((x, y), 3)
    assert xs.shape == (3, 4, 2) and ys.shape == (3, 4)
    np.testing.assert_array_equal(np.asarray(xs[1]), x[4:8])  # contiguous shards
    r = replicate({"w": jnp.ones((2, 3))}, 4)
    assert r["w"].shape == (4, 2, 3)
    # Jit-safe.
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda a: split_batch(a, 3))(x)), xs)


def test_bad_layout_is_a_clear_error():
    with pytest.raises(
        ValueError, match="x has a global batch of 10 rows, not divisible by num_devices 4"
    ):
        split_batch(np.zeros((10, 3)), 4)
    with pytest.raises(ValueError, match="one shared batch size B"):
        split_batch((np.zeros((8, 3)), np.zeros(6)), 2)
    with pytest.raises(ValueError, match="num_devices must be an int >= 1"):
        split_batch(np.zeros((8, 3)), 0)
    with pytest.raises(ValueError, match="only 1 devices are available"):
        device_mesh(jax.device_count() + 1)
    mesh = device_mesh(1, "d")
    run = shard_map_driver(lambda s, x: (s, x), mesh, arg_names=["state", "x"])
    with pytest.raises(ValueError, match=r"x\['a'\] has shape \(\); every leaf needs a leading"):
        run(jnp.zeros((1, 2)), {"a": jnp.float32(1.0)})
    with pytest.raises(ValueError, match="mesh must be 1-D"):
        shard_map_driver(lambda s: s, jax.make_mesh((1, 1), ("a", "b")))


@pytest.mark.parametrize("jit", [False, True])
def test_step_on_one_device_equals_plain_training(jit):
    """With one device the data-parallel step is the plain optax step of jaxml.models."""
    model = MLP(hidden=(8,), num_outputs=3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=16).astype(np.int32)
    params = model.init(jax.random.key(0), x[:1])
    plain = make_train_step(model.apply, optax.sgd(0.1, 0.9))
    ours = make_data_parallel_step(model.apply, sync_sgd(0.1, 0.9), axis_name=None)
    if jit:
        plain, ours = jax.jit(plain), jax.jit(ours)
    s1 = init_train_state(params, optax.sgd(0.1, 0.9))
    s2 = init_train_state(params, sync_sgd(0.1, 0.9))
    for _ in range(3 if jit else 1):  # eager flax is slow: one un-jitted step
        s1, m1 = plain(s1, x, y)
        s2, m2 = ours(s2, x, y)
    for a, b in zip(jax.tree.leaves(s1.params), jax.tree.leaves(s2.params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(float(m1["loss"]), float(m2["loss"]), rtol=1e-6)


def test_one_device_mesh_runs_both_drivers():
    model = MLP(hidden=(8,), num_outputs=3)
    x = np.random.default_rng(1).normal(size=(1, 8, 5)).astype(np.float32)
    y = np.zeros((1, 8), np.int32)
    opt = dc_s3gd(0.1, 0.04, staleness=1, axis_name="d")
    state = replicate(init_train_state(model.init(jax.random.key(0), x[0, :1]), opt), 1)
    step = make_data_parallel_step(model.apply, opt, axis_name="d")
    mesh = device_mesh(1, "d")
    sm = jax.jit(shard_map_driver(step, mesh))
    pm = pmap_driver(step, axis_name="d")
    a, b = state, put_sharded(state, mesh)
    for _ in range(3):
        a, _ = pm(a, x, y)
        b, _ = sm(b, put_sharded(x, mesh), put_sharded(y, mesh))
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    rows, local = addressable_rows(b.params)
    assert rows == [0]
    np.testing.assert_array_equal(
        jax.tree.leaves(local)[0], np.asarray(jax.tree.leaves(a.params)[0])
    )


def test_collective_dependence_parses_a_program():
    hlo = """HloModule m, entry_computation_layout={(f32[3]{0})->(f32[3]{0}, f32[3]{0})}

%region (a: f32[], b: f32[]) -> f32[] {
  %a = f32[] parameter(0)
  %b = f32[] parameter(1)
  ROOT %add = f32[] add(%a, %b)
}

ENTRY %main (p: f32[3]) -> (f32[3], f32[3]) {
  %p = f32[3]{0} parameter(0)
  %ar = f32[3]{0} all-reduce(%p), replica_groups={{0,1}}, to_apply=%region
  %neg = f32[3]{0} negate(%p)
  %mul = f32[3]{0} multiply(%ar, %ar)
  ROOT %t = (f32[3]{0}, f32[3]{0}) tuple(%neg, %mul)
}
"""
    dep = collective_dependence(hlo, (0, 0))  # outputs (update, stored)
    assert dep.collectives == ("ar",)
    assert dep.outputs == {"[0]": False, "[1]": True}
    assert collective_dependence(hlo).outputs == [False, True]
    with pytest.raises(ValueError, match="no ENTRY computation"):
        collective_dependence("HloModule m")
    with pytest.raises(ValueError, match="out_tree has 1 leaves but the program has 2"):
        collective_dependence(hlo, [0])


# ---- 8 simulated devices (one subprocess for the whole module) ----------------------------------


def test_pmap_shard_map_vmap_and_scan_give_the_same_numbers(multidevice):
    results, _ = multidevice
    for name in ("sync", "dc_stale_tau2", "dc_local_tau1"):
        r = results[name]
        assert r["moved"] > 1e-2, name  # training did something
        assert r["pmap_vs_shard_map"] <= 1e-6, (name, r)
        assert r["pmap_vs_scan"] <= 1e-6, (name, r)  # the state also works as a scan carry
        assert r["pmap_vs_vmap"] <= 1e-6, (name, r)  # vmap batches the math: float32 rounding
        assert np.all(np.isfinite(r["losses"]))
    assert results["sync"]["rows_differ"] == 0.0
    assert results["dc_stale_tau2"]["rows_differ"] == 0.0
    assert results["dc_local_tau1"]["rows_differ"] > 1e-4  # local variant: replicas differ
    assert results["broadcast_args"] <= 1e-6


def test_update_does_not_depend_on_this_steps_all_reduce(multidevice):
    """From the compiled program: sync SGD's new weights depend on the all-reduce; DC-S3GD's do
    not (only the ring buffer that stores the issued average does), so XLA may overlap them."""
    results, _ = multidevice
    assert results["sync"]["num_collectives"] >= 1
    assert all(results["sync"]["params"])
    for name in ("dc_stale_tau1", "dc_stale_tau2", "dc_local_tau1"):
        r = results[name]
        assert r["num_collectives"] >= 1
        assert r["params"] and not any(r["params"]), (name, r)
        assert r["issued_buffer"] and all(r["issued_buffer"]), (name, r)
    pm = results["pmap_dc_stale_tau1"]
    assert not any(pm["params"]) and all(pm["issued_buffer"])


def test_data_parallel_sweep_on_8_devices_equals_1_device(multidevice):
    results, _ = multidevice
    assert results["sweep_moved"] > 1e-2  # the losses went down: training happened
    assert results["sweep_params_8_vs_1"] <= 1e-5
    assert results["sweep_losses_8_vs_1"] <= 1e-5
