"""Subjective opinions (Balayn et al.): evaluate per annotator, not per aggregated label.

Data (:class:`AnnotationTable`, the Wikipedia Detox reader, a synthetic crowd with opinion groups),
aggregators in JAX (majority vote, soft labels, Dawid-Skene and its one-coin variant), losses that
keep disagreement, per-annotator metrics and the evaluation specification printed with them.
"""

from jaxml.opinions.dawid_skene import EPS, DawidSkeneResult, dawid_skene, one_coin_dawid_skene
from jaxml.opinions.detox import DEMOGRAPHICS, LABEL_COLUMNS, DetoxData, read_detox, write_detox
from jaxml.opinions.losses import annotator_heads_cross_entropy, soft_cross_entropy
from jaxml.opinions.metrics import (
    AgreementCurve,
    Disparity,
    OpinionAccuracy,
    accuracy_by_agreement,
    accuracy_disparity,
    coverage,
    gini,
    opinion_accuracy,
    per_annotator_accuracy,
    sample_agreement,
    soft_label_cross_entropy,
)
from jaxml.opinions.report import evaluation_report
from jaxml.opinions.spec import AGGREGATIONS, EvaluationSpec
from jaxml.opinions.synthetic import (
    SyntheticCrowd,
    disagreement_rate,
    rule_agreement,
    synthetic_crowd,
)
from jaxml.opinions.table import AnnotationTable
from jaxml.opinions.votes import majority_vote, soft_labels

__all__ = [
    "AGGREGATIONS",
    "DEMOGRAPHICS",
    "EPS",
    "LABEL_COLUMNS",
    "AgreementCurve",
    "AnnotationTable",
    "DawidSkeneResult",
    "DetoxData",
    "Disparity",
    "EvaluationSpec",
    "OpinionAccuracy",
    "SyntheticCrowd",
    "accuracy_by_agreement",
    "accuracy_disparity",
    "annotator_heads_cross_entropy",
    "coverage",
    "dawid_skene",
    "disagreement_rate",
    "evaluation_report",
    "gini",
    "majority_vote",
    "one_coin_dawid_skene",
    "opinion_accuracy",
    "per_annotator_accuracy",
    "read_detox",
    "rule_agreement",
    "sample_agreement",
    "soft_cross_entropy",
    "soft_label_cross_entropy",
    "soft_labels",
    "synthetic_crowd",
    "write_detox",
]
