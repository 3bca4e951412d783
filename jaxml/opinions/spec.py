"""The evaluation specification (Balayn et al.'s recommendation): say whom a model is judged for.

A number such as "accuracy 0.91" means little for a subjective task unless the report also says
who the users are, how many annotators saw each sample, which annotator attributes were recorded
(so that disparities could be measured at all), the label scale, and which aggregation (if any)
produced the targets. :class:`EvaluationSpec` holds exactly that and prints it next to the numbers.
"""

import dataclasses
from typing import Any

from jaxml import _validation as v
from jaxml.opinions._checks import check_table
from jaxml.opinions.table import AnnotationTable

__all__ = ["AGGREGATIONS", "EvaluationSpec"]

AGGREGATIONS = (
    "none",
    "majority_vote",
    "dawid_skene",
    "one_coin_dawid_skene",
    "soft_labels",
    "per_annotator_heads",
)
"""How training targets were built from the judgements (``"none"``: no model, data only)."""


@dataclasses.dataclass(frozen=True)
class EvaluationSpec:
    """An explicit evaluation specification, printed with the numbers it qualifies.

    Attributes:
        users: who the model's decisions are for (free text, non-empty).
        annotators_per_sample: ``(min, mean, max)`` judgements per sample.
        attributes: the annotator attributes recorded (e.g. ``("group",)``); empty means no
            disparity by group can be measured.
        label_scale: the names of the labels, in order.
        aggregation: one of :data:`AGGREGATIONS`.
        num_samples, num_annotators: the evaluation set's size.
        evaluated_per: what the metrics are computed against (default ``"annotator"``).
        coverage_threshold: the ``x`` of the coverage metric.
    """

    users: str
    annotators_per_sample: tuple[int, float, int]
    attributes: tuple[str, ...]
    label_scale: tuple[str, ...]
    aggregation: str
    num_samples: int
    num_annotators: int
    evaluated_per: str = "annotator"
    coverage_threshold: float = 0.8

    def __post_init__(self):
        v.check_str(self.users, "users")
        if (
            not isinstance(self.annotators_per_sample, tuple)
            or len(self.annotators_per_sample) != 3
        ):
            raise TypeError(
                "annotators_per_sample must be a (min, mean, max) tuple; got "
                f"{self.annotators_per_sample!r}"
            )
        lo = v.check_int(self.annotators_per_sample[0], "annotators_per_sample", minimum=1)
        hi = v.check_int(self.annotators_per_sample[2], "annotators_per_sample", minimum=lo)
        v.check_scalar(
            self.annotators_per_sample[1], "annotators_per_sample", minimum=lo, maximum=hi
        )
        if not isinstance(self.attributes, tuple) or not all(
            isinstance(a, str) for a in self.attributes
        ):
            raise TypeError(f"attributes must be a tuple of str; got {self.attributes!r}")
        if not isinstance(self.label_scale, tuple) or len(self.label_scale) < 2:
            raise ValueError(f"label_scale must be a tuple of >= 2 names; got {self.label_scale!r}")
        v.check_choice(self.aggregation, "aggregation", AGGREGATIONS)
        v.check_int(self.num_samples, "num_samples", minimum=1)
        v.check_int(self.num_annotators, "num_annotators", minimum=1)
        v.check_str(self.evaluated_per, "evaluated_per")
        v.check_scalar(self.coverage_threshold, "coverage_threshold", minimum=0.0, maximum=1.0)

    @classmethod
    def from_table(
        cls, table: AnnotationTable, *, users: str, aggregation: str, **kwargs: Any
    ) -> "EvaluationSpec":
        """The specification of an evaluation on ``table`` (sizes and scale read from it)."""
        check_table(table)
        per = table.annotators_per_sample()
        return cls(
            users=users,
            annotators_per_sample=(int(per.min()), round(float(per.mean()), 2), int(per.max())),
            attributes=tuple(sorted(table.attributes)),
            label_scale=tuple(table.label_names),
            aggregation=aggregation,
            num_samples=table.num_samples,
            num_annotators=table.num_annotators,
            **kwargs,
        )

    def to_dict(self) -> dict:
        """The fields as a JSON-able dict."""
        return dataclasses.asdict(self)

    def to_text(self) -> str:
        """A two-column Markdown table of the specification."""
        lo, mean, hi = self.annotators_per_sample
        rows = [
            ("users", self.users),
            ("evaluated per", self.evaluated_per),
            ("samples / annotators", f"{self.num_samples} / {self.num_annotators}"),
            ("annotators per sample", f"min {lo}, mean {mean:g}, max {hi}"),
            ("annotator attributes", ", ".join(self.attributes) or "none recorded"),
            ("label scale", ", ".join(self.label_scale)),
            ("aggregation", self.aggregation),
            ("coverage threshold x", f"{self.coverage_threshold:g}"),
        ]
        return "\n".join(
            ["| specification | value |", "|---|---|", *(f"| {k} | {val} |" for k, val in rows)]
        )
