"""experiments.opinions.minority_exclusion: a tiny end-to-end run and the verdict rule."""

import copy
import json

import pytest

from experiments.opinions.minority_exclusion import CLAIM, Config, run, summarize


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("minority_exclusion")
    config = Config(scale="tiny", **Config.SCALES["tiny"])
    return workdir, run(config, workdir)


def test_tiny_run_writes_every_output(tiny):
    workdir, metrics = tiny
    assert (workdir / "minority_exclusion.png").stat().st_size > 10_000
    assert "| annotators per sample |" in (workdir / "evaluation_spec.md").read_text()
    stored = json.loads((workdir / "metrics.json").read_text())
    assert set(stored["ways"]) == {
        "majority_vote",
        "dawid_skene",
        "soft_labels",
        "per_annotator_heads",
    }
    for m in stored["ways"].values():
        assert len(m["per_annotator_accuracy"]) == stored["spec"]["num_annotators"]
        assert all(0.0 <= a <= 1.0 for a in m["per_annotator_accuracy"])
    assert stored["scale"] == "tiny"
    assert abs(stored["disagreement"] - 0.3) < 0.05  # digits 2, 5, 9: ~30% of the images
    summary = summarize(stored)
    assert "evaluation spec" in summary.numbers and summary.thresholds


def _passing():
    way = {
        "group_accuracy": [0.85, 0.70],
        "group_gap": 0.15,
        "minority_opinion_accuracy": 0.2,
        "accuracy_vs_majority_vote": 0.95,
        "coverage": 0.8,
        "follows_rule": [0.97, 0.7],
    }
    heads = dict(way, group_accuracy=[0.85, 0.83], group_gap=0.02)
    heads.pop("accuracy_vs_majority_vote")
    return {
        "ways": {
            "majority_vote": way,
            "dawid_skene": dict(way),
            "soft_labels": dict(way),
            "per_annotator_heads": heads,
        },
        "min_gap": 0.10,
        "min_aggregate_accuracy": 0.9,
        "group_names": ["majority", "minority"],
        "disagreement": 0.3,
        "spec": {
            "users": "u",
            "num_samples": 10,
            "annotators_per_sample": [10, 10.0, 10],
            "attributes": ["group"],
            "label_scale": ["0", "1"],
            "evaluated_per": "annotator",
        },
    }


@pytest.mark.parametrize(
    "path, value, fragment",
    [
        (("majority_vote", "group_accuracy"), [0.85, 0.76], "majority_vote minority gap 9.0"),
        (("dawid_skene", "group_accuracy"), [0.80, 0.75], "dawid_skene minority gap 5.0"),
        (("majority_vote", "accuracy_vs_majority_vote"), 0.85, "majority_vote accuracy vs"),
        (("dawid_skene", "accuracy_vs_majority_vote"), 0.89, "dawid_skene accuracy vs"),
        (("per_annotator_heads", "group_accuracy"), [0.9, 0.78], "per-annotator heads gap 12.0"),
    ],
)
def test_verdict_rule_one_failure_per_condition(path, value, fragment):
    ok = summarize(_passing())
    assert ok.matches and ok.verdict.startswith("holds"), ok.verdict
    bad = copy.deepcopy(_passing())
    bad["ways"][path[0]][path[1]] = value
    s = summarize(bad)
    assert not s.matches and "fails 1 condition" in s.verdict and fragment in s.verdict, s.verdict


def test_claim_states_x():
    assert "X = 10 points" in CLAIM
