"""pPCA diagnostics: predicted saddles, principal angles, column cosines, encoder mismatch."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.vae import (
    decoder_column_cosines,
    linear_vae_encoder_mismatch,
    linear_vae_from_decoder,
    linear_vae_init,
    ppca_predicted_saddle,
    principal_angles_deg,
)


def test_predicted_saddle_rule():
    evals = np.array([4.0, 3.0, 2.0, 1.0])
    assert not ppca_predicted_saddle((0, 1), 2, evals, 0.5)  # the MLE
    assert ppca_predicted_saddle((1, 2), 2, evals, 0.5)  # skips lambda_1 = 4 > sigma2
    assert not ppca_predicted_saddle((1, 2), 2, evals, 5.0)  # sigma2 above all: collapsed max
    assert ppca_predicted_saddle((), 2, evals, 3.5)  # W = 0 with lambda_1 > sigma2
    assert not ppca_predicted_saddle((0,), 1, evals, 0.5)
    with pytest.raises(ValueError, match="eigen_indices"):
        ppca_predicted_saddle((0, 0), 2, evals, 0.5)


def test_principal_angles_and_column_cosines():
    u = np.eye(5)[:, :2]
    rot = np.array([[np.cos(0.1), -np.sin(0.1)], [np.sin(0.1), np.cos(0.1)]])
    w = u @ np.diag([2.0, 1.0]) @ rot  # same span, rotated columns
    np.testing.assert_allclose(principal_angles_deg(w, u), 0.0, atol=1e-6)
    tilted = u.copy()
    tilted[:, 1] = [0.0, np.cos(0.2), np.sin(0.2), 0.0, 0.0]
    np.testing.assert_allclose(principal_angles_deg(tilted, u)[0], np.degrees(0.2), rtol=1e-9)
    # Columns on the eigenvectors, stored in any order, any sign: cosines 1.
    on = u * np.array([3.0, -1.0])  # norms decrease with the eigenvalue order
    np.testing.assert_allclose(decoder_column_cosines(on[:, ::-1], u), 1.0, rtol=1e-6)
    cos = jax.jit(decoder_column_cosines)(jnp.asarray(w), jnp.asarray(u))
    assert float(cos.min()) < 0.999  # rotated by 0.1 rad


def test_encoder_mismatch_zero_at_the_optimal_encoder(x64):
    w = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 3)))[0] * np.array([3.0, 2.0, 1.0])
    p = linear_vae_from_decoder(w, np.zeros(6), 0.1)
    got = linear_vae_encoder_mismatch(p)
    chex.assert_trees_all_close(
        got,
        {"encoder_v_rel_err": 0.0, "encoder_d_max_rel_err": 0.0, "decoder_offdiag_gram_rel": 0.0},
        atol=1e-12,
    )
    far = linear_vae_encoder_mismatch(linear_vae_init(jax.random.key(0), 6, 3))
    assert float(far["encoder_v_rel_err"]) > 0.1
