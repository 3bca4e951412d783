"""The trainers moved out of the IFT figures: fresh-model evaluation, inner resets, seed-vmapped
distillation, learned-augmentation arms, the inner L-BFGS solve and the spectrum diagnostics."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml import implicit as ift
from jaxml.implicit.hparams import (
    AugmentNet,
    distillation_losses,
    distilled_labels,
    init_distilled_inputs,
    random_real_draws,
)
from jaxml.models import MLP, evaluate


@pytest.fixture(scope="module")
def tiny():
    """A 2-class problem on 4x4 'images' and a linear classifier (shared compiled programs)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4, 4, 1)).astype(np.float32)
    y = (x.reshape(40, -1).sum(1) > 0).astype(np.int32)
    model = MLP(hidden=(), num_outputs=2)
    init = lambda key: model.init(key, jnp.zeros((1, 4, 4, 1)))
    return x, y, model, init


def test_fresh_trainer_equals_a_python_sgd_loop(tiny):
    x, y, model, init = tiny
    train_loss, _ = distillation_losses(model.apply, 1e-3)
    sgd = optax.sgd(0.1)
    keys = jax.random.split(jax.random.key(1), 3)
    params = jax.jit(ift.fresh_trainer(init, train_loss, sgd, 5))(x[:4], y[:4], keys)
    p = init(keys[2])
    for _ in range(5):
        p = jax.tree.map(lambda a, g: a - 0.1 * g, p, jax.grad(train_loss)(p, x[:4], y[:4]))
    chex.assert_trees_all_close(jax.tree.map(lambda a: a[2], params), p, rtol=1e-5, atol=1e-6)
    acc, own = ift.fresh_accuracy(
        ift.fresh_trainer(init, train_loss, sgd, 5),
        model.apply,
        jnp.stack([x[:4], x[4:8]]),
        jnp.stack([y[:4], y[4:8]]),
        keys,
        x,
        y,
    )
    assert acc.shape == own.shape == (2, 3)
    want = evaluate(model.apply, jax.tree.map(lambda a: a[0], params), x, y)["accuracy"]
    np.testing.assert_allclose(acc[0, 0], want, rtol=1e-6)
    with pytest.raises(TypeError, match="num_steps must be an int"):
        ift.fresh_trainer(init, train_loss, sgd, 2.0)
    with pytest.raises(ValueError, match="labels must have shape"):
        ift.fresh_accuracy(lambda *a: None, model.apply, x[None, :4], y[None, :3], keys, x, y)


def test_inner_resets_and_seeded_distillation(tiny):
    x, y, model, init = tiny
    train_loss, val_loss = distillation_losses(model.apply, 1e-3)
    inner = optax.sgd(0.1)
    solver = ift.bilevel(train_loss, val_loss, inner, optax.adam(0.01), num_terms=2, alpha=0.1)
    labels = distilled_labels(2, 1)
    init_inputs = lambda key: init_distilled_inputs(key, 2, 1, (4, 4, 1))
    runs = ift.distill_seeds(solver, init, init_inputs, inner, reset_every=2)
    keys = jax.random.split(jax.random.key(0), 2)
    states = runs.init(keys)
    batches = (jnp.tile(labels, (3, 1)),)
    update = jax.jit(runs.update)
    for step in range(3):
        states, info = update(states, keys, step, batches, (x, y))
    assert info["val_loss"].shape == (2,) and int(states.step[0]) == 3
    # Step 2 reset the model to init(fold_in(fold_in(key, 1), 1)) before its update: seed 1 equals
    # a single-seed run of with_inner_resets from the same keys.
    one = jax.jit(ift.with_inner_resets(solver, init, inner, 2))  # eager: 4x the compile work
    key = keys[1]
    state = solver.init(
        init(jax.random.fold_in(jax.random.fold_in(key, 1), 0)),
        init_inputs(jax.random.fold_in(key, 2)),
    )
    for step in range(3):
        state, _ = one(state, jax.random.fold_in(key, 1), step, batches, (x, y))
    chex.assert_trees_all_close(jax.tree.map(lambda a: a[1], states), state, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="period must be an int >= 1"):
        ift.with_inner_resets(solver, init, inner, 0)
    with pytest.raises(TypeError, match="solver must be a Bilevel"):
        ift.with_inner_resets(object(), init, inner, 1)


def test_augmentation_arms_share_batches_and_plain_arm_is_sgd(tiny):
    x, y, model, init = tiny
    net = AugmentNet(features=(2,), scale=0.5)
    inner = optax.sgd(0.1)
    arms = ift.augmentation_arms(model.apply, net, inner, optax.adam(0.01), num_terms=2, alpha=0.1)
    params = init(jax.random.key(0))
    aug = net.init(jax.random.key(1), x[:1], x[:1])
    states = arms.init(params, aug)
    batches = (
        x[:24].reshape(3, 8, 4, 4, 1),
        y[:24].reshape(3, 8),
        jax.random.split(jax.random.key(2), 3),
    )
    new, logs = jax.jit(arms.update)(states, batches, (x, y))
    assert set(logs) == {"identity_skipped", "neumann_skipped"}
    _, _, plain_loss = ift.augmentation_losses(model.apply, net)
    p = params
    for t in range(3):
        g = jax.grad(plain_loss)(p, batches[0][t], batches[1][t])
        p = jax.tree.map(lambda a, gi: a - 0.1 * gi, p, g)
    chex.assert_trees_all_close(new["plain"][0], p, rtol=1e-5, atol=1e-6)
    # the augmenter starts at the identity, so both bilevel arms took the plain arm's inner steps
    chex.assert_trees_all_close(new["neumann"].params, p, rtol=1e-5, atol=1e-6)
    stacked = jax.tree.map(lambda a: jnp.stack([a, a]), new)
    evals = ift.evaluate_arms(
        model.apply,
        net,
        stacked,
        {"test": (x, y), "val": (x, y), "outer": (x, y)},
        x,
        jax.random.key(3),
    )
    assert evals["plain_test_acc"].shape == (2,) and "neumann_aug_change" in evals
    record = ift.arm_curve_record(jax.device_get(evals), stacked)
    metrics = ift.arm_metrics(jax.device_get(evals), stacked)
    assert record["plain_test_acc_std"] == 0.0 and metrics["neumann"]["num_skipped"] == [0, 0]
    d = ift.paired_difference([0.9, 0.8, 0.7], [0.8, 0.8, 0.8])
    np.testing.assert_allclose(d["mean"], 0.0, atol=1e-12)
    np.testing.assert_allclose(d["se"], 0.1 / np.sqrt(3))
    with pytest.raises(ValueError, match="methods must be one of"):
        ift.augmentation_arms(model.apply, net, inner, inner, methods=("newton",), alpha=0.1)


def test_subset_split_and_random_draws():
    y = np.repeat(np.arange(3), 5).astype(np.int32)
    x = np.arange(15, dtype=np.float32)[:, None]
    (xs, ys), (xo, yo) = ift.subset_split(x, y, (x[:2], y[:2]), num_train=6, num_classes=3)
    assert np.bincount(np.asarray(ys)).tolist() == [2, 2, 2] and xo.shape == (2 + 9, 1)
    (_, _), (xo, _) = ift.subset_split(
        x, y, (x[:2], y[:2]), num_train=6, num_classes=3, add_unused=False
    )
    assert xo.shape == (2, 1)
    with pytest.raises(ValueError, match="num_train must be a multiple"):
        ift.subset_split(x, y, (x, y), num_train=7, num_classes=3)
    draws = random_real_draws(y, 3, 1, 4, seed=0)
    assert all(sorted(y[d].tolist()) == [0, 1, 2] for d in draws)
    with pytest.raises(ValueError, match="per_class"):
        random_real_draws(y, 3, 6, 1, seed=0)


def test_lbfgs_and_spectrum_on_a_diagonal_quadratic(x64):
    diag = jnp.array([0.01, 0.5, 2.0])
    loss = lambda w: 0.5 * jnp.sum(diag * (w["a"] - 1.0) ** 2)
    w = ift.lbfgs_minimize(loss, {"a": jnp.zeros(3)}, 50)
    np.testing.assert_allclose(w["a"], 1.0, atol=1e-8)
    hvp = ift.hvp_fn(loss, w)
    lam_max, lam_min = ift.hessian_extremes(hvp, w, iters=200, min_iters=2000)
    np.testing.assert_allclose([lam_max, lam_min], [2.0, 0.01], rtol=1e-6)
    cos, rel = ift.hypergradient_error({"a": jnp.array([1.0, 0.0])}, {"a": jnp.array([1.0, 1.0])})
    np.testing.assert_allclose([cos, rel], [1 / np.sqrt(2), 1 / np.sqrt(2)], rtol=1e-12)
    with pytest.raises(ValueError, match="approx must have the same tree structure as exact"):
        ift.hypergradient_error({"b": jnp.ones(2)}, {"a": jnp.ones(2)})
