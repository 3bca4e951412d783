"""jaxml.train: deterministic samplers, scanned optax steps and sweeps, against plain loops."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.train import (
    batch_indices,
    batch_sampler,
    optax_scan,
    seed_keys,
    stack_configs,
    sweep,
    sweep_size,
)

KEY = jax.random.key(3)


def test_epoch_rule_covers_each_example_once_per_epoch_and_is_deterministic():
    n, b = 23, 5  # 4 batches per epoch; 3 examples sit out each epoch
    sampler = jax.jit(batch_sampler(n, b, rule="epoch"))
    for epoch in range(3):
        idx = np.concatenate([np.asarray(sampler(KEY, epoch * 4 + s)) for s in range(4)])
        assert len(set(idx.tolist())) == 20 and idx.min() >= 0 and idx.max() < n
    np.testing.assert_array_equal(
        sampler(KEY, 7), batch_indices(KEY, 7, num_examples=n, batch_size=b)
    )
    assert not np.array_equal(sampler(KEY, 0), sampler(KEY, 4))  # a fresh permutation per epoch


def test_without_and_with_replacement_rules():
    s = batch_sampler(10, 10, rule="without_replacement")
    for t in range(3):
        assert sorted(np.asarray(s(KEY, t)).tolist()) == list(range(10))
    w = batch_sampler(3, 200, rule="with_replacement")
    draws = np.asarray(w(KEY, 0))
    assert set(draws.tolist()) == {0, 1, 2}  # 200 draws of 3 values: all appear (p ~ 1 - 3e-35)
    assert not np.array_equal(np.asarray(w(KEY, 0)), np.asarray(w(KEY, 1)))


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"num_examples": 0, "batch_size": 1}, ValueError, "num_examples must be an int >= 1"),
        (
            {"num_examples": 5, "batch_size": 6},
            ValueError,
            "batch_size must be an int >= 1 and <= 5",
        ),
        ({"num_examples": 5, "batch_size": 2.0}, TypeError, "batch_size must be an int"),
        (
            {"num_examples": 5, "batch_size": 2, "rule": "shuffle"},
            ValueError,
            "rule must be one of",
        ),
    ],
)
def test_sampler_refuses_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        batch_sampler(**kwargs)


def _quadratic(params, x, y):
    return jnp.mean((x @ params["w"] - y) ** 2)


def test_optax_scan_equals_a_python_loop_for_both_batch_sources():
    rng = np.random.default_rng(0)
    x, y = jnp.asarray(rng.normal(size=(6, 8, 3))), jnp.asarray(rng.normal(size=(6, 8)))
    opt = optax.adam(0.1)
    params = {"w": jnp.zeros(3)}
    ref_p, ref_s, ref_losses = params, opt.init(params), []
    for t in range(6):
        loss, g = jax.value_and_grad(_quadratic)(ref_p, x[t], y[t])
        upd, ref_s = opt.update(g, ref_s, ref_p)
        ref_p = optax.apply_updates(ref_p, upd)
        ref_losses.append(loss)
    out = jax.jit(lambda p, s: optax_scan(_quadratic, opt, p, s, batches=(x, y)))(
        params, opt.init(params)
    )
    np.testing.assert_allclose(out.params["w"], ref_p["w"], rtol=1e-6)
    np.testing.assert_allclose(out.losses, jnp.stack(ref_losses), rtol=1e-6)
    # The same run with the batch drawn from the step index, resumed half-way.
    first = optax_scan(
        _quadratic, opt, params, opt.init(params), batch_fn=lambda t: (x[t], y[t]), num_steps=3
    )
    second = optax_scan(
        _quadratic,
        opt,
        first.params,
        first.opt_state,
        batch_fn=lambda t: (x[t], y[t]),
        num_steps=3,
        start_step=3,
    )
    np.testing.assert_allclose(second.params["w"], ref_p["w"], rtol=1e-6)


def test_optax_scan_aux_and_errors():
    x, y = jnp.ones((2, 4, 3)), jnp.ones((2, 4))
    res = optax_scan(
        lambda p, a, b: (_quadratic(p, a, b), jnp.sum(p["w"])),
        optax.sgd(0.1),
        {"w": jnp.zeros(3)},
        optax.sgd(0.1).init({"w": jnp.zeros(3)}),
        batches=(x, y),
        has_aux=True,
    )
    assert res.aux.shape == (2,) and float(res.aux[0]) == 0.0
    p = {"w": jnp.zeros(3)}
    s = optax.sgd(0.1).init(p)
    with pytest.raises(ValueError, match="exactly one of batches"):
        optax_scan(_quadratic, optax.sgd(0.1), p, s)
    with pytest.raises(ValueError, match="one shared leading T axis"):
        optax_scan(_quadratic, optax.sgd(0.1), p, s, batches=(x, y[:1]))
    with pytest.raises(TypeError, match="optimizer must be an optax"):
        optax_scan(_quadratic, "sgd", p, s, batches=(x, y))
    with pytest.raises(TypeError, match="num_steps must be an int"):
        optax_scan(_quadratic, optax.sgd(0.1), p, s, batch_fn=lambda t: (x[0], y[0]), num_steps=2.0)


def test_sweep_runs_every_configuration_like_separate_runs():
    x, y = jnp.ones((3, 4, 3)), jnp.arange(12.0).reshape(3, 4)
    configs = stack_configs([{"lr": 0.01}, {"lr": 0.05}, {"lr": 0.1}])

    def run(config, data_x, data_y):
        opt = optax.sgd(config["lr"])
        p = {"w": jnp.zeros(3)}
        return optax_scan(_quadratic, opt, p, opt.init(p), batches=(data_x, data_y)).params["w"]

    swept = sweep(run, in_axes=(0, None, None))(configs, x, y)
    assert sweep_size(configs) == 3 and swept.shape == (3, 3)
    for i, lr in enumerate([0.01, 0.05, 0.1]):
        np.testing.assert_allclose(swept[i], run({"lr": lr}, x, y), rtol=1e-6)
    with pytest.raises(ValueError, match=r"configs\[1\] has keys"):
        stack_configs([{"lr": 0.1}, {"seed": 0}])
    with pytest.raises(ValueError, match="share one leading size"):
        sweep_size({"a": jnp.ones(2), "b": jnp.ones(3)})


def test_sampled_step_gathers_the_step_batch():
    from jaxml.train import sampled_step

    x, y = jnp.arange(10.0)[:, None], jnp.arange(10)
    sampler = batch_sampler(10, 4, rule="without_replacement")
    step = sampled_step(lambda s, xb, yb: s + jnp.sum(xb[:, 0]) - jnp.sum(yb), sampler, KEY)
    idx = sampler(KEY, 5)
    assert float(step(0.0, 5, x, y)) == 0.0 and float(step(0.0, 5, 2 * x, y)) == float(jnp.sum(idx))
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        sampled_step(lambda s: s, sampler, 0)


def test_scan_steps_equals_a_python_loop():
    from jaxml.train import sampled_step, scan_steps

    x = jnp.arange(12.0)[:, None]
    sampler = batch_sampler(12, 3, rule="without_replacement")
    step = sampled_step(lambda s, xb: (s + jnp.sum(xb), jnp.sum(xb)), sampler, KEY)
    state, outs = jax.jit(lambda s0, x: scan_steps(step, s0, num_steps=4, start_step=5, args=(x,)))(
        0.0, x
    )
    s, expect = 0.0, []
    for t in range(5, 9):
        s, out = step(s, t, x)
        expect.append(out)
    np.testing.assert_allclose(outs, np.asarray(expect), rtol=0, atol=0)
    np.testing.assert_allclose(state, s, rtol=0, atol=0)
    from jaxml.train import scan_steps as f

    with pytest.raises(ValueError, match="num_steps must be an int >= 1"):
        f(step, 0.0, num_steps=0)
    with pytest.raises(TypeError, match="step_fn must be"):
        f(None, 0.0, num_steps=2)
    with pytest.raises(TypeError, match="args must be a tuple"):
        f(step, 0.0, num_steps=2, args=x)


def test_sweep_logs_keep_diverged_configurations_out_of_the_loss():
    from jaxml.train import sweep_logs

    losses = np.array([[0.2, 0.4, 0.6], [np.nan, np.inf, 1.0]], np.float32)  # [lrs, seeds]
    logs = sweep_logs(losses)
    assert logs["non-finite runs"] == 2
    np.testing.assert_allclose(logs["loss (finite runs)"], 0.55, rtol=1e-6)
    assert sweep_logs(np.full((2, 3), np.nan)) == {"non-finite runs": 6}
    with pytest.raises(TypeError, match="losses must be a real array"):
        sweep_logs(np.array(["a"]))


def test_seed_keys_match_jax_random_key():
    keys = seed_keys([0, 3])
    expected = np.stack([jax.random.key_data(jax.random.key(s)) for s in (0, 3)])
    np.testing.assert_array_equal(jax.random.key_data(keys), expected)
