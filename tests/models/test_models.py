"""Shared models and the plain classification step, checked against independent computations."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.models import (
    MLP,
    SmallCNN,
    accuracy,
    cross_entropy,
    evaluate,
    init_train_state,
    make_classifier,
    make_train_step,
)


def test_mlp_matches_numpy_forward():
    model = MLP(hidden=(5, 3), num_outputs=4)
    x = jax.random.normal(jax.random.key(0), (6, 2, 4))  # flattened to [6, 8]
    params = model.init(jax.random.key(1), x)
    p = jax.tree.map(np.asarray, params["params"])
    h = np.asarray(x).reshape(6, 8)
    for name in ("dense_0", "dense_1"):
        h = np.maximum(h @ p[name]["kernel"] + p[name]["bias"], 0.0)
    expected = h @ p["head"]["kernel"] + p["head"]["bias"]
    np.testing.assert_allclose(np.asarray(model.apply(params, x)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(3, 8, 8, 1), (3, 32, 32, 3), (3, 40, 1)])
def test_small_cnn_shapes_2d_and_1d(shape):
    model = SmallCNN(features=(4, 8), dense=16, num_outputs=10)
    x = jnp.ones(shape)
    params = model.init(jax.random.key(0), x)
    assert model.apply(params, x).shape == (3, 10)
    kernel = params["params"]["conv_0"]["kernel"]
    assert kernel.ndim == len(shape) - 2 + 2  # 3x3xCinxCout for images, 3xCinxCout for signals


def test_small_cnn_rejects_flat_inputs():
    with pytest.raises(ValueError, match="channels-last"):
        SmallCNN().init(jax.random.key(0), jnp.ones((2, 64)))


def test_make_classifier_by_name_and_errors():
    assert isinstance(make_classifier("mlp", num_classes=10, input_shape=(64,)), MLP)
    assert isinstance(make_classifier("cnn", num_classes=10, input_shape=(8, 8, 1)), SmallCNN)
    with pytest.raises(ValueError, match="name must be one of"):
        make_classifier("resnet", num_classes=10, input_shape=(64,))
    with pytest.raises(ValueError, match="input_shape=\\(64,\\)"):
        make_classifier("cnn", num_classes=10, input_shape=(64,))
    with pytest.raises(ValueError, match="num_classes"):
        make_classifier("mlp", num_classes=1, input_shape=(64,))


def test_cross_entropy_and_accuracy_against_numpy():
    logits = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [5.0, -5.0, 0.0]], np.float32)
    labels = np.array([0, 1, 2])
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = -logp[np.arange(3), labels].mean()
    np.testing.assert_allclose(float(cross_entropy(logits, labels)), expected, rtol=1e-6)
    assert float(accuracy(logits, labels)) == pytest.approx(1 / 3)


@pytest.mark.parametrize("batch_size", [1, 4, 10, 64])
def test_evaluate_chunks_and_padding_match_one_shot(batch_size):
    model = MLP(hidden=(8,), num_outputs=3)
    x = jax.random.normal(jax.random.key(0), (10, 5))
    y = jax.random.randint(jax.random.key(1), (10,), 0, 3)
    params = model.init(jax.random.key(2), x)
    logits = model.apply(params, x)
    got = evaluate(model.apply, params, x, y, batch_size=batch_size)
    jitted = jax.jit(lambda p, a, b: evaluate(model.apply, p, a, b, batch_size=batch_size))(
        params, x, y
    )
    np.testing.assert_allclose(float(got["loss"]), float(cross_entropy(logits, y)), rtol=1e-5)
    assert float(got["accuracy"]) == pytest.approx(float(accuracy(logits, y)))
    np.testing.assert_allclose(float(jitted["loss"]), float(got["loss"]), rtol=1e-5)


def test_evaluate_rejects_mismatched_inputs():
    model = MLP(hidden=(), num_outputs=2)
    params = model.init(jax.random.key(0), jnp.ones((1, 3)))
    with pytest.raises(ValueError, match="y must have shape \\[4\\]; got shape \\(3,\\)"):
        evaluate(model.apply, params, jnp.ones((4, 3)), jnp.zeros(3, jnp.int32))
    with pytest.raises(ValueError, match="x must have at least one row"):
        evaluate(model.apply, params, jnp.ones((0, 3)), jnp.zeros(0, jnp.int32))


def test_train_step_is_sgd_on_the_cross_entropy_and_jit_agrees():
    model = MLP(hidden=(6,), num_outputs=3)
    x = jax.random.normal(jax.random.key(0), (16, 4))
    y = jax.random.randint(jax.random.key(1), (16,), 0, 3)
    params = model.init(jax.random.key(2), x)
    opt = optax.sgd(0.5)
    step = make_train_step(model.apply, opt)
    state = init_train_state(params, opt)
    new, metrics = step(state, x, y)
    grads = jax.grad(lambda p: cross_entropy(model.apply(p, x), y))(params)
    expected = jax.tree.map(lambda p, g: p - 0.5 * g, params, grads)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), new.params, expected
    )
    assert int(new.step) == 1
    np.testing.assert_allclose(
        float(metrics["loss"]), float(cross_entropy(model.apply(params, x), y)), rtol=1e-6
    )
    new_jit, _ = jax.jit(step)(state, x, y)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        new_jit.params,
        new.params,
    )
    # A few hundred steps fit 16 points.
    for _ in range(200):
        state, metrics = jax.jit(step)(state, x, y)
    assert float(metrics["accuracy"]) == 1.0
