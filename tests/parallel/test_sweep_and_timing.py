"""jaxml.parallel.sweep (a data-parallel sweep of (lr, seed) runs) on a 1-device mesh against
plain per-run training, shard_sampler, and jaxml.parallel.timing (paired ratio intervals). The
8-device sweep is checked in the shared multi-device subprocess (test_drivers)."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.models import MLP, evaluate, init_train_state, make_train_step
from jaxml.parallel import (
    data_parallel_sweep,
    device_mesh,
    init_sweep_state,
    put_replicated,
    ratio_interval,
    shard_sampler,
    sweep_evaluator,
    sync_sgd,
    time_interleaved,
)
from jaxml.train import batch_sampler

AXIS = "d"


def test_shard_sampler_splits_the_global_batch_in_device_order():
    sampler = batch_sampler(40, 12, rule="without_replacement")
    key = jax.random.key(5)
    local = shard_sampler(sampler, 4, AXIS)
    rows = jax.vmap(lambda _: local(key, 7), axis_name=AXIS)(jnp.zeros(4))  # [4, 3]
    np.testing.assert_array_equal(np.asarray(rows).ravel(), np.asarray(sampler(key, 7)))
    with pytest.raises(ValueError, match="not divisible by num_devices 5"):
        jax.vmap(lambda _: shard_sampler(sampler, 5, AXIS)(key, 0), axis_name=AXIS)(jnp.zeros(5))


@pytest.fixture(scope="module")
def sweep_run():
    """2 lrs x 2 seeds x 2 chunks of 3 steps of sync SGD on a 1-device mesh."""
    model = MLP(hidden=(8,), num_outputs=3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=40).astype(np.int32)
    seeds, lrs = np.array([3, 4], np.int32), np.float32([0.1, 0.5])
    keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.key(s), 7))(seeds)
    mesh = device_mesh(1, AXIS)
    opt_fn = lambda lr: sync_sgd(lr, axis_name=AXIS)  # noqa: E731
    chunk = jax.jit(
        data_parallel_sweep(
            model.apply, opt_fn, mesh, num_examples=40, global_batch=8, steps_per_call=3
        )
    )
    init = lambda k: model.init(k, x[:1])  # noqa: E731
    state0 = init_sweep_state(init, opt_fn(0.1), seeds, 2, mesh)
    inputs = put_replicated((x, y, keys, lrs), mesh)
    state, losses = state0, []
    for c in range(2):
        state, loss = chunk(state, *inputs, np.int32(c))
        losses.append(np.asarray(loss))
    return model, x, y, seeds, lrs, keys, state0, state, np.concatenate(losses, 1)


def test_sweep_equals_separate_plain_runs(sweep_run):
    model, x, y, seeds, lrs, keys, state0, state, losses = sweep_run
    assert losses.shape == (1, 6, 2, 2)  # [devices, steps, lrs, seeds]
    sampler = batch_sampler(40, 8, rule="without_replacement")
    for i, lr in enumerate(lrs):
        step = jax.jit(make_train_step(model.apply, optax.sgd(float(lr))))
        for s, seed in enumerate(seeds):
            params = model.init(jax.random.key(int(seed)), x[:1])
            plain = init_train_state(params, optax.sgd(float(lr)))
            chex.assert_trees_all_close(
                jax.tree.map(lambda a, i=i, s=s: a[0, i, s], state0.params),
                params,
                rtol=1e-5,
                atol=1e-7,
            )  # init under jit + vmap vs eager: float32 rounding
            for t in range(6):
                idx = sampler(keys[s], t)
                plain, metrics = step(plain, x[idx], y[idx])
                np.testing.assert_allclose(losses[0, t, i, s], metrics["loss"], rtol=1e-6)
            row = jax.tree.map(lambda a, i=i, s=s: a[0, i, s], state.params)
            chex.assert_trees_all_close(row, plain.params, rtol=1e-5, atol=1e-6)
    assert int(state.step[0, 0, 0]) == 6


def test_sweep_evaluator_matches_evaluate(sweep_run):
    model, x, y, *_, state, _ = sweep_run
    out = jax.jit(sweep_evaluator(model.apply, {"train": (x, y)}))(state.params)
    assert out["train_accuracy"].shape == (2, 2) and out["train_loss"].shape == (2, 2)
    one = evaluate(model.apply, jax.tree.map(lambda a: a[0, 1, 0], state.params), x, y)
    np.testing.assert_allclose(out["train_loss"][1, 0], one["loss"], rtol=1e-6)
    np.testing.assert_allclose(out["train_accuracy"][1, 0], one["accuracy"], rtol=1e-6)


def test_ratio_interval_is_the_order_statistic_interval():
    den = np.ones(9)
    num = np.array([1.3, 0.9, 1.0, 1.1, 0.95, 1.05, 1.2, 0.85, 1.02])
    ci = ratio_interval(num, den)
    r = np.sort(num)
    assert (ci.median, ci.low, ci.high, ci.n) == (float(np.median(r)), r[1], r[7], 9)
    assert math.isclose(ci.coverage, 1 - 2 * (1 + 9) / 2**9)  # 0.961
    six = ratio_interval(num[:6], den[:6])  # the fewest pairs for 95 %: [min, max]
    assert (six.low, six.high) == (num[:6].min(), num[:6].max())
    assert math.isclose(six.coverage, 1 - 2 / 64)
    assert ratio_interval(num[:5], den[:5], confidence=0.9).coverage == 1 - 2 / 32
    with pytest.raises(ValueError, match="too few for a 95% interval"):
        ratio_interval(num[:5], den[:5])
    with pytest.raises(ValueError, match="numerator and denominator must have the same length"):
        ratio_interval(num, den[:8])
    # A coverage check by simulation: the interval holds the true median ratio ~96 % of the time.
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        a = rng.lognormal(np.log(1.04), 0.2, 9)  # true median ratio 1.04 (heavy noise)
        c = ratio_interval(a, np.ones(9))
        hits += c.low <= 1.04 <= c.high
    assert 0.94 <= hits / 2000 <= 0.98


def test_time_interleaved_runs_every_method_in_every_round():
    calls = []

    def step(name):
        def fn(state, inc):
            calls.append(name)
            return state + inc, None

        return fn

    out = time_interleaved(
        {"a": (step("a"), 0, 1), "b": (step("b"), 0, 2)}, calls=3, repeats=4, warmup=1
    )
    assert calls[:2] == ["a", "b"]  # warm-up
    assert calls[2:] == (["a"] * 3 + ["b"] * 3) * 4  # interleaved rounds
    for name in "ab":
        assert len(out[name]["samples_s"]) == 4 and out[name]["min_s"] <= out[name]["median_s"]
