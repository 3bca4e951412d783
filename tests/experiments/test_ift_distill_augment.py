"""IFT dataset-distillation and learned-augmentation figures: tiny-size smoke runs (the claims
themselves are checked at quick scale, see the module docstrings) and their verdict rules on
crafted metrics (one passing set, one failing set per condition of the rule)."""

import os

import numpy as np
import pytest

from experiments.harness import make_config, read_json
from experiments.ift import dataset_distillation, learned_augmentation

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Crash(Exception):
    pass


def _crash(code):
    raise _Crash(code)


def test_dataset_distillation_tiny_and_resume(tmp_path, monkeypatch):
    config = make_config(dataset_distillation.Config, "tiny", outer_schedule_steps=12)
    metrics = dataset_distillation.run(config, tmp_path / "whole")
    assert (tmp_path / "whole" / dataset_distillation.FIGURE).read_bytes()[:8] == PNG_MAGIC
    assert read_json(tmp_path / "whole" / "metrics.json")["num_hparams"] == 10 * 64
    images = np.asarray(metrics["distilled_images"])
    assert images.shape == (10, 64) and np.all(np.isfinite(images))
    # The hypersteps moved the images away from their noise initialization.
    assert np.std(images) > 1.5 * config.init_scale
    assert metrics["labels"] == list(range(10))
    n, s = config.num_eval_seeds, config.num_seeds
    assert len(metrics["distilled"]["test_accuracy"]) == n * s
    assert len(metrics["random_real"]["test_accuracy"]) == n * s
    # One gain per seed: its distilled set minus its own random draw.
    np.testing.assert_allclose(
        metrics["gain_per_seed"],
        np.subtract(metrics["distilled_per_seed_mean"], metrics["random_real_per_draw_mean"]),
    )
    # Random real draws are one training example of each class, distinct across draws.
    draws = [tuple(d) for d in metrics["random_real_indices"]]
    assert len(set(draws)) == len(draws) == s and all(len(d) == 10 for d in draws)
    # Even 20 SGD steps fit most of the 10 distilled images; the real training set beats chance.
    assert metrics["distilled_train_accuracy"] >= 0.5
    assert metrics["full_train"]["mean"] > 0.3
    steps = [h["step"] for h in metrics["history"]]
    assert steps[0] == 0 and steps[-1] == config.hypersteps
    summary = dataset_distillation.summarize(metrics)
    assert summary.thresholds
    assert summary.matches is False  # 2 seeds < the rule's 5, whatever the gain

    # Resets and batches depend on the step index only: killed after step 6 (the harness's
    # JAXML_CRASH_AT_STEP, os._exit patched), resumed to 12 == straight 12. The same config both
    # times: train_loop refuses a checkpoint written under another config.
    monkeypatch.setenv("JAXML_CRASH_AT_STEP", "6")
    monkeypatch.setattr(os, "_exit", _crash)
    with pytest.raises(_Crash):
        dataset_distillation.run(config, tmp_path / "split")
    monkeypatch.delenv("JAXML_CRASH_AT_STEP")
    resumed = dataset_distillation.run(config, tmp_path / "split")
    assert resumed["resumed_from_step"] == 6
    np.testing.assert_array_equal(resumed["distilled_images"], metrics["distilled_images"])
    assert resumed["distilled"] == metrics["distilled"]


def _acc(values):
    values = np.asarray(values, np.float64)
    return {
        "test_accuracy": values.tolist(),
        "mean": float(values.mean()),
        "std": float(values.std()),
    }


def _distill_metrics(gains=(0.30, 0.32, 0.28, 0.31, 0.29)):
    gains = np.asarray(gains)
    random = np.full(gains.size, 0.55)
    return {
        "num_hparams": 640,
        "num_seeds": gains.size,
        "distilled": _acc(random + gains),
        "random_real": _acc(random),
        "class_means": _acc([0.80]),
        "full_train": _acc([0.96]),
        "gain_per_seed": gains.tolist(),
        "gain_over_random_real": float(gains.mean()),
        "num_skipped_hypersteps": 0,
        "hypersteps": 2000,
        "wall_seconds": 100.0,
    }


def test_dataset_distillation_summarize_pass():
    summary = dataset_distillation.summarize(_distill_metrics())
    assert summary.matches is True
    assert isinstance(summary.thresholds, dict) and summary.thresholds


@pytest.mark.parametrize(
    "gains",
    [
        (0.30, 0.32, 0.28, 0.31),  # only 4 seeds
        (0.09, 0.10, 0.08, 0.09, 0.09),  # consistent but mean gain 0.09 < 0.10
        (0.60, 0.02, 0.05, 0.45, 0.08),  # mean 0.24 but std 0.27: gain < 2 x its spread
    ],
    ids=["seeds", "margin", "spread"],
)
def test_dataset_distillation_summarize_fails(gains):
    assert dataset_distillation.summarize(_distill_metrics(gains)).matches is False


def test_learned_augmentation_tiny(tmp_path):
    config = make_config(learned_augmentation.Config, "tiny")
    metrics = learned_augmentation.run(config, tmp_path)
    assert (tmp_path / learned_augmentation.FIGURE).read_bytes()[:8] == PNG_MAGIC
    assert read_json(tmp_path / "metrics.json")["num_train"] == config.num_train
    arms = metrics["arms"]
    assert set(arms) == set(learned_augmentation.ARMS)
    for arm in arms.values():
        assert len(arm["test_accuracy"]) == config.num_seeds
    # The augmenter starts at the identity and the hypersteps move it.
    hist = metrics["history"]
    assert hist[0]["neumann_aug_change"] == 0.0
    assert hist[-1]["neumann_aug_change"] > 0.0
    gain = metrics["gain_neumann_vs_plain"]
    np.testing.assert_allclose(
        gain["per_seed"],
        np.subtract(arms["neumann"]["test_accuracy"], arms["plain"]["test_accuracy"]),
    )
    summary = learned_augmentation.summarize(metrics)
    assert "gain Neumann - none" in summary.numbers and summary.thresholds
    assert summary.matches is False  # 2 seeds < the rule's 5, whatever the gain


def _paired(per_seed, se):
    return {"per_seed": list(per_seed), "mean": float(np.mean(per_seed)), "se": se}


def _augment_metrics(
    gain=(0.02, 0.03, 0.01, 0.02, 0.02),
    gain_se=0.0032,
    vs_identity=(0.0, 0.01, -0.01, 0.0, 0.005),
    vs_identity_se=0.0034,
):
    """Crafted metrics; the SEs are given (summarize reads them, it does not recompute them)."""
    arm = {
        "test_mean": 0.9,
        "test_std": 0.01,
        "test_loss_mean": 0.3,
        "test_loss_std": 0.01,
        "outer_loss": [0.3] * len(gain),
        "aug_change": [0.05] * len(gain),
        "num_skipped": [0] * len(gain),
    }
    return {
        "arms": {a: dict(arm) for a in learned_augmentation.ARMS},
        "gain_neumann_vs_plain": _paired(gain, gain_se),
        "gain_identity_vs_plain": _paired(gain, gain_se),
        "gain_neumann_vs_identity": _paired(vs_identity, vs_identity_se),
        "test_loss_change_neumann_vs_plain": _paired([-0.01] * len(gain), 0.001),
        "test_loss_change_identity_vs_plain": _paired([-0.01] * len(gain), 0.001),
        "num_train": 200,
        "num_outer": 1150,
        "num_test": 360,
        "num_aug_hparams": 2800,
        "wall_seconds": 100.0,
    }


def test_learned_augmentation_summarize_pass():
    summary = learned_augmentation.summarize(_augment_metrics())
    assert summary.matches is True
    assert isinstance(summary.thresholds, dict) and summary.thresholds


@pytest.mark.parametrize(
    "overrides",
    [
        {"gain": (0.02, 0.03, 0.01, 0.02)},  # only 4 seeds
        {"gain": (0.004, 0.005, 0.003, 0.004, 0.004), "gain_se": 0.0003},  # 0.004 < 0.005 margin
        {"gain_se": 0.011},  # mean 0.02 but 2 paired SE = 0.022
        {"vs_identity": (-0.01, -0.02, -0.01, 0.0, -0.01), "vs_identity_se": 0.0032},  # -0.01 < -SE
    ],
    ids=["seeds", "margin", "paired-se", "worse-than-identity"],
)
def test_learned_augmentation_summarize_fails(overrides):
    assert learned_augmentation.summarize(_augment_metrics(**overrides)).matches is False


def test_ift_config_errors():
    # (the training subset / held-out pool split is tested in tests/implicit/test_trainers.py)
    with pytest.raises(ValueError, match="num_train"):
        make_config(learned_augmentation.Config, "tiny", num_train=55)
    with pytest.raises(ValueError, match="outer_data"):
        make_config(learned_augmentation.Config, "tiny", outer_data="test")
    with pytest.raises(ValueError, match="reset_every"):
        make_config(dataset_distillation.Config, "tiny", reset_every=0)
    with pytest.raises(ValueError, match="num_seeds"):
        make_config(dataset_distillation.Config, "tiny", num_seeds=0)
