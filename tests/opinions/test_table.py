"""AnnotationTable: validation of bad tables, pytree behaviour, sub-tables."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.opinions import AnnotationTable

S = [0, 0, 0, 1, 1, 2, 2]
A = [0, 1, 2, 0, 1, 1, 2]
Y = [1, 1, 0, 0, 0, 1, 0]


def test_columns_counts_and_label_matrix():
    t = AnnotationTable(S, A, Y, num_classes=2, attributes={"group": [0, 0, 1]})
    assert (t.num_samples, t.num_annotators, t.num_labels) == (3, 3, 7)
    np.testing.assert_array_equal(t.label_counts(), [[1, 2], [2, 0], [1, 1]])
    np.testing.assert_array_equal(t.label_matrix(), [[1, 1, 0], [0, 0, -1], [-1, 1, 0]])
    np.testing.assert_array_equal(t.annotators_per_sample(), [3, 2, 2])
    assert t.attribute_levels == {"group": ("0", "1")}


def test_table_is_a_pytree_through_jit():
    t = AnnotationTable(S, A, Y, num_classes=2, attributes={"group": [0, 0, 1]})
    out = jax.jit(lambda tab: (tab.label_counts(), tab.attributes["group"] + 1))(t)
    np.testing.assert_array_equal(out[0], t.label_counts())
    np.testing.assert_array_equal(out[1], [1, 1, 2])
    back = jax.tree.unflatten(*reversed(jax.tree.flatten(t)))
    assert back.num_classes == 2 and back.annotator_keys == t.annotator_keys


def test_select_samples_renumbers_and_drops_unlabelled_annotators():
    t = AnnotationTable(S, A, Y, num_classes=2, annotator_keys=["u", "v", "w"])
    sub = t.select_samples(np.array([1, 0]))  # annotator "w" labels sample 0 only
    assert sub.num_samples == 2 and sub.sample_keys == (1, 0)
    assert sub.annotator_keys == ("u", "v", "w")
    sub = t.select_samples(np.array([1]))
    assert sub.annotator_keys == ("u", "v") and sub.num_labels == 2
    np.testing.assert_array_equal(sub.label_matrix(), [[0, 0]])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sample_id": [0, 5, 1]}, r"sample_id holds 1 unknown sample id.*first 5 at row 1"),
        ({"annotator_id": [0, 1, 9]}, r"annotator_id holds 1 unknown annotator id"),
        ({"annotator_id": [0, -1, 1]}, r"annotator_id must be >= 0; got -1 at row 1"),
        ({"label": [0, 2, 1]}, r"label must be on the scale 0..1.*first 2 at row 1"),
        ({"label": [0, -1, 1]}, r"label must be on the scale"),
        ({"num_annotators": 4}, r"2 annotator\(s\) of num_annotators = 4 have no labels.*\[2, 3\]"),
        ({"num_samples": 3}, r"1 sample\(s\) of num_samples = 3 have no labels"),
        (
            {"sample_id": [0, 0, 1], "annotator_id": [1, 1, 0]},
            r"pairs must be unique; got 1 duplicate.*\(sample 0, annotator 1\) at rows \[0, 1\]",
        ),
        ({"label": [0, 1]}, r"must have the same length"),
    ],
)
def test_bad_tables_get_clear_errors(kwargs, match):
    args = {"sample_id": [0, 1, 1], "annotator_id": [0, 0, 1], "label": [0, 1, 1]}
    args.update(kwargs)
    extra = {"num_samples": 2, "num_annotators": 2}  # explicit sizes: larger ids are unknown
    extra.update({k: args.pop(k) for k in ("num_annotators", "num_samples") if k in args})
    with pytest.raises(ValueError, match=match):
        AnnotationTable(**args, num_classes=2, **extra)


def test_type_errors_and_attribute_checks():
    with pytest.raises(TypeError, match="label must have a int dtype"):
        AnnotationTable([0], [0], [0.5], num_classes=2)
    with pytest.raises(ValueError, match=r"attributes\['g'\] must have shape \[2\]"):
        AnnotationTable([0, 0], [0, 1], [0, 1], num_classes=2, attributes={"g": [0]})
    with pytest.raises(ValueError, match="attribute_levels\\['g'\\] must name at least 2"):
        AnnotationTable(
            [0, 0],
            [0, 1],
            [0, 1],
            num_classes=2,
            attributes={"g": [0, 1]},
            attribute_levels={"g": ["only"]},
        )
    with pytest.raises(TypeError, match="concrete"):
        jax.jit(lambda y: AnnotationTable([0], [0], y, num_classes=2))(jnp.array([0]))
