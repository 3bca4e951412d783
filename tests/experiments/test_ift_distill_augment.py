"""Tiny-size smoke tests of the IFT dataset-distillation and learned-augmentation figures (the
claims themselves are checked at quick scale, see the module docstrings)."""

import dataclasses

import numpy as np
import pytest

from experiments.harness import make_config, read_json
from experiments.ift import dataset_distillation, learned_augmentation

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_dataset_distillation_tiny_and_resume(tmp_path):
    config = make_config(dataset_distillation.Config, "tiny", outer_schedule_steps=12)
    metrics = dataset_distillation.run(config, tmp_path / "whole")
    assert (tmp_path / "whole" / dataset_distillation.FIGURE).read_bytes()[:8] == PNG_MAGIC
    assert read_json(tmp_path / "whole" / "metrics.json")["num_hparams"] == 10 * 64
    images = np.asarray(metrics["distilled_images"])
    assert images.shape == (10, 64) and np.all(np.isfinite(images))
    # The hypersteps moved the images away from their noise initialization.
    assert np.std(images) > 1.5 * config.init_scale
    assert metrics["labels"] == list(range(10))
    n = config.num_eval_seeds
    assert len(metrics["distilled"]["test_accuracy"]) == n
    assert len(metrics["random_real"]["test_accuracy"]) == n * config.num_random_draws
    # Random real draws are one training example of each class, distinct across draws.
    draws = [tuple(d) for d in metrics["random_real_indices"]]
    assert len(set(draws)) == len(draws) and all(len(d) == 10 for d in draws)
    for row in ("distilled", "random_real", "class_means", "full_train"):
        acc = np.asarray(metrics[row]["test_accuracy"])
        assert np.all((acc >= 0) & (acc <= 1))
    # Even 20 SGD steps fit most of the 10 distilled images; the real training set beats chance.
    assert metrics["distilled_train_accuracy"] >= 0.5
    assert metrics["full_train"]["mean"] > 0.3
    steps = [h["step"] for h in metrics["history"]]
    assert steps[0] == 0 and steps[-1] == config.hypersteps
    summary = dataset_distillation.summarize(metrics)
    assert summary.matches == (metrics["gain_over_random_real"] >= config.min_gain)

    # Resets and batches depend on the step index only: stop at 6, resume to 12 == straight 12.
    dataset_distillation.run(dataclasses.replace(config, hypersteps=6), tmp_path / "split")
    resumed = dataset_distillation.run(config, tmp_path / "split")
    assert resumed["resumed_from_step"] == 6
    np.testing.assert_array_equal(resumed["distilled_images"], metrics["distilled_images"])
    assert resumed["distilled"] == metrics["distilled"]


def test_learned_augmentation_tiny(tmp_path):
    config = make_config(learned_augmentation.Config, "tiny")
    metrics = learned_augmentation.run(config, tmp_path)
    assert (tmp_path / learned_augmentation.FIGURE).read_bytes()[:8] == PNG_MAGIC
    assert read_json(tmp_path / "metrics.json")["num_train"] == config.num_train
    arms = metrics["arms"]
    assert set(arms) == set(learned_augmentation.ARMS)
    for arm in arms.values():
        assert len(arm["test_accuracy"]) == config.num_seeds
        assert all(0 <= a <= 1 for a in arm["test_accuracy"])
    # The augmenter starts at the identity and the hypersteps move it.
    hist = metrics["history"]
    assert hist[0]["neumann_aug_change"] == 0.0
    assert hist[-1]["neumann_aug_change"] > 0.0
    gain = metrics["gain_neumann_vs_plain"]
    np.testing.assert_allclose(
        gain["per_seed"],
        np.subtract(arms["neumann"]["test_accuracy"], arms["plain"]["test_accuracy"]),
    )
    assert "gain Neumann - none" in learned_augmentation.summarize(metrics).numbers


def test_learned_augmentation_splits_and_config_errors():
    config = make_config(learned_augmentation.Config, "tiny")
    (x_tr, y_tr), (x_out, _), (x_val, _), _ = learned_augmentation.split_data(config)
    assert x_tr.shape == (config.num_train, 8, 8, 1)
    assert np.bincount(np.asarray(y_tr), minlength=10).tolist() == [config.num_train // 10] * 10
    assert x_out.shape[0] > x_val.shape[0]  # held-out pool = val split + unused training digits
    only_val = make_config(learned_augmentation.Config, "tiny", outer_data="val")
    assert learned_augmentation.split_data(only_val)[1][0].shape == x_val.shape
    with pytest.raises(ValueError, match="num_train"):
        make_config(learned_augmentation.Config, "tiny", num_train=55)
    with pytest.raises(ValueError, match="outer_data"):
        make_config(learned_augmentation.Config, "tiny", outer_data="test")
    with pytest.raises(ValueError, match="reset_every"):
        make_config(dataset_distillation.Config, "tiny", reset_every=0)
