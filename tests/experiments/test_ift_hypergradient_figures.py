"""Tiny-size smoke tests of the IFT figures written alongside the library."""

from experiments.harness import make_config
from experiments.ift import hypergradient_accuracy

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_hypergradient_accuracy_tiny(tmp_path):
    config = make_config(hypergradient_accuracy.Config, "tiny")
    metrics = hypergradient_accuracy.run(config, tmp_path)
    assert (tmp_path / "hypergradient_accuracy.png").read_bytes()[:8] == PNG_MAGIC
    r = metrics["results"]["logreg"]
    assert [row["terms"] for row in r["cg"]] == list(config.terms)
    # The 0-term Neumann point is the identity approximation.
    assert abs(r["neumann"][0]["cosine"] - r["identity"]["cosine"]) < 1e-9
    # More CG iterations never hurt on this convex problem.
    errs = [row["rel_error"] for row in r["cg"]]
    assert errs[-1] < errs[0]
    assert -1.0 <= r["neumann"][-1]["cosine"] <= 1.0
    summary = hypergradient_accuracy.summarize(metrics)
    assert "logreg: hyperparameters" in summary.numbers


def test_overfit_validation_tiny(tmp_path):
    from experiments.ift import overfit_validation

    config = make_config(overfit_validation.Config, "tiny")
    metrics = overfit_validation.run(config, tmp_path)
    assert (tmp_path / "overfit.png").read_bytes()[:8] == PNG_MAGIC
    history = metrics["history"]
    assert [r["step"] for r in history] == [0, 3, 6]
    assert metrics["num_hparams"] == 64 * 16 + 16 + 16 * 10 + 10  # one decay per weight
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert int(metrics["final"]["num_skipped"]) == 0
    assert "hyperparameters" in overfit_validation.summarize(metrics).numbers
