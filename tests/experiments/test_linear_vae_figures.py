"""Tiny-size smoke tests of the linear-VAE figures (the claims are checked at quick scale)."""

import math

import pytest

from experiments.harness import make_config, read_json
from experiments.harness.experiment import SMOKE_VERDICT, verdict_label
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
        for key in ("posterior_mean_rel_err", "posterior_cov_rel_err", "posterior_var_max_rel_err"):
            assert run[key] >= 0.0 and math.isfinite(run[key])
    for name, steps in (("analytic", config.num_steps), ("mc", config.mc_num_steps)):
        history = metrics["history"][name]
        assert history[-1]["elbo"] > history[0]["elbo"]  # training ascends
        assert history[-1]["step"] == steps and history[0]["step"] == 0
    summary = linear_vae_vs_ppca.summarize(metrics)
    assert "gap, analytic ELBO (nats)" in summary.numbers
    assert summary.thresholds == linear_vae_vs_ppca.THRESHOLDS  # not loosened for tiny
    assert verdict_label(summary, read_json(tmp_path / "metrics.json")) == SMOKE_VERDICT


def test_stationary_points_tiny(tmp_path):
    config = make_config(stationary_points.Config, "tiny")
    metrics = stationary_points.run(config, tmp_path)
    assert (tmp_path / "hessian_vs_sigma2.png").read_bytes()[:8] == PNG_MAGIC
    assert metrics["num_cases"] == 3 * config.num_sigma2
    # The theory check is exact even at tiny size: signs agree everywhere.
    assert metrics["agreement_ppca"] == 1.0 and metrics["agreement_elbo"] == 1.0
    summary = stationary_points.summarize(metrics)
    assert summary.matches
    assert summary.thresholds["zero tolerance (x lambda_1)"] == config.zero_tol


# --------------------------------------------------------------------------------------------
# linear_vae_vs_ppca: the verdict rule on crafted metrics


def _vs_ppca_run(gap, angle, mean_err, cov_err):
    return {
        "gap_to_ppca": gap,
        "max_principal_angle_deg": angle,
        "posterior_mean_rel_err": mean_err,
        "posterior_cov_rel_err": cov_err,
        "posterior_var_max_rel_err": cov_err / 2,
        "decoder_offdiag_gram_rel": 0.001,
        "encoder_v_rel_err": 0.09,
        "posterior_kl_gap": 0.0003,
        "min_column_abs_cosine": 0.999,
        "sigma2": 0.027,
    }


def _vs_ppca_metrics(**override):
    """Passing numbers; ``override`` maps "analytic.key" / "mc.key" to a replacement value."""
    runs = {
        "analytic": _vs_ppca_run(gap=0.0005, angle=0.2, mean_err=0.002, cov_err=0.002),
        "mc": _vs_ppca_run(gap=0.03, angle=1.5, mean_err=0.01, cov_err=0.03),
    }
    for dotted, value in override.items():
        name, key = dotted.split(".")
        runs[name][key] = value
    return {"ppca_log_likelihood": 14.45, "ppca_sigma2": 0.027, "runs": runs}


def test_vs_ppca_summarize_passes():
    summary = linear_vae_vs_ppca.summarize(_vs_ppca_metrics())
    assert summary.matches is True
    assert isinstance(summary.thresholds, dict) and summary.thresholds
    assert "all within their bars" in summary.verdict


@pytest.mark.parametrize(
    "key, value, failed",
    [
        ("analytic.gap_to_ppca", 0.02, "analytic gap"),
        ("mc.gap_to_ppca", 0.2, "MC gap"),
        ("analytic.max_principal_angle_deg", 6.0, "analytic angle"),
        ("mc.max_principal_angle_deg", 12.0, "MC angle"),
        ("analytic.posterior_mean_rel_err", 0.02, "analytic encoder mean err"),
        ("analytic.posterior_cov_rel_err", 0.02, "analytic encoder cov err"),
        ("mc.posterior_mean_rel_err", 0.06, "MC encoder mean err"),
        ("mc.posterior_cov_rel_err", 0.06, "MC encoder cov err"),
        ("analytic.gap_to_ppca", float("nan"), "analytic gap"),
    ],
)
def test_vs_ppca_summarize_fails_on_each_condition(key, value, failed):
    summary = linear_vae_vs_ppca.summarize(_vs_ppca_metrics(**{key: value}))
    assert summary.matches is False
    assert f"failed: {failed}" in summary.verdict
    assert summary.thresholds


# --------------------------------------------------------------------------------------------
# stationary_points: the verdict rule on crafted metrics


def _sweep(predicted):
    """A sweep whose top eigenvalue sign follows ``predicted`` (True = saddle)."""
    return [
        {"sigma2": 0.1 * (i + 1), "top_ppca": 1.0 if p else -1.0, "predicted_saddle": p}
        for i, p in enumerate(predicted)
    ]


def _sp_metrics(
    agree_ppca=1.0, agree_elbo=1.0, skip=(True, True, False), zero=(True, False, False)
):
    return {
        "latent_dim": 2,
        "eigenvalues": [0.7, 0.6, 0.5, 0.4],
        "num_cases": 9,
        "agreement_ppca": agree_ppca,
        "agreement_elbo": agree_elbo,
        "zero_tol": 1e-6,
        "points": {
            "top 2 (MLE)": {"eigen_indices": [0, 1], "sweep": _sweep((False, False, False))},
            "skip u1": {"eigen_indices": [1, 2], "sweep": _sweep(skip)},
            "all collapsed": {"eigen_indices": [], "sweep": _sweep(zero)},
        },
    }


def test_stationary_points_summarize_passes():
    summary = stationary_points.summarize(_sp_metrics())
    assert summary.matches is True
    assert isinstance(summary.thresholds, dict) and summary.thresholds
    assert summary.numbers["skip u1: predicted saddles / maxima"] == "2 / 1"


@pytest.mark.parametrize(
    "change, why",
    [
        ({"agree_ppca": 0.99}, "99.0% (pPCA)"),
        ({"agree_elbo": 0.99}, "99.0% (ELBO)"),
        (
            {"skip": (True, True, True)},
            "never crosses the saddle/maximum transition for ['skip u1']",
        ),
        ({"zero": (False, False, False)}, "for ['all collapsed']"),
    ],
)
def test_stationary_points_summarize_fails_on_each_condition(change, why):
    summary = stationary_points.summarize(_sp_metrics(**change))
    assert summary.matches is False
    assert why in summary.verdict
    assert summary.thresholds
