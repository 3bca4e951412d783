"""Each metric on a hand-computed 3-sample, 3-annotator case (jitted and not)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml import opinions as op

TABLE = op.AnnotationTable(
    [0, 0, 0, 1, 1, 2, 2], [0, 1, 2, 0, 1, 1, 2], [1, 1, 0, 0, 0, 1, 0], num_classes=2
)
# label counts: s0 [1, 2], s1 [2, 0], s2 [1, 1]; majority vote [1, 0, 0] (tie to 0)
PRED = jnp.array([1, 0, 1])


@pytest.mark.parametrize("jit", [False, True])
def test_per_annotator_accuracy_and_coverage(jit):
    f = jax.jit(op.per_annotator_accuracy) if jit else op.per_annotator_accuracy
    np.testing.assert_allclose(f(PRED, TABLE), [1.0, 1.0, 0.0])
    personal = jnp.array([[1, 1, 0], [0, 0, 0], [0, 1, 0]])  # every annotator's own label
    np.testing.assert_allclose(f(personal, TABLE), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(op.coverage(PRED, TABLE, 0.5), 2 / 3, rtol=1e-6)
    np.testing.assert_allclose(op.coverage(PRED, TABLE, 0.0), 1.0)


def test_votes():
    np.testing.assert_array_equal(op.majority_vote(TABLE, 2), [1, 0, 0])
    np.testing.assert_allclose(op.soft_labels(TABLE, 2), [[1 / 3, 2 / 3], [1, 0], [0.5, 0.5]])
    np.testing.assert_allclose(op.sample_agreement(TABLE), [2 / 3, 1.0, 0.5], rtol=1e-6)


def test_disparity_and_gini():
    disparity = jax.jit(op.accuracy_disparity, static_argnums=2)  # one program, not ~20 ops
    d = disparity(jnp.array([1.0, 1.0, 0.0]), jnp.array([0, 0, 1]), 2)
    np.testing.assert_allclose(d.gini, 1 / 3, rtol=1e-6)  # sum|xi-xj| = 4; 4/9 / (2 * 2/3)
    np.testing.assert_allclose(d.spread, 1.0)
    np.testing.assert_allclose(d.std, np.std([1.0, 1.0, 0.0]), rtol=1e-6)
    np.testing.assert_allclose(d.group_accuracy, [1.0, 0.0])
    assert int(d.worst_group) == 1 and float(d.group_gap) == 1.0
    d = disparity(jnp.array([0.5, 0.7]), jnp.array([2, 2]), 3)  # groups 0 and 1 are empty
    assert np.isnan(d.group_accuracy[:2]).all() and float(d.group_gap) == 0.0
    np.testing.assert_allclose(op.gini(jnp.array([0.0, 0.0, 0.0, 4.0])), 0.75)  # (n-1)/n


def test_opinion_accuracy():
    o = jax.jit(op.opinion_accuracy)(PRED, TABLE)
    # majority judgements: s0 a0, s0 a1, s1 a0, s1 a1, s2 a1, s2 a2 (tie): 5 hits of 6.
    np.testing.assert_allclose([o.majority, o.minority], [5 / 6, 0.0], rtol=1e-6)
    assert (int(o.num_majority), int(o.num_minority)) == (6, 1)


def test_accuracy_by_agreement():
    c = op.accuracy_by_agreement(PRED, TABLE, 4)  # agreements 2/3, 1, 1/2 -> bins 2, 3, 2
    np.testing.assert_allclose(c.edges, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(c.num_samples, [0, 0, 2, 1])
    np.testing.assert_allclose(c.annotator_accuracy[2:], [3 / 5, 1.0], rtol=1e-6)
    np.testing.assert_allclose(c.majority_accuracy[2:], [0.5, 1.0])
    assert np.isnan(c.annotator_accuracy[:2]).all()


def test_soft_label_cross_entropy_against_numpy():
    logits = np.array([[0.0, np.log(2.0)], [1.0, -1.0], [0.3, 0.3]], np.float32)
    p = np.array([[1 / 3, 2 / 3], [1, 0], [0.5, 0.5]])
    q = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    want = -np.mean(np.sum(p * np.log(q), axis=1))
    np.testing.assert_allclose(op.soft_label_cross_entropy(logits, TABLE), want, rtol=1e-6)
    np.testing.assert_allclose(op.soft_cross_entropy(logits, p.astype(np.float32)), want, rtol=1e-6)


def test_losses_of_heads_mask_missing_judgements():
    logits = jnp.log(jnp.array([[[0.25, 0.75], [0.5, 0.5]]]))  # 1 sample, 2 heads
    got = op.annotator_heads_cross_entropy(logits, jnp.array([[1, -1]]))
    np.testing.assert_allclose(got, -np.log(0.75), rtol=1e-6)


def test_metric_input_errors():
    with pytest.raises(ValueError, match=r"predictions must have shape \[num_samples\] = \[3\]"):
        op.per_annotator_accuracy(jnp.array([0, 1]), TABLE)
    with pytest.raises(TypeError, match="predictions must have a int dtype"):
        op.per_annotator_accuracy(jnp.array([0.0, 1.0, 1.0]), TABLE)
    with pytest.raises(ValueError, match="predictions must have every element"):
        op.per_annotator_accuracy(jnp.array([0, 2, 1]), TABLE)
    with pytest.raises(TypeError, match="table must be a jaxml.opinions.AnnotationTable"):
        op.per_annotator_accuracy(PRED, {"label": [1]})
    with pytest.raises(ValueError, match="num_classes must equal the table's label scale"):
        op.majority_vote(TABLE, 3)


def test_evaluation_report_bundles_the_metrics_and_spec_prints():
    t = op.AnnotationTable(
        [0, 0, 0, 1, 1, 2, 2],
        [0, 1, 2, 0, 1, 1, 2],
        [1, 1, 0, 0, 0, 1, 0],
        num_classes=2,
        attributes={"group": [0, 0, 1]},
        attribute_levels={"group": ("maj", "min")},
    )
    r = jax.jit(lambda p, tab: op.evaluation_report(p, tab, threshold=0.5, num_bins=4))(PRED, t)
    np.testing.assert_allclose(r["group_accuracy"], [1.0, 0.0])
    np.testing.assert_allclose(r["accuracy_vs_majority_vote"], 2 / 3, rtol=1e-6)  # MV [1, 0, 0]
    np.testing.assert_allclose(r["minority_opinion_accuracy"], 0.0)
    with pytest.raises(ValueError, match="attribute must name one of the table's attributes"):
        op.evaluation_report(PRED, t, attribute="gender")
    spec = op.EvaluationSpec.from_table(t, users="moderators", aggregation="majority_vote")
    assert spec.annotators_per_sample == (2, 2.33, 3) and spec.attributes == ("group",)
    text = spec.to_text()
    assert "| annotators per sample | min 2, mean 2.33, max 3 |" in text
    assert "| aggregation | majority_vote |" in text and spec.to_dict()["users"] == "moderators"


def test_rule_agreement():
    rules = jnp.array([[0, 1, 1, 0], [1, 1, 1, 0]])
    np.testing.assert_allclose(op.rule_agreement(jnp.array([0, 1, 1, 1]), rules, None), [0.75, 0.5])
    personal = jnp.array([[0, 1], [1, 1], [1, 1], [0, 0]])  # annotator 0 (group 0), 1 (group 1)
    np.testing.assert_allclose(op.rule_agreement(personal, rules, jnp.array([0, 1])), [1.0, 1.0])
