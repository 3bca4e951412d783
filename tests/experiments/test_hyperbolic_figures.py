"""Tiny-size smoke tests of the hyperbolic figures (the claims are checked at quick scale)."""

import numpy as np

from experiments.harness import make_config, read_json
from experiments.hyperbolic import poincare_embeddings, synthetic_matching, wordnet_matching
from jaxml.hyperbolic import METHODS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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
    config = make_config(synthetic_matching.Config, "tiny")
    metrics = synthetic_matching.run(config, tmp_path)
    assert (tmp_path / "p_at_1.png").read_bytes()[:8] == PNG_MAGIC
    (row,) = metrics["rows"]
    for setting in synthetic_matching.SETTINGS:
        for method in METHODS:
            p1, p10 = row[setting][method]["p_at_1"], row[setting][method]["p_at_10"]
            assert 0.0 <= p1 <= p10 <= 1.0
    # Even at this size the isometric copy is recovered by hyperbolic OT.
    assert row["isometry"]["hyperbolic_ot"]["p_at_1"] >= 0.9
    assert 0.0 < row["orbit_bound"] <= 1.0
    assert "isometry/n=39/hyperbolic_ot P@1 / P@10" in synthetic_matching.summarize(
        metrics).numbers


def test_wordnet_matching_tiny(tmp_path):
    config = make_config(wordnet_matching.Config, "tiny", removed_fractions=(0.1,))
    metrics = wordnet_matching.run(config, tmp_path)
    assert (tmp_path / "p_at_k.png").read_bytes()[:8] == PNG_MAGIC
    assert metrics["num_ground_truth_pairs"] == 39  # every monkey synset has a 3.3 twin
    row = metrics["results"]["removed_0.1"]
    assert row["embedding"]["relations"] == int(np.round(0.9 * 94))
    for method in METHODS:
        assert 0.0 <= row[method]["p_at_1"] <= row[method]["p_at_10"] <= 1.0
    assert "chance P@1" in wordnet_matching.summarize(metrics).numbers
