"""Argument checks shared by the opinions package (one home, imported by each module)."""

from typing import Any

from jaxml import _validation as v
from jaxml.opinions.table import AnnotationTable


def check_table(table: Any, name: str = "table") -> AnnotationTable:
    """``table`` must be an :class:`AnnotationTable`."""
    if not isinstance(table, AnnotationTable):
        raise TypeError(
            f"{name} must be a jaxml.opinions.AnnotationTable; got {type(table).__name__}"
        )
    return table


def check_num_classes(num_classes: Any, table: AnnotationTable) -> int:
    """``num_classes`` must be an int equal to ``table.num_classes`` (the table's label scale)."""
    num_classes = v.check_int(num_classes, "num_classes", minimum=2)
    if num_classes != table.num_classes:
        raise ValueError(
            f"num_classes must equal the table's label scale ({table.num_classes}); got "
            f"{num_classes}"
        )
    return num_classes


def check_predictions(predictions: Any, table: AnnotationTable) -> tuple[int, ...]:
    """``predictions`` ``[num_samples]`` or ``[num_samples, num_annotators]`` int class ids."""
    shape = v.check_array(
        predictions,
        "predictions",
        ndim=(1, 2),
        dtype="int",
        minimum=0,
        maximum=table.num_classes - 1,
    )
    want = (table.num_samples,) if len(shape) == 1 else (table.num_samples, table.num_annotators)
    if shape != want:
        raise ValueError(
            "predictions must have shape [num_samples] = "
            f"[{table.num_samples}] (one prediction per sample) or [num_samples, num_annotators] "
            f"= [{table.num_samples}, {table.num_annotators}] (one per annotator); got {shape}"
        )
    return shape
