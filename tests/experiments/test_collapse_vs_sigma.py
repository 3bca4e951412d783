"""Collapse vs sigma^2 (Lucas et al. 2019): tiny end-to-end run and the vmapped sweep step."""

import os

import numpy as np
import pytest

from experiments.harness import Summary, make_config, read_json
from experiments.harness.experiment import SMOKE_VERDICT, verdict_label
from experiments.linear_vae import collapse_vs_sigma as cvs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """``(config, metrics, workdir)`` of one tiny run (shared: it is also the straight run)."""
    config = make_config(cvs.Config, "tiny")
    workdir = tmp_path_factory.mktemp("cvs_tiny")
    return config, cvs.run(config, workdir), workdir


def test_tiny_run_writes_metrics_figure_and_summary(tiny_run):
    config, metrics, tmp_path = tiny_run

    assert (tmp_path / cvs.FIGURE).read_bytes()[:8] == PNG_MAGIC
    assert read_json(tmp_path / "config.json")["num_steps"] == config.num_steps
    on_disk = read_json(tmp_path / "metrics.json")
    for key in (
        "sigma2_grid",
        "fixed",
        "learned",
        "collapsed_fraction_fixed",
        "active_units_fixed",
        "elbo_fixed",
        "linear_prediction_fixed",
        "learned_final_sigma2",
        "learned_collapsed_fraction",
        "eigenvalues",
        "spearman_sigma2_collapse",
        "history",
        "wall_seconds",
        "figures",
        "nonfinite_runs",
    ):
        assert key in on_disk, key
    assert on_disk["figures"] == [cvs.FIGURE]
    assert on_disk["nonfinite_runs"] == []

    n_fixed, n_learned = len(config.sigma2_grid), len(config.learned_inits)
    assert len(metrics["fixed"]) == len(metrics["collapsed_fraction_fixed"]) == n_fixed
    assert len(metrics["learned"]) == len(metrics["learned_final_sigma2"]) == n_learned
    assert len(metrics["eigenvalues"]) == 64
    for r in metrics["fixed"] + metrics["learned"]:
        assert 0.0 <= r["collapsed_fraction"] <= 1.0
        assert 0.0 <= r["linear_prediction"] <= 1.0
        assert 0 <= r["active_units"] <= config.latent_dim
        assert len(r["kl_per_dim_sorted"]) == config.latent_dim
        assert np.isfinite(r["elbo"]) and r["final_sigma2"] > 0
    # Fixed runs keep their sigma^2 exactly (up to float32 log/exp); learned ones move.
    np.testing.assert_allclose(
        [r["final_sigma2"] for r in metrics["fixed"]], config.sigma2_grid, rtol=1e-5
    )
    for r, init in zip(metrics["learned"], config.learned_inits, strict=True):
        assert r["final_sigma2"] != pytest.approx(init, rel=1e-6)
        assert 0.0 <= r["max_collapsed_during_training"] <= 1.0
    hist = metrics["history"]
    assert [h["step"] for h in hist] == list(range(0, config.num_steps + 1, config.eval_every))
    # The history keeps one [configs] array per metric (not flat "collapsed_3" keys).
    assert len(hist[-1]["collapsed"]) == len(hist[-1]["sigma2"]) == n_fixed + n_learned

    summary = cvs.summarize(on_disk)
    assert isinstance(summary, Summary)
    assert summary.thresholds == cvs.THRESHOLDS  # the fixed rule, not loosened for tiny
    assert verdict_label(summary, on_disk) == SMOKE_VERDICT
    assert "Spearman(collapsed, linear prediction)" in summary.numbers
    assert "max / mean |collapsed - linear|" in summary.numbers


def test_config_validation():
    with pytest.raises(ValueError, match="sigma2_grid"):
        make_config(cvs.Config, "tiny", sigma2_grid=(0.3, 0.01))
    with pytest.raises(ValueError, match="learned_inits"):
        make_config(cvs.Config, "tiny", learned_inits=(0.0,))


class _Crash(Exception):
    pass


def _crash(code):
    raise _Crash(code)


def test_resumed_run_matches_straight_run(tiny_run, tmp_path, monkeypatch):
    """Batches and noise depend on the step index only: killed at 10, resumed to 20 == straight."""
    config, straight, _ = tiny_run
    assert config.num_steps == 20 and config.checkpoint_every == 10
    monkeypatch.setenv("JAXML_CRASH_AT_STEP", "10")
    monkeypatch.setattr(os, "_exit", _crash)  # the harness "kills" the run after step 10
    with pytest.raises(_Crash):
        cvs.run(config, tmp_path / "resumed")
    monkeypatch.delenv("JAXML_CRASH_AT_STEP")
    resumed = cvs.run(config, tmp_path / "resumed")
    assert straight["resumed_from_step"] == 0 and resumed["resumed_from_step"] == 10
    for key in ("fixed", "learned", "history"):
        assert resumed[key] == straight[key], key


# --------------------------------------------------------------------------------------------
# The verdict rule on crafted metrics (no training)


def _run(i, s2, collapsed, linear, *, learned=False, final=None):
    return {
        "index": i,
        "learned": learned,
        "init_sigma2": s2,
        "final_sigma2": s2 if final is None else final,
        "collapsed_fraction": collapsed,
        "linear_prediction": linear,
        "active_units": 4,
        "weak_fraction": 0.0,
        "max_collapsed_during_training": collapsed,
        "max_collapsed_step": 0,
    }


def _crafted(
    measured=(0.0, 0.125, 0.25, 0.375, 0.5),
    linear=(0.0, 0.125, 0.25, 0.375, 0.5),
    rho_lin=0.95,
    small_collapsed=0.0,
    nonfinite=(),
    with_learned=True,
):
    """Metrics of a 5-point fixed grid plus learned runs from a small and a large init."""
    grid = (0.01, 0.03, 0.1, 0.3, 1.0)
    fixed = [
        _run(i, s2, m, p) for i, (s2, m, p) in enumerate(zip(grid, measured, linear, strict=True))
    ]
    learned = [
        _run(5, 0.001, small_collapsed, 0.0, learned=True, final=0.004),
        _run(6, 10.0, 0.9, 0.0, learned=True, final=0.01),  # large init: never judged
    ]
    return {
        "fixed": fixed,
        "learned": learned if with_learned else [],
        "spearman_sigma2_collapse": 0.9,
        "spearman_deep_vs_linear": rho_lin,
        "nonfinite_runs": list(nonfinite),
        "weak_kl": 0.1,
        "wall_seconds": 1.0,
    }


def test_summarize_passes_when_every_condition_holds():
    summary = cvs.summarize(_crafted())
    assert summary.matches is True
    assert isinstance(summary.thresholds, dict) and summary.thresholds
    assert summary.thresholds == cvs.THRESHOLDS
    assert "Spearman(collapsed, linear) 0.95" in summary.verdict
    # Shifted by one grid step everywhere (the deep VAE collapses one step earlier): still in.
    shifted = _crafted(measured=(0.0, 0.25, 0.75, 1.0, 1.0), linear=(0.0, 0.0, 0.25, 0.75, 1.0))
    assert cvs.summarize(shifted).matches is True


@pytest.mark.parametrize(
    "change, why",
    [
        ({"measured": (0.0, 0.125, 0.25, 0.375, 0.4375)}, "collapse grows by 0.44"),
        ({"rho_lin": 0.85}, "Spearman(collapsed, linear) 0.85"),
        ({"rho_lin": None}, "Spearman(collapsed, linear) None"),
        ({"measured": (0.0, 0.125, 0.5, 0.375, 0.5)}, "sigma2=0.1 0.50 not in [0.12, 0.38]"),
        ({"small_collapsed": 0.3125}, "0.31 collapsed (> 0.25)"),
        ({"nonfinite": (3,)}, "runs [3] diverged"),
        ({"with_learned": False}, "no learned-sigma2 run"),
    ],
)
def test_summarize_fails_when_one_condition_breaks(change, why):
    summary = cvs.summarize(_crafted(**change))
    assert summary.matches is False
    assert why in summary.verdict
    assert summary.thresholds


def test_large_init_learned_run_is_reported_not_judged():
    metrics = _crafted()
    metrics["learned"][1]["collapsed_fraction"] = 1.0  # stays collapsed: allowed ("may")
    summary = cvs.summarize(metrics)
    assert summary.matches is True and "not judged" in summary.verdict
