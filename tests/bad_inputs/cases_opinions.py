"""Bad calls to jaxml.opinions (see tests/bad_inputs/audit.py)."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxml import opinions as op
from jaxml.testing import bad_calls

F = "jaxml.opinions."
_T = op.AnnotationTable(
    [0, 0, 1, 1], [0, 1, 0, 1], [0, 1, 1, 1], num_classes=2, attributes={"group": [0, 1]}
)
_P = jnp.array([0, 1])
_KEY = jax.random.key(0)
_DATA = None


def _detox(tmp):
    """A valid Detox folder (written once) for the read_detox/write_detox cases."""
    global _DATA
    import tempfile
    from pathlib import Path

    d = Path(tempfile.mkdtemp(prefix="jaxml-detox-"))
    (d / "toxicity_annotations.tsv").write_text("rev_id\tworker_id\ttoxicity\n1\t7\t0\n2\t7\t1\n")
    (d / "toxicity_annotated_comments.tsv").write_text(
        "rev_id\tcomment\tyear\tlogged_in\tns\tsample\tsplit\n"
        "1\ta\t2001\tTrue\tuser\trandom\ttrain\n2\tb\t2001\tTrue\tuser\trandom\ttest\n"
    )
    (d / "toxicity_worker_demographics.tsv").write_text(
        "worker_id\tgender\tenglish_first_language\tage_group\teducation\n7\tmale\t1\t18-30\ths\n"
    )
    _DATA = op.read_detox(d)
    return d


def _table(**kw):
    args = {"sample_id": [0, 1], "annotator_id": [0, 1], "label": [0, 1], "num_classes": 2}
    args.update(kw)
    return lambda: op.AnnotationTable(**args)


def _crowd(**kw):
    args = {
        "key": _KEY,
        "x": jnp.arange(20) % 2,
        "labelling_functions": [lambda d: d],
        "group_sizes": (3,),
        "num_classes": 2,
        "annotators_per_sample": 2,
    }
    args.update(kw)
    return lambda: op.synthetic_crowd(**args)


def _spec(**kw):
    args = {
        "users": "readers",
        "annotators_per_sample": (1, 2.0, 3),
        "attributes": ("group",),
        "label_scale": ("0", "1"),
        "aggregation": "majority_vote",
        "num_samples": 2,
        "num_annotators": 2,
    }
    args.update(kw)
    return lambda: op.EvaluationSpec(**args)


def _cases(name, arg, items, errors=(ValueError, TypeError)):
    return bad_calls(F + name, arg, items, errors)


_not_table = [("a dict", lambda f: f({"label": [0]})), ("None", lambda f: f(None))]

CASES = [
    *_cases(
        "AnnotationTable",
        "sample_id",
        [
            ("unknown sample id", _table(sample_id=[0, 5], num_samples=2)),
            ("negative id", _table(sample_id=[-1, 0])),
            ("float ids", _table(sample_id=[0.0, 1.0])),
            ("a string", _table(sample_id="01")),
            ("empty", _table(sample_id=[], annotator_id=[], label=[])),
            ("2-D", _table(sample_id=[[0, 1]])),
        ],
    ),
    *_cases(
        "AnnotationTable",
        "annotator_id",
        [
            ("unknown annotator id", _table(annotator_id=[0, 3], num_annotators=2)),
            (
                "duplicate pair",
                _table(sample_id=[0, 0, 1], annotator_id=[1, 1, 0], label=[0, 1, 1]),
            ),
            ("wrong length", _table(annotator_id=[0, 1, 1])),
        ],
    ),
    *_cases(
        "AnnotationTable",
        "label",
        [
            ("label == num_classes", _table(label=[0, 2])),
            ("label -1", _table(label=[-1, 0])),
            ("bool labels", _table(label=[True, False])),
        ],
    ),
    *_cases(
        "AnnotationTable",
        "num_annotators",
        [
            ("annotator without labels", _table(num_annotators=3)),
            ("0", _table(num_annotators=0)),
        ],
    ),
    *_cases(
        "AnnotationTable",
        "num_samples",
        [
            ("sample without labels", _table(num_samples=4)),
            ("float", _table(num_samples=2.0)),
        ],
    ),
    *_cases(
        "AnnotationTable",
        "num_classes",
        [
            ("1 class", _table(num_classes=1)),
            ("None", _table(num_classes=None)),
        ],
    ),
    *_cases(
        "AnnotationTable",
        "attributes",
        [
            ("wrong length", _table(attributes={"g": [0]})),
            ("negative code", _table(attributes={"g": [0, -1]})),
            ("a list", _table(attributes=[0, 1])),
        ],
    ),
    *_cases(
        "AnnotationTable",
        "attribute_levels",
        [
            ("too few names", _table(attributes={"g": [0, 1]}, attribute_levels={"g": ["a"]})),
            ("unknown attribute", _table(attribute_levels={"h": ["a"]})),
        ],
    ),
    *_cases(
        "AnnotationTable",
        "label_names",
        [
            ("wrong count", _table(label_names=["a"])),
            ("a string", _table(label_names="ab")),
        ],
    ),
    *_cases(
        "AnnotationTable",
        "annotator_keys",
        [
            ("repeated key", _table(annotator_keys=["u", "u"])),
        ],
    ),
]
for _name, _fn in [
    ("majority_vote", lambda t, k=2: op.majority_vote(t, k)),
    ("soft_labels", lambda t, k=2: op.soft_labels(t, k)),
    ("dawid_skene", lambda t, k=2: op.dawid_skene(t, k, 2)),
    ("one_coin_dawid_skene", lambda t, k=2: op.one_coin_dawid_skene(t, k, 2)),
]:
    CASES += _cases(_name, "table", [(w, lambda f=_fn, c=c: c(f)) for w, c in _not_table])
    CASES += _cases(
        _name,
        "num_classes",
        [
            ("3 != table scale", lambda f=_fn: f(_T, 3)),
            ("float", lambda f=_fn: f(_T, 2.0)),
        ],
    )
CASES += _cases(
    "dawid_skene",
    "num_iters",
    [("-1", lambda: op.dawid_skene(_T, 2, -1)), ("float", lambda: op.dawid_skene(_T, 2, 1.5))],
)
CASES += _cases(
    "one_coin_dawid_skene", "num_iters", [("-2", lambda: op.one_coin_dawid_skene(_T, 2, -2))]
)
for _name, _fn in [
    ("per_annotator_accuracy", lambda p, t=_T: op.per_annotator_accuracy(p, t)),
    ("opinion_accuracy", lambda p, t=_T: op.opinion_accuracy(p, t)),
    ("accuracy_by_agreement", lambda p, t=_T: op.accuracy_by_agreement(p, t, 2)),
    ("coverage", lambda p, t=_T: op.coverage(p, t, 0.5)),
]:
    CASES += _cases(
        _name,
        "predictions",
        [
            ("wrong length", lambda f=_fn: f(jnp.array([0, 1, 1]))),
            ("float logits", lambda f=_fn: f(jnp.ones((2, 2)))),
            ("class 2 of 2", lambda f=_fn: f(jnp.array([0, 2]))),
            ("3-D", lambda f=_fn: f(jnp.zeros((2, 2, 1), jnp.int32))),
            ("a string", lambda f=_fn: f("01")),
        ],
    )
    CASES += _cases(
        _name,
        "table",
        [("a dict", lambda f=_fn: f(_P, {"label": [0]})), ("None", lambda f=_fn: f(_P, None))],
    )
CASES += [
    *_cases(
        "accuracy_by_agreement",
        "num_bins",
        [
            ("0", lambda: op.accuracy_by_agreement(_P, _T, 0)),
            ("float", lambda: op.accuracy_by_agreement(_P, _T, 2.0)),
        ],
    ),
    *_cases(
        "coverage",
        "threshold",
        [
            ("1.5", lambda: op.coverage(_P, _T, 1.5)),
            ("NaN", lambda: op.coverage(_P, _T, np.nan)),
            ("a string", lambda: op.coverage(_P, _T, "0.8")),
        ],
    ),
    *_cases(
        "evaluation_report",
        "attribute",
        [
            ("unknown attribute", lambda: op.evaluation_report(_P, _T, attribute="gender")),
            ("an int", lambda: op.evaluation_report(_P, _T, attribute=3)),
        ],
    ),
    *_cases(
        "evaluation_report",
        "predictions",
        [
            ("wrong length", lambda: op.evaluation_report(jnp.array([0]), _T)),
            ("float", lambda: op.evaluation_report(jnp.ones(2), _T)),
        ],
    ),
    *_cases(
        "evaluation_report",
        "threshold",
        [("-0.5", lambda: op.evaluation_report(_P, _T, threshold=-0.5))],
    ),
    *_cases(
        "evaluation_report",
        "logits",
        [("wrong shape", lambda: op.evaluation_report(_P, _T, logits=jnp.ones((3, 2))))],
    ),
    *_cases(
        "rule_agreement",
        "predictions",
        [
            (
                "wrong length",
                lambda: op.rule_agreement(jnp.array([0]), jnp.ones((2, 3), int), None),
            ),
            ("float", lambda: op.rule_agreement(jnp.ones(3), jnp.ones((2, 3), int), None)),
        ],
    ),
    *_cases(
        "rule_agreement",
        "group_labels",
        [("1-D", lambda: op.rule_agreement(jnp.array([0, 1]), jnp.array([0, 1]), None))],
    ),
    *_cases(
        "rule_agreement",
        "annotator_group",
        [
            (
                "group 2 of 2",
                lambda: op.rule_agreement(
                    jnp.zeros((3, 2), int), jnp.ones((2, 3), int), jnp.array([0, 2])
                ),
            ),
            (
                "None for [n, A] predictions",
                lambda: op.rule_agreement(jnp.zeros((3, 2), int), jnp.ones((2, 3), int), None),
            ),
        ],
    ),
    *_cases("sample_agreement", "table", [("a list", lambda: op.sample_agreement([1, 2]))]),
    *_cases(
        "soft_label_cross_entropy",
        "logits",
        [
            ("wrong shape", lambda: op.soft_label_cross_entropy(jnp.ones((2, 3)), _T)),
            ("int logits", lambda: op.soft_label_cross_entropy(jnp.ones((2, 2), jnp.int32), _T)),
            ("NaN", lambda: op.soft_label_cross_entropy(jnp.full((2, 2), jnp.nan), _T)),
        ],
    ),
    *_cases(
        "soft_label_cross_entropy",
        "table",
        [("None", lambda: op.soft_label_cross_entropy(jnp.ones((2, 2)), None))],
    ),
    *_cases(
        "gini",
        "values",
        [
            ("negative", lambda: op.gini(jnp.array([-1.0, 1.0]))),
            ("empty", lambda: op.gini([])),
            ("2-D", lambda: op.gini(jnp.ones((2, 2)))),
            ("a string", lambda: op.gini("abc")),
        ],
    ),
    *_cases(
        "accuracy_disparity",
        "accuracies",
        [
            ("above 1", lambda: op.accuracy_disparity(jnp.array([1.5, 0.2]), jnp.array([0, 1]), 2)),
            ("2-D", lambda: op.accuracy_disparity(jnp.ones((2, 1)), jnp.array([0, 1]), 2)),
        ],
    ),
    *_cases(
        "accuracy_disparity",
        "groups",
        [
            ("group 2 of 2", lambda: op.accuracy_disparity(jnp.ones(2), jnp.array([0, 2]), 2)),
            ("wrong length", lambda: op.accuracy_disparity(jnp.ones(2), jnp.array([0]), 2)),
            ("float", lambda: op.accuracy_disparity(jnp.ones(2), jnp.ones(2), 2)),
        ],
    ),
    *_cases(
        "accuracy_disparity",
        "num_groups",
        [("0", lambda: op.accuracy_disparity(jnp.ones(2), jnp.array([0, 0]), 0))],
    ),
    *_cases(
        "soft_cross_entropy",
        "logits",
        [
            ("1-D", lambda: op.soft_cross_entropy(jnp.ones(2), jnp.ones(2))),
            ("inf", lambda: op.soft_cross_entropy(jnp.full((1, 2), jnp.inf), jnp.ones((1, 2)))),
        ],
    ),
    *_cases(
        "soft_cross_entropy",
        "targets",
        [
            ("shape mismatch", lambda: op.soft_cross_entropy(jnp.ones((1, 2)), jnp.ones((1, 3)))),
            ("negative", lambda: op.soft_cross_entropy(jnp.ones((1, 2)), -jnp.ones((1, 2)))),
        ],
    ),
    *_cases(
        "annotator_heads_cross_entropy",
        "logits",
        [("2-D", lambda: op.annotator_heads_cross_entropy(jnp.ones((2, 2)), jnp.zeros((2, 2))))],
    ),
    *_cases(
        "annotator_heads_cross_entropy",
        "labels",
        [
            (
                "label -2",
                lambda: op.annotator_heads_cross_entropy(jnp.ones((1, 2, 2)), jnp.array([[0, -2]])),
            ),
            (
                "label 2 of 2",
                lambda: op.annotator_heads_cross_entropy(jnp.ones((1, 2, 2)), jnp.array([[0, 2]])),
            ),
            (
                "float",
                lambda: op.annotator_heads_cross_entropy(jnp.ones((1, 2, 2)), jnp.ones((1, 2))),
            ),
        ],
    ),
    *_cases(
        "disagreement_rate",
        "group_labels",
        [
            ("1-D", lambda: op.disagreement_rate(jnp.array([0, 1]))),
            ("float", lambda: op.disagreement_rate(jnp.ones((2, 2)))),
        ],
    ),
    *_cases("synthetic_crowd", "key", [("an int", _crowd(key=0))]),
    *_cases("synthetic_crowd", "x", [("None", _crowd(x=None))]),
    *_cases(
        "synthetic_crowd",
        "labelling_functions",
        [
            ("not callable", _crowd(labelling_functions=[3])),
            ("empty", _crowd(labelling_functions=[], group_sizes=())),
            ("labels off the scale", _crowd(labelling_functions=[lambda d: d + 5])),
        ],
    ),
    *_cases(
        "synthetic_crowd",
        "group_sizes",
        [
            ("0", _crowd(group_sizes=(0,))),
            ("two sizes for one group", _crowd(group_sizes=(2, 2))),
            ("an int", _crowd(group_sizes=3)),
        ],
    ),
    *_cases(
        "synthetic_crowd",
        "annotators_per_sample",
        [
            ("more than annotators", _crowd(annotators_per_sample=4)),
            ("0", _crowd(annotators_per_sample=0)),
        ],
    ),
    *_cases(
        "synthetic_crowd",
        "reliability",
        [
            ("1.5", _crowd(reliability=(0.5, 1.5))),
            ("a float", _crowd(reliability=0.9)),
            ("low > high", _crowd(reliability=(0.9, 0.5))),
        ],
    ),
    *_cases("synthetic_crowd", "num_classes", [("1", _crowd(num_classes=1))]),
    *_cases("EvaluationSpec", "users", [("empty", _spec(users="")), ("None", _spec(users=None))]),
    *_cases(
        "EvaluationSpec",
        "annotators_per_sample",
        [
            ("an int", _spec(annotators_per_sample=3)),
            ("mean above max", _spec(annotators_per_sample=(1, 5.0, 3))),
            ("min 0", _spec(annotators_per_sample=(0, 1.0, 3))),
        ],
    ),
    *_cases("EvaluationSpec", "aggregation", [("unknown", _spec(aggregation="median"))]),
    *_cases("EvaluationSpec", "label_scale", [("one label", _spec(label_scale=("0",)))]),
    *_cases("EvaluationSpec", "attributes", [("a str", _spec(attributes="group"))]),
    *_cases("EvaluationSpec", "coverage_threshold", [("2", _spec(coverage_threshold=2.0))]),
    *_cases("EvaluationSpec", "num_samples", [("0", _spec(num_samples=0))]),
    *_cases(
        "read_detox",
        "directory",
        [
            ("missing folder", lambda: op.read_detox("/nonexistent/detox")),
            ("None", lambda: op.read_detox(None)),
        ],
        errors=(FileNotFoundError, TypeError),
    ),
    *_cases("read_detox", "task", [("unknown", lambda: op.read_detox(_detox(None), "spam"))]),
    *_cases(
        "read_detox",
        "label",
        [("another task's column", lambda: op.read_detox(_detox(None), label="attack"))],
    ),
    *_cases(
        "read_detox",
        "on_duplicate",
        [("unknown", lambda: op.read_detox(_detox(None), on_duplicate="last"))],
    ),
    *_cases("write_detox", "data", [("a table", lambda: op.write_detox(_detox(None), _T))]),
    *_cases(
        "write_detox",
        "directory",
        [("missing folder", lambda: op.write_detox("/nonexistent/detox", _DATA))],
        errors=(FileNotFoundError, TypeError),
    ),
]

EXEMPT = {
    F + "DawidSkeneResult": "a NamedTuple container returned by dawid_skene",
    F + "DetoxData": "a NamedTuple container returned by read_detox",
    F + "Disparity": "a NamedTuple container returned by accuracy_disparity",
    F + "OpinionAccuracy": "a NamedTuple container returned by opinion_accuracy",
    F + "AgreementCurve": "a NamedTuple container returned by accuracy_by_agreement",
    F + "SyntheticCrowd": "a NamedTuple container returned by synthetic_crowd",
}
