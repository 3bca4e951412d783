"""Reader and writer of the Wikipedia Detox release (Wulczyn et al., 2017): per-worker labels.

A release folder holds, for ``task`` in ``toxicity``, ``attack``, ``aggression``:

- ``<task>_annotations.tsv``: one row per judgement: ``rev_id``, ``worker_id`` and the task's
  label columns (toxicity: ``toxicity`` 0/1, ``toxicity_score`` -2..2; aggression:
  ``aggression``, ``aggression_score``; attack: ``quoting_attack``, ``recipient_attack``,
  ``third_party_attack``, ``other_attack``, ``attack``, all 0/1);
- ``<task>_annotated_comments.tsv``: ``rev_id``, ``comment`` (newlines and tabs written as
  ``NEWLINE_TOKEN``/``TAB_TOKEN``), ``year``, ``logged_in``, ``ns``, ``sample``, ``split``;
- ``<task>_worker_demographics.tsv``: ``worker_id``, ``gender``, ``english_first_language``,
  ``age_group``, ``education`` (not every worker has a row).

:func:`read_detox` turns them into an :class:`AnnotationTable` whose samples are the comments
(sorted by ``rev_id``), annotators the workers (sorted by ``worker_id``), labels one chosen column
(``*_score`` columns shifted from -2..2 to 0..4) and attributes the demographic columns (codes of
the sorted levels, plus ``"unknown"`` for workers without a demographics row). Host-side (pandas).
"""

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxml import _validation as v
from jaxml.opinions.table import AnnotationTable

__all__ = ["DEMOGRAPHICS", "LABEL_COLUMNS", "DetoxData", "read_detox", "write_detox"]

LABEL_COLUMNS = {
    "toxicity": ("toxicity", "toxicity_score"),
    "aggression": ("aggression", "aggression_score"),
    "attack": (
        "quoting_attack",
        "recipient_attack",
        "third_party_attack",
        "other_attack",
        "attack",
    ),
}
"""Each task's label columns in ``<task>_annotations.tsv``."""
COMMENT_COLUMNS = ("rev_id", "comment", "year", "logged_in", "ns", "sample", "split")
DEMOGRAPHICS = ("gender", "english_first_language", "age_group", "education")
"""The demographic columns of ``<task>_worker_demographics.tsv`` (after ``worker_id``)."""
UNKNOWN = "unknown"


class DetoxData(NamedTuple):
    """What :func:`read_detox` returns.

    Attributes:
        table: the judgements (``sample_keys`` = rev_ids, ``annotator_keys`` = worker_ids,
            attributes = the demographic columns).
        annotations: ``{column: [m]}`` every label column of the annotations file, rows aligned
            with the table's rows (raw values, e.g. scores in -2..2).
        comments: ``{column: [num_samples]}`` the comments file's columns, aligned with samples.
        demographics: ``{column: [num_annotators] str}`` aligned with annotators (``"unknown"``
            where a worker has no row).
        task: ``"toxicity"``, ``"aggression"`` or ``"attack"``.
        label: the column used as the table's label.
    """

    table: AnnotationTable
    annotations: dict
    comments: dict
    demographics: dict
    task: str
    label: str


def _files(directory: Path, task: str) -> dict[str, Path]:
    return {
        kind: directory / f"{task}_{kind}.tsv"
        for kind in ("annotations", "annotated_comments", "worker_demographics")
    }


def _read_tsv(path: Path, required: tuple[str, ...], dtype=None):
    import pandas as pd

    frame = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""], dtype=dtype)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{path.name} lacks the column(s) {missing}; has {list(frame.columns)}")
    return frame


def _integer_ids(values, name: str, path: Path) -> np.ndarray:
    ids = np.asarray(values, dtype=np.float64)  # the release writes some rev_ids as "37675.0"
    if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)):
        raise ValueError(f"{path.name}: {name} must hold integer ids; got {values[:5].tolist()}")
    return ids.astype(np.int64)


def read_detox(
    directory: Any,
    task: str = "toxicity",
    *,
    label: str | None = None,
    on_duplicate: str = "error",
) -> DetoxData:
    """Reads ``<task>_*.tsv`` from ``directory`` into a :class:`DetoxData`.

    Args:
        directory: the release folder.
        task: ``"toxicity"``, ``"aggression"`` or ``"attack"``.
        label: the label column (default: the task's name, a 0/1 column); a ``*_score`` column
            gives a 5-point scale (-2..2 stored as 0..4).
        on_duplicate: a worker labelling a comment twice: ``"error"`` (default) or ``"first"``
            (keep the first row).

    Raises:
        FileNotFoundError: a file is missing. ValueError: a missing column, a rev_id of the
        annotations that the comments file lacks (or the reverse), a label off its scale, a
        duplicate judgement (with ``on_duplicate="error"``).
    """
    directory = v.check_path(directory, "directory", exists="dir")
    v.check_choice(task, "task", LABEL_COLUMNS)
    label = task if label is None else label
    v.check_choice(label, "label", LABEL_COLUMNS[task])
    v.check_choice(on_duplicate, "on_duplicate", ("error", "first"))
    files = _files(directory, task)
    for path in files.values():
        v.check_path(path, "directory", exists="file")
    ann = _read_tsv(files["annotations"], ("rev_id", "worker_id", label))
    com = _read_tsv(files["annotated_comments"], COMMENT_COLUMNS, dtype={"comment": str})
    com["comment"] = com["comment"].fillna("")
    dem = _read_tsv(files["worker_demographics"], ("worker_id", *DEMOGRAPHICS), dtype=str)
    rev = _integer_ids(ann["rev_id"].to_numpy(), "rev_id", files["annotations"])
    worker = _integer_ids(ann["worker_id"].to_numpy(), "worker_id", files["annotations"])
    pair = np.stack([rev, worker], axis=1)
    _, first = np.unique(pair, axis=0, return_index=True)
    if first.size != rev.size:
        if on_duplicate == "error":
            raise ValueError(
                f"{files['annotations'].name} has {rev.size - first.size} duplicate (rev_id, "
                "worker_id) row(s); pass on_duplicate='first' to keep the first of each"
            )
        keep = np.sort(first)
        ann, rev, worker = ann.iloc[keep].reset_index(drop=True), rev[keep], worker[keep]
    com_rev = _integer_ids(com["rev_id"].to_numpy(), "rev_id", files["annotated_comments"])
    order = np.argsort(com_rev, kind="stable")
    com, com_rev = com.iloc[order].reset_index(drop=True), com_rev[order]
    if np.unique(com_rev).size != com_rev.size:
        raise ValueError(f"{files['annotated_comments'].name} lists a rev_id twice")
    unknown = np.setdiff1d(rev, com_rev)
    if unknown.size:
        raise ValueError(
            f"{files['annotations'].name} has {unknown.size} rev_id(s) missing from "
            f"{files['annotated_comments'].name} (first {unknown[:3].tolist()})"
        )
    unlabelled = np.setdiff1d(com_rev, rev)
    if unlabelled.size:
        raise ValueError(
            f"{files['annotated_comments'].name} has {unlabelled.size} comment(s) without "
            f"annotations (first rev_ids {unlabelled[:3].tolist()})"
        )
    raw = ann[label].to_numpy()
    scored = label.endswith("_score")
    y = np.asarray(raw, dtype=np.float64) + (2 if scored else 0)
    num_classes = 5 if scored else 2
    bad = ~np.isfinite(y) | (y != np.round(y)) | (y < 0) | (y >= num_classes)
    if bad.any():
        i = int(np.argmax(bad))
        scale = "-2..2" if scored else "0/1"
        raise ValueError(
            f"{files['annotations'].name}: column {label} must be on the scale {scale}; got "
            f"{raw[i]} at data row {i}"
        )
    workers = np.unique(worker)
    dem_ids = _integer_ids(dem["worker_id"].to_numpy(), "worker_id", files["worker_demographics"])
    where = {w: i for i, w in enumerate(dem_ids)}
    demographics, attributes, levels = {}, {}, {}
    for col in DEMOGRAPHICS:
        values = dem[col].to_numpy()
        text = np.array(
            [
                UNKNOWN if w not in where or _missing(values[where[w]]) else str(values[where[w]])
                for w in workers
            ],
            dtype=object,
        )
        lv = sorted(set(text.tolist()) - {UNKNOWN}) + [UNKNOWN]
        code = {name: c for c, name in enumerate(lv)}
        demographics[col] = text
        attributes[col] = np.array([code[t] for t in text], dtype=np.int32)
        levels[col] = tuple(lv)
    table = AnnotationTable(
        np.searchsorted(com_rev, rev),
        np.searchsorted(workers, worker),
        y.astype(np.int64),
        num_classes=num_classes,
        num_samples=com_rev.size,
        num_annotators=workers.size,
        attributes=attributes,
        attribute_levels=levels,
        label_names=("-2", "-1", "0", "1", "2") if scored else ("0", "1"),
        sample_keys=com_rev.tolist(),
        annotator_keys=workers.tolist(),
    )
    annotations = {c: ann[c].to_numpy() for c in LABEL_COLUMNS[task] if c in ann.columns}
    comments = {c: com[c].to_numpy() for c in COMMENT_COLUMNS}
    comments["rev_id"] = com_rev
    return DetoxData(table, annotations, comments, demographics, task, label)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def write_detox(directory: Any, data: DetoxData) -> dict[str, Path]:
    """Writes ``data`` as the three release files of ``data.task`` under ``directory``.

    ``read_detox(directory, data.task, label=data.label)`` returns the same table, columns and
    demographics (workers with ``"unknown"`` in every column get no demographics row, as in the
    release). Returns the written paths.
    """
    import pandas as pd

    directory = v.check_path(directory, "directory", exists="dir")
    if not isinstance(data, DetoxData):
        raise TypeError(f"data must be a DetoxData (from read_detox); got {type(data).__name__}")
    files = _files(directory, data.task)
    t = data.table
    ann = {
        "rev_id": np.asarray(t.sample_keys)[np.asarray(t.sample_id)],
        "worker_id": np.asarray(t.annotator_keys)[np.asarray(t.annotator_id)],
        **data.annotations,
    }
    pd.DataFrame(ann).to_csv(files["annotations"], sep="\t", index=False)
    pd.DataFrame({c: data.comments[c] for c in COMMENT_COLUMNS}).to_csv(
        files["annotated_comments"], sep="\t", index=False
    )
    known = ~np.all([data.demographics[c] == UNKNOWN for c in DEMOGRAPHICS], axis=0)
    dem = {"worker_id": np.asarray(t.annotator_keys)[known]}
    dem.update(
        {
            c: np.where(data.demographics[c][known] == UNKNOWN, "", data.demographics[c][known])
            for c in DEMOGRAPHICS
        }
    )
    pd.DataFrame(dem).to_csv(files["worker_demographics"], sep="\t", index=False)
    return files
