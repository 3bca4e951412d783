"""The model-comparison figure's verdict rule on crafted metrics (one pass, one fail per
condition), and its config validation."""

import copy

import pytest

from experiments.openml.model_comparison import (
    COMPETITIVE_MARGIN,
    SCORE_TOL,
    Config,
    summarize,
)

AUDIT = {
    "folds": 3,
    "leaked_rows": 0,
    "mismatched_folds": [],
    "untested_rows": 0,
    "compilations_after_first_fold": 0,
}


def _metrics(mlp=0.95, ift=0.96, logreg=0.96, forest=0.94):
    def entry(acc, jaxml):
        m = {"fold_accuracy": [acc] * 3, "mean_accuracy": acc, "stored_vs_live_max_diff": 0.0}
        if jaxml:
            m["audit"] = dict(AUDIT)
        return m

    return {
        "results": {
            "digits": {
                "jaxml MLP": entry(mlp, True),
                "jaxml MLP + IFT decay": entry(ift, True),
                "logistic regression": entry(logreg, False),
                "random forest": entry(forest, False),
            }
        }
    }


def test_passes():
    s = summarize(_metrics())
    assert s.matches and s.verdict.startswith("holds")
    assert s.thresholds["MLP margin below best sklearn"] == COMPETITIVE_MARGIN
    assert s.numbers["digits MLP - best sklearn"] == pytest.approx(-0.01)


@pytest.mark.parametrize("condition", ["stored", "leak", "mismatch", "compile", "competitive"])
def test_each_condition_fails(condition):
    m = _metrics(mlp=0.95 - COMPETITIVE_MARGIN - 0.02 if condition == "competitive" else 0.95)
    r = copy.deepcopy(m)
    entry = r["results"]["digits"]["jaxml MLP"]
    if condition == "stored":
        r["results"]["digits"]["random forest"]["stored_vs_live_max_diff"] = 10 * SCORE_TOL + 1e-9
    elif condition == "leak":
        entry["audit"]["leaked_rows"] = 1
    elif condition == "mismatch":
        entry["audit"]["mismatched_folds"] = [(0, 1)]
    elif condition == "compile":
        entry["audit"]["compilations_after_first_fold"] = 1
    s = summarize(r)
    assert not s.matches and "fails 1 condition" in s.verdict


def test_config_validation():
    with pytest.raises(ValueError, match="datasets"):
        Config(datasets=("cifar",))
    with pytest.raises(ValueError, match="n_folds"):
        Config(n_folds=1)
