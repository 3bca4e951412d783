"""The bilevel loop (traces once, skips divergent hypersteps, tunes a real problem) and the
hyperparameter families."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.implicit import bilevel
from jaxml.implicit.hparams import (
    AugmentNet,
    augment,
    distilled_labels,
    init_distilled_inputs,
    init_dropout_logits,
    init_log_decay,
    l2_penalty,
    relaxed_dropout,
)


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    w_true = rng.normal(size=5).astype(np.float32)
    y = (x @ w_true + rng.normal(size=64)).astype(np.float32)
    xv = rng.normal(size=(64, 5)).astype(np.float32)
    yv = (xv @ w_true).astype(np.float32)
    return x, y, xv, yv


def _train(w, lam, x, y):
    return 0.5 * jnp.mean((x @ w - y) ** 2) + 0.5 * jnp.sum(jnp.exp(lam) * w**2)


def _val(w, lam, x, y):
    return 0.5 * jnp.mean((x @ w - y) ** 2)


def test_bilevel_traces_once_and_lowers_validation_loss():
    traces = []

    def counted_train(w, lam, x, y):
        traces.append(1)
        return _train(w, lam, x, y)

    x, y, xv, yv = _problem()
    opt = bilevel(counted_train, _val, optax.sgd(0.1), optax.adam(0.1), num_terms=5, alpha=0.1)
    # Start with far too much decay: the hyperstep must learn to lower it.
    state = opt.init(jnp.zeros(5), jnp.full(5, 2.0))
    update = jax.jit(opt.update)
    batches = (jnp.broadcast_to(x, (10, 64, 5)), jnp.broadcast_to(y, (10, 64)))
    _, info0 = update(state, batches, (xv, yv))
    first_val = float(info0["val_loss"])
    n_traces = len(traces)
    for _ in range(40):
        state, info = update(state, batches, (xv, yv))
    assert len(traces) == n_traces  # no retracing across steps
    assert int(state.step) == 40 and int(state.num_skipped) == 0
    assert float(info["val_loss"]) < 0.5 * first_val
    assert float(jnp.mean(state.hparams)) < 2.0  # decay lowered


def test_divergent_hyperstep_is_skipped_not_applied():
    x, y, xv, yv = _problem()
    # alpha = 50 makes ||I - alpha H|| > 1: the Neumann series grows.
    opt = bilevel(_train, _val, optax.sgd(0.05), optax.sgd(1.0), num_terms=5, alpha=50.0)
    state = opt.init(jnp.zeros(5), jnp.zeros(5))
    batches = (x[None], y[None])
    new, info = jax.jit(opt.update)(state, batches, (xv, yv))
    assert bool(info["skipped"]) and int(new.num_skipped) == 1
    np.testing.assert_array_equal(np.asarray(new.hparams), np.asarray(state.hparams))
    assert not np.array_equal(np.asarray(new.params), np.asarray(state.params))  # inner ran


def test_bilevel_rejects_bad_configuration():
    with pytest.raises(ValueError, match="method must be one of"):
        bilevel(_train, _val, optax.sgd(0.1), optax.adam(0.1), method="newton")
    with pytest.raises(ValueError, match="alpha is required"):
        bilevel(_train, _val, optax.sgd(0.1), optax.adam(0.1))
    opt = bilevel(_train, _val, optax.sgd(0.1), optax.adam(0.1), alpha=0.1)
    with pytest.raises(ValueError, match="train_batches"):
        opt.update(opt.init(jnp.zeros(5), jnp.zeros(5)), (), ())


def test_weight_decay_granularities_and_penalty():
    params = {"a": jnp.ones((3, 4)), "b": 2 * jnp.ones((4,))}
    shapes = {
        g: jax.tree.map(jnp.shape, init_log_decay(params, granularity=g))
        for g in ("weight", "unit", "layer")
    }
    assert shapes["weight"] == {"a": (3, 4), "b": (4,)}
    assert shapes["unit"] == {"a": (4,), "b": (4,)}
    assert shapes["layer"] == {"a": (), "b": ()}
    assert init_log_decay(params, granularity="global").shape == ()
    ld = init_log_decay(params, decay=0.1)
    np.testing.assert_allclose(float(l2_penalty(params, ld)), 0.5 * 0.1 * (12 + 16), rtol=1e-6)
    np.testing.assert_allclose(float(l2_penalty(params, jnp.log(0.1))), 0.5 * 0.1 * 28, rtol=1e-6)
    with pytest.raises(ValueError, match="granularity must be one of"):
        init_log_decay(params, granularity="neuron")
    with pytest.raises(ValueError, match="tree structure"):
        l2_penalty(params, {"a": jnp.zeros((3, 4))})


def test_relaxed_dropout_is_unbiased_and_differentiable():
    x = jnp.ones((20000, 3))
    logits = init_dropout_logits(3, 0.3)
    y = relaxed_dropout(jax.random.key(0), x, logits, temperature=0.05)
    np.testing.assert_allclose(np.asarray(jnp.mean(y, axis=0)), 1.0, atol=0.03)
    # P(drop > 1/2) = P(logit(p) + logistic noise > 0) = p exactly, at any temperature.
    assert abs(float(jnp.mean(y < 0.5 / 0.7)) - 0.3) < 0.015
    g = jax.grad(lambda lg: jnp.sum(relaxed_dropout(jax.random.key(1), x[:10], lg) ** 2))(logits)
    assert np.all(np.isfinite(np.asarray(g))) and np.any(np.asarray(g) != 0)
    with pytest.raises(ValueError, match="rate must be > 0 and < 1"):
        init_dropout_logits(3, 1.0)


def test_augment_net_starts_as_identity_and_distillation_shapes():
    net = AugmentNet(features=(4,))
    x = jax.random.uniform(jax.random.key(0), (2, 8, 8, 1))
    hp = net.init(jax.random.key(1), x, jnp.zeros((2, 8, 8, 1)))
    np.testing.assert_array_equal(np.asarray(augment(net, hp, x, jax.random.key(2))), np.asarray(x))
    inputs = init_distilled_inputs(jax.random.key(0), 10, 2, (8, 8, 1))
    labels = distilled_labels(10, 2)
    assert inputs.shape == (20, 8, 8, 1) and labels.tolist()[:4] == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
        distilled_labels(1, 1)
    assert isinstance(net, nn.Module)


def test_augment_net_convolutions_match_xla_conv_and_gradients(x64):
    # im2col (few input channels) and per-offset maps (one output channel) vs XLA's conv.
    from jaxml.implicit.hparams.augmentation import _conv_same

    for shape, jit in (((5, 3, 2, 5), jax.jit), ((3, 5, 6, 1), lambda f: f)):
        kx, kw = jax.random.split(jax.random.key(shape[2]))
        x = jax.random.normal(kx, (2, 6, 5, shape[2]), jnp.float64)
        w = jax.random.normal(kw, shape, jnp.float64)
        dn = jax.lax.conv_dimension_numbers(x.shape, w.shape, ("NHWC", "HWIO", "NHWC"))
        ref = lambda x, w, dn=dn: jax.lax.conv_general_dilated(
            x, w, (1, 1), "SAME", dimension_numbers=dn
        )
        ours = jit(lambda x, w, dn=dn: _conv_same(x, w, (1, 1), "SAME", dimension_numbers=dn))
        np.testing.assert_allclose(ours(x, w), ref(x, w), rtol=1e-12, atol=1e-12)
        grads = [jax.grad(lambda *a, c=c: jnp.sum(jnp.sin(c(*a))), (0, 1)) for c in (ours, ref)]
        for g, g_ref in zip(grads[0](x, w), grads[1](x, w), strict=True):
            np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-12)


def test_augment_net_equals_its_definition_with_xla_convolutions(x64):
    net, nhwc = AugmentNet(features=(3,), scale=0.5), ("NHWC", "HWIO", "NHWC")
    x = jax.random.uniform(jax.random.key(0), (2, 5, 4, 1), jnp.float64)
    hp = net.init(jax.random.key(1), x, x)
    noisy = lambda a: a.astype(jnp.float64) + jax.random.normal(jax.random.key(2), a.shape)
    hp = jax.tree.map(noisy, hp)  # float64 and non-zero (the output layer starts at zero)
    conv = lambda h, p: (
        jax.lax.conv_general_dilated(h, p["kernel"], (1, 1), "SAME", dimension_numbers=nhwc)
        + p["bias"]
    )
    noise = jax.random.normal(jax.random.key(3), x.shape, x.dtype)
    h = jax.nn.relu(conv(jnp.concatenate([x, noise], -1), hp["params"]["conv_0"]))
    expected = x + 0.5 * jnp.tanh(conv(h, hp["params"]["out"]))
    np.testing.assert_allclose(net.apply(hp, x, noise), expected, rtol=1e-12, atol=1e-12)


def test_chunked_mean_equals_the_plain_mean_and_its_gradient():
    from jaxml.implicit import chunked_mean

    x, y, xv, yv = _problem()
    w, lam = jnp.linspace(-1, 1, 5), jnp.full(5, -1.0)
    plain = _val(w, lam, xv, yv)
    chunked = chunked_mean(_val, 16)
    np.testing.assert_allclose(float(chunked(w, lam, xv, yv)), float(plain), rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(jax.grad(chunked)(w, lam, xv, yv)),
        np.asarray(jax.grad(_val)(w, lam, xv, yv)),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(float(jax.jit(chunked)(w, lam, xv, yv)), float(plain), rtol=1e-5)
    with pytest.raises(ValueError, match="not a multiple of chunk_size=10"):
        chunked_mean(_val, 10)(w, lam, xv, yv)
    with pytest.raises(ValueError, match="chunk_size must be an int >= 1"):
        chunked_mean(_val, 0)
