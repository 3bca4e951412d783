"""The deep Gaussian VAE: ELBO pieces, fixed vs learned sigma^2, training improves the ELBO."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.vae import (
    GaussianVAE,
    deep_vae_elbo,
    gaussian_kl_per_dim,
    init_vae_state,
    make_vae_train_step,
)


def test_kl_per_dim_against_numpy():
    m = np.array([[0.5, -1.0]])
    lv = np.array([[0.2, -0.3]])
    expected = 0.5 * (np.exp(lv) + m**2 - 1 - lv)
    np.testing.assert_allclose(np.asarray(gaussian_kl_per_dim(m, lv)), expected, rtol=1e-6)


def test_elbo_pieces_and_fixed_vs_learned_sigma2():
    model = GaussianVAE(data_dim=6, latent_dim=3, hidden=(16,))
    opt = optax.adam(1e-2)
    x = jax.random.uniform(jax.random.key(0), (64, 6))
    fixed = init_vae_state(model, opt, jax.random.key(1), 0.1, False)
    learned = init_vae_state(model, opt, jax.random.key(1), 0.1, True)
    elbo, aux = deep_vae_elbo(model, fixed.params, fixed.log_sigma2, x, jax.random.key(2))
    np.testing.assert_allclose(float(elbo), float(aux["recon"] - aux["kl"]), rtol=1e-6)
    assert aux["kl_per_dim"].shape == (64, 3)
    step = jax.jit(make_vae_train_step(model, opt))
    first = None
    for i in range(150):
        fixed, mf = step(fixed, x, jax.random.key(i))
        learned, ml = step(learned, x, jax.random.key(i))
        first = first if first is not None else float(mf["elbo"])
    assert float(fixed.log_sigma2) == pytest.approx(np.log(0.1), abs=1e-7)  # held fixed
    assert float(learned.log_sigma2) != pytest.approx(np.log(0.1), abs=1e-3)  # moved
    assert float(mf["elbo"]) > first  # training ascends the ELBO


def test_step_is_vmappable_over_configurations():
    model = GaussianVAE(data_dim=4, latent_dim=2, hidden=(8,))
    opt = optax.adam(1e-2)
    sig = jnp.array([0.01, 0.1, 1.0])
    learn = jnp.array([0.0, 1.0, 0.0])
    init = lambda s, flag: init_vae_state(model, opt, jax.random.key(0), s, flag)
    # Jitted: eagerly, every op of the VAE step compiles on its own (tens of seconds on 2 cores).
    states = jax.jit(jax.vmap(init))(sig, learn)
    x = jax.random.uniform(jax.random.key(1), (16, 4))
    step = make_vae_train_step(model, opt)
    batched, _ = jax.jit(jax.vmap(step, in_axes=(0, None, None)))(states, x, jax.random.key(2))
    single = jax.jit(init)(jnp.asarray(0.1), jnp.asarray(1.0))
    one, _ = jax.jit(step)(single, x, jax.random.key(2))
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a[1], b, rtol=1e-5, atol=1e-6),
        batched.params,
        one.params,
    )
    np.testing.assert_allclose(float(batched.log_sigma2[1]), float(one.log_sigma2), rtol=1e-6)


def test_init_rejects_non_positive_sigma2():
    model = GaussianVAE(data_dim=4, latent_dim=2, hidden=(8,))
    with pytest.raises(ValueError, match="sigma2 must be > 0"):
        init_vae_state(model, optax.adam(1e-3), jax.random.key(0), 0.0, False)
