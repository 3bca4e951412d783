"""The hyperbolic figures: verdict rules on crafted metrics (no training), tiny smoke runs."""

import copy

import numpy as np
import pytest

from experiments.harness import make_config, read_json
from experiments.hyperbolic import (
    large_hierarchy,
    poincare_embeddings,
    synthetic_matching,
    wordnet_matching,
)
from jaxml.hyperbolic import COLUMNS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# poincare_embeddings.summarize: d = 5 run, MAP >= 0.927 - 0.03, mean rank <= 1.5 x 1.26.


def _poincare_metrics(map5=0.92, mean_rank5=1.5, dims=(2, 5, 10)):
    res = {str(d): {"mean_rank": 3.0, "map": 0.6, "relations_per_second": 1e4} for d in dims}
    if "5" in res:
        res["5"].update(map=map5, mean_rank=mean_rank5)
    return {"results": res}


def test_poincare_embeddings_rule_passes_on_paper_like_numbers():
    summary = poincare_embeddings.summarize(_poincare_metrics())
    assert summary.matches is True
    assert isinstance(summary.thresholds, dict) and summary.thresholds
    assert "d=5: mean rank / MAP" in summary.numbers


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"map5": 0.89}, "MAP 0.890 <"),  # below 0.927 - 0.03 = 0.897
        ({"mean_rank5": 1.95}, "mean rank 1.95 >"),  # above 1.5 x 1.26 = 1.89
        ({"dims": (2, 10)}, "d = 5 was not run"),
    ],
)
def test_poincare_embeddings_rule_fails_on_each_condition(overrides, reason):
    summary = poincare_embeddings.summarize(_poincare_metrics(**overrides))
    assert summary.matches is False
    assert reason in summary.verdict
    assert summary.thresholds


# ---------------------------------------------------------------------------------------------
# wordnet_matching.summarize: >= 3 seeds, no divergence; every fraction: deep HOT mean P@1 and
# P@10 >= 0.02 above isometric HOT's and Euclidean's, P@1 above both on every seed; GW-then-HOT
# mean P@1 >= GW + 0.02.

_BASE = {"p_at_1": [0.05, 0.06, 0.04], "p_at_10": [0.2, 0.25, 0.22]}
_GOOD = {
    "deep_hot": {"p_at_1": [0.30, 0.32, 0.28], "p_at_10": [0.6, 0.62, 0.58]},
    "gromov_wasserstein": {"p_at_1": [0.18, 0.17, 0.19], "p_at_10": [0.5, 0.5, 0.5]},
    "gw_then_hot": {"p_at_1": [0.25, 0.24, 0.26], "p_at_10": [0.6, 0.6, 0.6]},
}


def _wordnet_metrics(change=None, seeds=(0, 1, 2)):
    results = {}
    for tag in ("removed_0", "removed_0.3"):
        results[tag] = {}
        for col in COLUMNS:
            row = copy.deepcopy(_GOOD.get(col, _BASE))
            row.update(seconds=[1.0, 1.1, 0.9], diverged=[False] * 3)
            if change is not None and change[:2] == (tag, col):
                row.update(change[2])
            results[tag][col] = row
    return {
        "seeds": list(seeds),
        "num_ground_truth_pairs": 1161,
        "chance_p_at_1": 1 / 1180,
        "structure_bound": 0.409,
        "structure_bound_exact": True,
        "source_embedding": {"map": [0.90, 0.91, 0.89]},
        "results": results,
    }


def test_wordnet_matching_rule_passes():
    summary = wordnet_matching.summarize(_wordnet_metrics())
    assert summary.matches is True, summary.verdict
    assert summary.verdict.startswith("holds")
    assert isinstance(summary.thresholds, dict) and summary.thresholds
    assert summary.numbers["removed_0.3: deep_hot P@1, mean +- std [min, max]"] == (
        "0.300 +- 0.016 [0.280, 0.320]"
    )


@pytest.mark.parametrize(
    ("change", "seeds", "reason"),
    [
        (None, (0, 1), "only 2 seed(s)"),
        (
            ("removed_0", "deep_hot", {"diverged": [False, True, False]}),
            (0, 1, 2),
            "removed_0: 1 deep registration(s) diverged",
        ),
        # isometric HOT mean P@1 0.29: deep HOT (0.30) above it on every seed, by < 0.02.
        (
            ("removed_0.3", "hyperbolic_ot", {"p_at_1": [0.29, 0.30, 0.27]}),
            (0, 1, 2),
            "removed_0.3: deep HOT mean p_at_1 0.300 < hyperbolic_ot 0.287 + 0.02",
        ),
        (
            ("removed_0", "euclidean_procrustes", {"p_at_10": [0.6, 0.6, 0.6]}),
            (0, 1, 2),
            "removed_0: deep HOT mean p_at_10 0.600 < euclidean_procrustes 0.600 + 0.02",
        ),
        # Euclidean ahead on one seed (means 0.30 vs 0.13).
        (
            ("removed_0", "euclidean_procrustes", {"p_at_1": [0.05, 0.05, 0.29]}),
            (0, 1, 2),
            "removed_0: deep HOT P@1 not above euclidean_procrustes on every seed",
        ),
        (
            ("removed_0.3", "gw_then_hot", {"p_at_1": [0.19, 0.18, 0.20]}),
            (0, 1, 2),
            "removed_0.3: GW-then-HOT mean P@1 0.190 < GW 0.180 + 0.02",
        ),
    ],
)
def test_wordnet_matching_rule_fails_on_each_condition(change, seeds, reason):
    summary = wordnet_matching.summarize(_wordnet_metrics(change, seeds))
    assert summary.matches is False
    assert summary.verdict.startswith("fails 1 condition(s): " + reason), summary.verdict
    assert summary.thresholds


# ---------------------------------------------------------------------------------------------
# synthetic_matching.summarize: >= 3 seeds; every size: isometry: hyperbolic OT mean >= 0.9,
# worst seed >= 0.8, Euclidean mean <= 0.5; independent: deep HOT mean P@1 and P@10 >= 0.02
# above isometric HOT and Euclidean, P@1 above both on every seed, no divergence.

_SYNTHETIC = {
    "isometry": {
        "hyperbolic_ot": {"p_at_1": [1.0, 0.98, 0.95]},
        "euclidean_procrustes": {"p_at_1": [0.2, 0.3, 0.1]},
    },
    "independent": {
        "deep_hot": {"p_at_1": [0.40, 0.50, 0.45], "p_at_10": [0.9, 0.95, 1.0]},
        "hyperbolic_ot": {"p_at_1": [0.05, 0.06, 0.04]},
        "euclidean_procrustes": {"p_at_1": [0.01, 0.02, 0.03]},
    },
}


def _synthetic_metrics(change=None, seeds=(0, 1, 2), sizes=(50, 100)):
    table = {}
    for setting, rows in _SYNTHETIC.items():
        for n in sizes:
            for method in synthetic_matching.SETTING_COLUMNS[setting]:
                row = {"p_at_1": [0.6, 0.7, 0.65], "p_at_10": [0.8, 0.85, 0.8]}
                row.update(seconds=[1.0] * 3, diverged=[False] * 3, **rows.get(method, {}))
                if change is not None and change[:3] == (setting, n, method):
                    row.update(change[3])
                table[f"{setting}/n={n}/{method}"] = row
            if setting == "independent":
                table[f"{setting}/n={n}/orbit_bound"] = [0.8, 0.85, 0.82]
    return {"seeds": list(seeds), "table": table}


def test_synthetic_matching_rule_passes():
    summary = synthetic_matching.summarize(_synthetic_metrics())
    assert summary.matches is True, summary.verdict
    assert summary.verdict.startswith("holds")
    assert isinstance(summary.thresholds, dict) and summary.thresholds
    assert summary.numbers["isometry/n=100/hyperbolic_ot P@1, mean +- std [min, max]"] == (
        "0.98 +- 0.02 [0.95, 1.00]"
    )


@pytest.mark.parametrize(
    ("change", "seeds", "reason"),
    [
        (None, (0, 1), "only 2 seed(s)"),
        (
            ("isometry", 100, "hyperbolic_ot", {"p_at_1": [0.85, 0.85, 0.88]}),
            (0, 1, 2),
            "isometry, n=100: hyperbolic OT mean P@1 0.86 < 0.9",
        ),
        (
            ("isometry", 100, "hyperbolic_ot", {"p_at_1": [1.0, 1.0, 0.75]}),
            (0, 1, 2),
            "isometry, n=100: hyperbolic OT worst seed P@1 0.75 < 0.8",
        ),
        (
            ("isometry", 50, "euclidean_procrustes", {"p_at_1": [0.6, 0.5, 0.55]}),
            (0, 1, 2),
            "isometry, n=50: Euclidean mean P@1 0.55 > 0.5",
        ),
        (
            ("independent", 100, "deep_hot", {"diverged": [True, False, False]}),
            (0, 1, 2),
            "independent, n=100: 1 deep registration(s) diverged",
        ),
        (
            ("independent", 50, "hyperbolic_ot", {"p_at_1": [0.39, 0.47, 0.44]}),
            (0, 1, 2),
            "independent, n=50: deep HOT mean p_at_1 0.45 < hyperbolic_ot 0.43 + 0.02",
        ),
        (
            ("independent", 50, "euclidean_procrustes", {"p_at_10": [0.95, 0.95, 0.95]}),
            (0, 1, 2),
            "independent, n=50: deep HOT mean p_at_10 0.95 < euclidean_procrustes 0.95 + 0.02",
        ),
        (
            ("independent", 100, "euclidean_procrustes", {"p_at_1": [0.01, 0.02, 0.46]}),
            (0, 1, 2),
            "independent, n=100: deep HOT P@1 not above euclidean_procrustes on every seed",
        ),
    ],
)
def test_synthetic_matching_rule_fails_on_each_condition(change, seeds, reason):
    summary = synthetic_matching.summarize(_synthetic_metrics(change, seeds))
    assert summary.matches is False
    assert summary.verdict.startswith("fails 1 condition(s): " + reason), summary.verdict
    assert summary.thresholds


# ---------------------------------------------------------------------------------------------
# large_hierarchy.summarize: >= 3 sizes spanning >= 10x, every method finite everywhere, log-log
# slope <= 3.


def _large_metrics(sizes=(100, 300, 1000), seconds=(1.0, 3.0, 10.0), p1=0.1):
    rows = []
    for n, sec in zip(sizes, seconds, strict=True):
        res = {m: {"seconds": sec, "p_at_1": p1, "p_at_10": 0.2} for m in large_hierarchy.METHODS}
        dense = large_hierarchy.dense_bytes(n, n, 5, 2)
        rows.append({"root": f"r{n}", "num_nodes": n, "results": res, "dense_bytes": dense})
        rows[-1]["peak_rss_mb"] = 100.0
    slopes = large_hierarchy._slopes(rows) if len(rows) > 1 else {}
    slopes = {m: slopes.get(m, float("nan")) for m in large_hierarchy.METHODS}
    return {"rows": rows, "slopes": slopes, "dense_limit_n": 20000}


def test_large_hierarchy_rule():
    ok = large_hierarchy.summarize(_large_metrics())
    assert ok.matches is True and ok.verdict.startswith("holds"), ok.verdict
    assert ok.thresholds["max log-log slope"] == 3.0
    steep = large_hierarchy.summarize(_large_metrics(seconds=(1.0, 27.0, 1001.0)))  # 3.0004
    assert steep.matches is False and "slope 3.00 > 3.0" in steep.verdict
    two = large_hierarchy.summarize(_large_metrics(sizes=(100, 1000), seconds=(1.0, 10.0)))
    assert two.matches is False and "only 2 size(s)" in two.verdict
    narrow = large_hierarchy.summarize(_large_metrics(sizes=(100, 300, 990)))
    assert narrow.matches is False and "sizes span 9.9x in n (need 10x" in narrow.verdict
    nan = large_hierarchy.summarize(_large_metrics(p1=float("nan")))
    assert nan.matches is False and "did not complete with a finite plan" in nan.verdict


# ---------------------------------------------------------------------------------------------
# Tiny smoke runs (the claims are judged at quick scale; tiny runs get no verdict).


def test_poincare_embeddings_tiny(tmp_path):
    config = make_config(poincare_embeddings.Config, "tiny", dims=(2,))
    metrics = poincare_embeddings.run(config, tmp_path)
    assert (tmp_path / "reconstruction.png").read_bytes()[:8] == PNG_MAGIC
    saved = read_json(tmp_path / "metrics.json")
    assert saved["num_nodes"] == 39 and saved["num_relations"] == 94  # monkey.n.01 closure
    res = metrics["results"]["2"]
    assert 1.0 <= res["mean_rank"] and 0.0 < res["map"] <= 1.0
    assert res["max_norm"] < 1.0 and res["relations_per_second"] > 0
    # A rerun resumes from the cached embedding and reproduces the numbers.
    again = poincare_embeddings.run(config, tmp_path)
    assert again["results"]["2"]["map"] == res["map"]
    summary = poincare_embeddings.summarize(metrics)
    assert "d=2: mean rank / MAP" in summary.numbers and not summary.matches  # no d = 5 run


def test_synthetic_matching_tiny(tmp_path):
    config = make_config(synthetic_matching.Config, "tiny", seeds=(0,))
    metrics = synthetic_matching.run(config, tmp_path)
    assert (tmp_path / "p_at_1.png").read_bytes()[:8] == PNG_MAGIC
    (row,) = metrics["rows"]
    for setting in synthetic_matching.SETTINGS:
        for method in synthetic_matching.SETTING_COLUMNS[setting]:
            p1, p10 = row[setting][method]["p_at_1"], row[setting][method]["p_at_10"]
            assert 0.0 <= p1 <= p10 <= 1.0 and not row[setting][method]["diverged"]
    # Even at this size the isometric copy is recovered by hyperbolic OT.
    assert row["isometry"]["hyperbolic_ot"]["p_at_1"] >= 0.9
    assert metrics["table"]["isometry/n=39/hyperbolic_ot"]["p_at_1"] == [
        row["isometry"]["hyperbolic_ot"]["p_at_1"]
    ]
    summary = synthetic_matching.summarize(metrics)
    assert summary.matches is False and "only 1 seed(s)" in summary.verdict


def test_wordnet_matching_tiny(tmp_path):
    config = make_config(wordnet_matching.Config, "tiny", removed_fractions=(0.1,), seeds=(0,))
    metrics = wordnet_matching.run(config, tmp_path)
    assert (tmp_path / "p_at_k.png").read_bytes()[:8] == PNG_MAGIC
    assert metrics["num_ground_truth_pairs"] == 39  # every monkey synset has a 3.3 twin
    row = metrics["results"]["removed_0.1"]
    assert row["embedding"]["relations"] == int(np.round(0.9 * 94))
    for method in COLUMNS:
        (p1,), (p10,) = row[method]["p_at_1"], row[method]["p_at_10"]
        assert 0.0 <= p1 <= p10 <= 1.0
        assert row[method]["seconds"][0] > 0
    summary = wordnet_matching.summarize(metrics)
    assert summary.matches is False and "only 1 seed(s)" in summary.verdict


def test_large_hierarchy_tiny(tmp_path):
    metrics = large_hierarchy.run(make_config(large_hierarchy.Config, "tiny"), tmp_path)
    assert (tmp_path / "cost_vs_n.png").read_bytes()[:8] == PNG_MAGIC
    (row,) = metrics["rows"]
    assert row["num_nodes"] == 39  # monkey.n.01
    for method in large_hierarchy.METHODS:
        assert 0.0 <= row["results"][method]["p_at_1"] <= 1.0
        assert row["results"][method]["seconds"] > 0
    assert metrics["dense_limit_n"] > 1000
    assert large_hierarchy.summarize(metrics).matches is False  # one size only
