"""The Wikipedia Detox reader on small files written here, and the synthetic crowd."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml import opinions as op

ANNOTATIONS = """rev_id\tworker_id\ttoxicity\ttoxicity_score
2232.0\t723\t0\t0.0
2232.0\t4000\t1\t-1.0
2232.0\t15\t0\t1.0
37675.0\t723\t1\t-2.0
37675.0\t15\t1\t-1.0
44816.0\t4000\t0\t0.0
"""
COMMENTS = (
    "rev_id\tcomment\tyear\tlogged_in\tns\tsample\tsplit\n"
    "37675\tNEWLINE_TOKEN- This is not creative.\t2002\tFalse\tarticle\trandom\ttrain\n"
    "2232\tThis: :One can make an analogy\t2002\tTrue\tarticle\trandom\ttrain\n"
    "44816\t`NEWLINE_TOKENNEWLINE_TOKEN:Clarification for you\t2002\tTrue\tuser\tblocked\ttest\n"
)
DEMOGRAPHICS = """worker_id\tgender\tenglish_first_language\tage_group\teducation
723\tfemale\t0\t30-45\tbachelors
15\tmale\t1\t18-30\t
"""


def _write(directory, annotations=ANNOTATIONS, comments=COMMENTS, demographics=DEMOGRAPHICS):
    for name, text in (
        ("annotations", annotations),
        ("annotated_comments", comments),
        ("worker_demographics", demographics),
    ):
        (directory / f"toxicity_{name}.tsv").write_text(text)
    return directory


def test_read_detox_maps_ids_labels_and_demographics(tmp_path):
    d = op.read_detox(_write(tmp_path))
    t = d.table
    assert t.sample_keys == (2232, 37675, 44816) and t.annotator_keys == (15, 723, 4000)
    np.testing.assert_array_equal(
        t.label_matrix(), [[0, 0, 1], [1, 1, -1], [-1, -1, 0]]
    )  # rows rev_id, columns worker 15, 723, 4000
    assert d.comments["split"].tolist() == ["train", "train", "test"]
    assert d.comments["comment"][1] == "NEWLINE_TOKEN- This is not creative."
    assert d.demographics["gender"].tolist() == ["male", "female", "unknown"]
    assert d.demographics["education"].tolist() == ["unknown", "bachelors", "unknown"]
    assert t.attribute_levels["gender"] == ("female", "male", "unknown")
    np.testing.assert_array_equal(t.attributes["gender"], [1, 0, 2])
    scored = op.read_detox(tmp_path, label="toxicity_score").table  # -2..2 -> 0..4
    assert scored.num_classes == 5 and scored.label_names[0] == "-2"
    np.testing.assert_array_equal(scored.label_matrix()[1], [1, 0, -1])


def test_detox_round_trip(tmp_path):
    (tmp_path / "a").mkdir()
    first = op.read_detox(_write(tmp_path / "a"))
    (tmp_path / "b").mkdir()
    op.write_detox(tmp_path / "b", first)
    again = op.read_detox(tmp_path / "b")
    for col in ("sample_id", "annotator_id", "label"):
        np.testing.assert_array_equal(getattr(again.table, col), getattr(first.table, col))
    assert again.table.sample_keys == first.table.sample_keys
    assert again.table.annotator_keys == first.table.annotator_keys
    for part in ("comments", "demographics", "annotations"):
        a, b = getattr(first, part), getattr(again, part)
        assert a.keys() == b.keys()
        for key in a:
            assert np.asarray(a[key]).tolist() == np.asarray(b[key]).tolist(), (part, key)


def test_detox_bad_files(tmp_path):
    dup = ANNOTATIONS + "2232\t723\t1\t1.0\n"
    with pytest.raises(ValueError, match="1 duplicate \\(rev_id, worker_id\\) row"):
        op.read_detox(_write(tmp_path, annotations=dup))
    assert op.read_detox(tmp_path, on_duplicate="first").table.num_labels == 6
    with pytest.raises(ValueError, match="rev_id\\(s\\) missing from toxicity_annotated"):
        op.read_detox(_write(tmp_path, annotations=ANNOTATIONS + "99\t15\t0\t0\n"))
    with pytest.raises(ValueError, match="column toxicity must be on the scale 0/1; got 2"):
        op.read_detox(_write(tmp_path, annotations=ANNOTATIONS + "44816\t15\t2\t0\n"))
    with pytest.raises(ValueError, match="lacks the column\\(s\\) \\['split'\\]"):
        op.read_detox(_write(tmp_path, comments=COMMENTS.replace("\tsplit", "\tsplot")))
    with pytest.raises(FileNotFoundError, match="aggression_annotations.tsv"):
        op.read_detox(tmp_path, task="aggression")
    with pytest.raises(ValueError, match="label must be one of"):
        op.read_detox(tmp_path, label="attack")


def _crowd(key, n=400):
    x = jnp.arange(n) % 10
    return op.synthetic_crowd(
        key,
        x,
        [lambda d: (d >= 5).astype(jnp.int32), lambda d: (d >= 3).astype(jnp.int32)],
        (8, 4),
        num_classes=2,
        annotators_per_sample=3,
        reliability=(0.7, 0.9),
        group_names=("a", "b"),
    )


def test_synthetic_crowd_is_deterministic_and_follows_its_groups():
    c = _crowd(jax.random.key(0))
    again = _crowd(jax.random.key(0))
    np.testing.assert_array_equal(c.table.label, again.table.label)
    assert not np.array_equal(c.table.label, _crowd(jax.random.key(1)).table.label)
    np.testing.assert_array_equal(c.group, [0] * 8 + [1] * 4)
    assert c.table.attribute_levels["group"] == ("a", "b")
    np.testing.assert_array_equal(c.table.annotators_per_sample(), np.full(400, 3))
    np.testing.assert_allclose(op.disagreement_rate(c.group_labels), [[0, 0.2], [0.2, 0]])
    # Each annotator reports their group's label at their reliability (binomial, ~100 labels).
    rule = np.asarray(c.group_labels)[
        np.asarray(c.group)[np.asarray(c.table.annotator_id)], np.asarray(c.table.sample_id)
    ]
    agree = np.bincount(np.asarray(c.table.annotator_id), rule == np.asarray(c.table.label))
    rate = agree / np.bincount(np.asarray(c.table.annotator_id))
    assert np.all(np.abs(rate - np.asarray(c.reliability)) < 0.15)
    assert abs(rate.mean() - float(np.mean(c.reliability))) < 0.03


def test_synthetic_crowd_bad_arguments():
    with pytest.raises(ValueError, match="group_sizes must give one size per labelling function"):
        op.synthetic_crowd(
            jax.random.key(0),
            jnp.arange(5),
            [lambda d: d % 2],
            (2, 2),
            num_classes=2,
            annotators_per_sample=1,
        )
    with pytest.raises(ValueError, match=r"labelling_functions\[0\]\(x\) must have every"):
        op.synthetic_crowd(
            jax.random.key(0),
            jnp.arange(5),
            [lambda d: d],
            (3,),
            num_classes=2,
            annotators_per_sample=1,
        )
