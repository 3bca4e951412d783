"""The vmapped sigma^2 sweep of deep VAEs (jaxml.vae.sigma_sweep) and the linear-model helpers."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.train import batch_sampler
from jaxml.vae import (
    GaussianVAE,
    init_vae_state,
    init_vae_sweep,
    linear_band,
    linear_collapse_prediction,
    make_vae_sweep_eval,
    make_vae_sweep_step,
    make_vae_train_step,
    sweep_collapse_records,
)

MODEL = GaussianVAE(data_dim=12, latent_dim=3, hidden=(8,))
OPT = optax.adam(1e-2)
SIGMA2S, LEARN = (0.01, 0.3, 0.05), (False, False, True)
KEY = jax.random.key(7)


@pytest.fixture(scope="module")
def swept():
    """Three steps of the vmapped sweep: ``(x_train, states, logs)``."""
    x_train = jax.random.uniform(jax.random.key(0), (50, 12))
    states = init_vae_sweep(MODEL, OPT, KEY, SIGMA2S, LEARN)
    step = jax.jit(make_vae_sweep_step(MODEL, OPT, jax.random.key(3), num_train=50, batch_size=16))
    for t in range(3):
        states, logs = step(states, t, x_train)
    return x_train, states, logs


def test_sweep_step_equals_single_config_steps(swept):
    """Each configuration of the vmapped step matches the plain per-config step run alone."""
    x_train, states, logs = swept
    vae_step = jax.jit(make_vae_train_step(MODEL, OPT))
    data_key, noise_key = jax.random.split(jax.random.key(3))
    sampler = batch_sampler(50, 16, rule="without_replacement")
    for i, (s2, learn) in enumerate(zip(SIGMA2S, LEARN, strict=True)):
        single = init_vae_state(MODEL, OPT, KEY, s2, learn)
        for t in range(3):
            x_batch = x_train[sampler(data_key, t)]
            single, single_logs = vae_step(single, x_batch, jax.random.fold_in(noise_key, t))
        batched = jax.tree.map(lambda a, i=i: a[i], states)
        chex.assert_trees_all_close(batched, single, rtol=1e-5, atol=1e-5)
        chex.assert_trees_all_close(
            {n: logs[n][i] for n in ("elbo", "kl", "sigma2")},
            {n: single_logs[n] for n in ("elbo", "kl", "sigma2")},
            rtol=1e-5,
            atol=1e-5,
        )
    # Fixed sigma^2 stays put; learned moves.
    np.testing.assert_allclose(jnp.exp(states.log_sigma2[:2]), SIGMA2S[:2], rtol=1e-6)
    assert abs(float(jnp.exp(states.log_sigma2[2])) - SIGMA2S[2]) > 1e-4


def test_sweep_step_chunks_equal_the_single_steps(swept):
    """steps_per_call=3: call c runs steps 3c .. 3c+2 (same batches and noise as single steps)."""
    x_train, states, logs = swept
    sizes = {"num_train": 50, "batch_size": 16}
    chunk = jax.jit(make_vae_sweep_step(MODEL, OPT, jax.random.key(3), **sizes, steps_per_call=3))
    step = jax.jit(make_vae_sweep_step(MODEL, OPT, jax.random.key(3), **sizes))
    start = init_vae_sweep(MODEL, OPT, KEY, SIGMA2S, LEARN)
    first, logs3 = chunk(start, 0, x_train)
    assert logs3["elbo"].shape == (3, 3)  # [steps, configs]
    chex.assert_trees_all_close(first, states, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logs3["elbo"][-1], logs["elbo"], rtol=1e-5)
    second, logs6 = chunk(first, 1, x_train)  # steps 3, 4, 5
    single = states
    for t in range(3, 6):
        single, single_logs = step(single, t, x_train)
    chex.assert_trees_all_close(second, single, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logs6["elbo"][-1], single_logs["elbo"], rtol=1e-5)
    assert int(second.step[0]) == 6


def test_sweep_eval_and_records(swept):
    x_train, states, _ = swept
    evaluate = jax.jit(make_vae_sweep_eval(MODEL, num_samples=2))
    ev = evaluate(states, x_train, jax.random.key(1))
    assert ev["kl_per_dim"].shape == (3, 3)
    for name in ("elbo", "recon", "kl", "sigma2", "collapsed", "active"):
        assert ev[name].shape == (3,)
    assert np.all((ev["collapsed"] >= 0) & (ev["collapsed"] <= 1))
    evals = np.linspace(1.0, 0.01, 12)
    records = sweep_collapse_records(ev, SIGMA2S, LEARN, evals, weak_kl=0.1)
    assert [r["index"] for r in records] == [0, 1, 2]
    assert [r["learned"] for r in records] == list(LEARN)
    for r, i in zip(records, range(3), strict=True):
        assert r["final_sigma2"] == pytest.approx(float(ev["sigma2"][i]))
        assert r["linear_prediction"] == linear_collapse_prediction(evals, r["final_sigma2"], 3)
        assert r["kl_per_dim_sorted"] == sorted(r["kl_per_dim_sorted"], reverse=True)
        assert 0.0 <= r["weak_fraction"] <= 1.0


def test_sweep_step_rejects_wrong_data(swept):
    _, states, _ = swept
    step = make_vae_sweep_step(MODEL, OPT, KEY, num_train=50, batch_size=16)
    with pytest.raises(ValueError, match="x_train must be"):
        step(states, 0, jnp.ones((49, 12)))
    with pytest.raises(ValueError, match="batch_size"):
        make_vae_sweep_step(MODEL, OPT, KEY, num_train=10, batch_size=11)
    with pytest.raises(ValueError, match="learn_sigma2"):
        init_vae_sweep(MODEL, OPT, KEY, (0.1, 0.2), (0.5, 1.0))


def test_linear_collapse_prediction():
    evals = np.array([1.0, 0.5, 0.2, 0.1, 0.01])
    assert linear_collapse_prediction(evals, 0.05, 4) == 0.0
    assert linear_collapse_prediction(evals, 0.2, 4) == 0.5  # 0.2 and 0.1 are <= 0.2
    assert linear_collapse_prediction(evals, 2.0, 4) == 1.0
    with pytest.raises(ValueError, match="latent_dim"):
        linear_collapse_prediction(evals, 0.1, 6)


def test_linear_band():
    assert linear_band([0.0, 0.25, 0.5, 1.0], 1) == [
        (0.0, 0.25),
        (0.0, 0.5),
        (0.25, 1.0),
        (0.5, 1.0),
    ]
    assert linear_band([0.0, 0.25, 0.5], 0) == [(0.0, 0.0), (0.25, 0.25), (0.5, 0.5)]
    assert linear_band([0.0, 0.25, 0.5], 5) == [(0.0, 0.5)] * 3
