"""Tiny-size smoke tests of the linear-VAE figures (the claims are checked at quick scale)."""

import numpy as np

from experiments.harness import make_config, read_json
from experiments.linear_vae import linear_vae_vs_ppca, stationary_points

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_linear_vae_vs_ppca_tiny(tmp_path):
    config = make_config(linear_vae_vs_ppca.Config, "tiny")
    metrics = linear_vae_vs_ppca.run(config, tmp_path)
    assert (tmp_path / "elbo_vs_step.png").read_bytes()[:8] == PNG_MAGIC
    assert read_json(tmp_path / "metrics.json")["latent_dim"] == config.latent_dim
    for run in metrics["runs"].values():
        # The ELBO never exceeds the log marginal of its own decoder (a lower bound).
        assert run["posterior_kl_gap"] > -1e-3
        assert run["gap_to_ppca"] > -1e-3
        assert len(run["principal_angles_deg"]) == config.latent_dim
    history = metrics["history"]
    assert history[-1]["elbo_analytic"] > history[0]["elbo_analytic"]  # training ascends
    summary = linear_vae_vs_ppca.summarize(metrics)
    assert "gap, analytic ELBO (nats)" in summary.numbers


def test_stationary_points_tiny(tmp_path):
    config = make_config(stationary_points.Config, "tiny")
    metrics = stationary_points.run(config, tmp_path)
    assert (tmp_path / "hessian_vs_sigma2.png").read_bytes()[:8] == PNG_MAGIC
    assert metrics["num_cases"] == 3 * config.num_sigma2
    # The theory check is exact even at tiny size: signs agree everywhere.
    assert metrics["agreement_ppca"] == 1.0 and metrics["agreement_elbo"] == 1.0
    assert stationary_points.summarize(metrics).matches


def test_predicted_saddle_rule():
    evals = np.array([4.0, 3.0, 2.0, 1.0])
    rule = stationary_points.predicted_saddle
    assert not rule((0, 1), 2, evals, 0.5)  # the MLE
    assert rule((1, 2), 2, evals, 0.5)  # skips lambda_1 = 4 > sigma2
    assert not rule((1, 2), 2, evals, 5.0)  # sigma2 above everything: collapsed maximum
    assert rule((), 2, evals, 3.5)  # W = 0 with lambda_1 > sigma2
    assert not rule((0,), 1, evals, 0.5)
