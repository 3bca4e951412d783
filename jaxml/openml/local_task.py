"""Writing an in-memory data set into openml's cache as a dataset + cross-validation task.

:func:`cache_local_task` produces exactly the files openml downloads for a real task, in
openml's formats, so ``openml.tasks.get_task(task_id)`` (and everything built on it: runs,
``get_metric_fn``) works with no network:

- ``datasets/<id>/description.xml``: the ``oml:data_set_description`` (format ARFF, default
  target ``class``, md5 of the ARFF file);
- ``datasets/<id>/features.xml``: one ``oml:feature`` per column (``numeric`` features, a
  ``nominal`` target with its class labels for classification, ``numeric`` for regression);
- ``datasets/<id>/dataset.arff``: the data (liac-arff, which openml reads with);
- ``tasks/<id>/task.xml``: a Supervised Classification (type 1) or Regression (type 2) task with
  a ``crossvalidation`` estimation procedure of ``n_folds`` folds, 1 repeat;
- ``tasks/<id>/datasplits.arff``: the ``type {TRAIN,TEST}, rowid, repeat, fold`` rows of that
  procedure (stratified folds for classification, as OpenML's own CV tasks).

Ids live in a reserved range, ``[RESERVED_ID_MIN, RESERVED_ID_MIN + 10**8)``, far above every
id the OpenML server has issued (tasks and datasets are below 10**6), and are derived from a hash
of the content, so caching the same data twice gives the same id and different data a different
one. Host-side code (writes files), not jit-able.
"""

import hashlib
from pathlib import Path

import arff
import numpy as np
import xmltodict

from jaxml import _validation as v
from jaxml.openml.cache import use_cache

__all__ = ["RESERVED_ID_MIN", "TASK_TYPES", "cache_local_task", "is_local_id"]

RESERVED_ID_MIN = 1_900_000_000
_RESERVED_SPAN = 10**8
TASK_TYPES = ("classification", "regression")
_TYPE_INFO = {
    "classification": (1, "Supervised Classification", "predictive_accuracy", 1),
    "regression": (2, "Supervised Regression", "mean_absolute_error", 7),
}
_NS = "http://openml.org/openml"


def is_local_id(task_id: int) -> bool:
    """Whether ``task_id`` lies in the reserved range used by :func:`cache_local_task`."""
    v.check_int(task_id, "task_id")
    return RESERVED_ID_MIN <= task_id < RESERVED_ID_MIN + _RESERVED_SPAN


def _content_id(x: np.ndarray, y: np.ndarray, *parts) -> int:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    h.update(repr((x.shape, str(x.dtype), str(y.dtype), parts)).encode())
    return RESERVED_ID_MIN + int(h.hexdigest()[:15], 16) % _RESERVED_SPAN


def _folds(y: np.ndarray, n_folds: int, seed: int, stratified: bool) -> list[np.ndarray]:
    """Test row ids of each fold (stratified when asked), sorted."""
    from sklearn.model_selection import KFold, StratifiedKFold

    cv = (StratifiedKFold if stratified else KFold)(n_folds, shuffle=True, random_state=seed)
    return [np.sort(test) for _, test in cv.split(np.zeros(len(y)), y)]


def cache_local_task(
    X,
    y,
    name: str,
    *,
    n_folds: int,
    cache_dir: str | Path,
    task_type: str = "classification",
    seed: int = 0,
    feature_names=None,
) -> int:
    """Writes ``(X, y)`` into openml's cache as a dataset and an ``n_folds``-fold CV task.

    Args:
        X: ``[n, d]`` finite real features (``[n, ...]`` is flattened to ``[n, d]``).
        y: ``[n]`` labels: non-negative ints for classification (class ``k`` gets the label
            ``str(k)``), finite reals for regression.
        name: the dataset name (letters, digits, ``_-.``).
        n_folds: number of cross-validation folds, ``2 <= n_folds <= n`` (and at most the
            smallest class count for stratified classification folds).
        cache_dir: openml's root cache directory; openml is configured to use it
            (:func:`jaxml.openml.use_cache`).
        task_type: "classification" (task type 1) or "regression" (task type 2).
        seed: seed of the fold assignment.
        feature_names: optional ``d`` column names (default ``f0 ... f{d-1}``).

    Returns:
        The task id (equal to the dataset id), in the reserved range (:data:`RESERVED_ID_MIN`).
        ``openml.tasks.get_task(task_id)`` then works with no network while openml's cache
        points at ``cache_dir``.
    """
    name = v.check_str(name, "name")
    if not all(c.isalnum() or c in "_-." for c in name):
        raise ValueError(f"name must use letters, digits, '_', '-' or '.'; got {name!r}")
    v.check_choice(task_type, "task_type", TASK_TYPES)
    seed = v.check_int(seed, "seed", minimum=0)
    v.check_path(cache_dir, "cache_dir")
    shape = v.check_array(X, "X", min_ndim=2, dtype="float", min_size=1)
    n = shape[0]
    if task_type == "classification":
        v.check_array(y, "y", shape=(n,), dtype="int", minimum=0)
    else:
        v.check_array(y, "y", shape=(n,), dtype="float")
    n_folds = v.check_int(n_folds, "n_folds", minimum=2, maximum=n)
    x = np.asarray(X, np.float64).reshape(n, -1)
    y = np.asarray(y)
    d = x.shape[1]
    if feature_names is None:
        feature_names = [f"f{j}" for j in range(d)]
    else:
        if isinstance(feature_names, str) or not hasattr(feature_names, "__len__"):
            raise TypeError(f"feature_names must be a sequence of {d} str; got {feature_names!r}")
        feature_names = [v.check_str(f, "feature_names") for f in feature_names]
        if len(feature_names) != d or len(set(feature_names)) != d or "class" in feature_names:
            raise ValueError(
                f"feature_names must be {d} distinct names other than 'class'; got "
                f"{len(feature_names)} names"
            )
    classification = task_type == "classification"
    if classification:
        y = y.astype(np.int64)
        labels = [str(k) for k in np.unique(y)]
        counts = np.bincount(y)
        smallest = int(counts[counts > 0].min())
        if len(labels) < 2:
            raise ValueError(
                f"y must hold at least 2 classes for a classification task; got {labels}"
            )
        if n_folds > smallest:
            raise ValueError(
                f"n_folds={n_folds} exceeds the smallest class count {smallest}: a stratified "
                "fold would miss that class"
            )
    else:
        y = y.astype(np.float64)

    task_id = _content_id(x, y, name, n_folds, task_type, seed, tuple(feature_names))
    base = use_cache(cache_dir)
    ddir, tdir = base / "datasets" / str(task_id), base / "tasks" / str(task_id)
    ddir.mkdir(parents=True, exist_ok=True)
    tdir.mkdir(parents=True, exist_ok=True)

    # ---- dataset.arff
    target_type = labels if classification else "REAL"
    attributes = [(f, "REAL") for f in feature_names] + [("class", target_type)]
    target_col = [str(k) for k in y] if classification else [float(t) for t in y]
    rows = [[*map(float, row), t] for row, t in zip(x, target_col, strict=True)]
    arff_text = arff.dumps(
        {
            "relation": name,
            "description": f"{name}: cached locally by jaxml.openml",
            "attributes": attributes,
            "data": rows,
        }
    )
    _write(ddir / "dataset.arff", arff_text)

    # ---- description.xml
    description = {
        "oml:data_set_description": {
            "@xmlns:oml": _NS,
            "oml:id": task_id,
            "oml:name": name,
            "oml:version": 1,
            "oml:description": f"{name} ({n} rows, {d} features), written by "
            "jaxml.openml.cache_local_task; not on the OpenML server.",
            "oml:format": "ARFF",
            "oml:licence": "Public",
            "oml:url": f"local://jaxml/{task_id}/dataset.arff",
            "oml:file_id": task_id,
            "oml:default_target_attribute": "class",
            "oml:visibility": "public",
            "oml:status": "active",
            "oml:md5_checksum": hashlib.md5(arff_text.encode("utf8")).hexdigest(),  # noqa: S324
        }
    }
    _write(ddir / "description.xml", xmltodict.unparse(description, pretty=True))

    # ---- features.xml
    features = [
        {
            "oml:index": j,
            "oml:name": f,
            "oml:data_type": "numeric",
            "oml:is_target": "false",
            "oml:is_ignore": "false",
            "oml:is_row_identifier": "false",
            "oml:number_of_missing_values": 0,
        }
        for j, f in enumerate(feature_names)
    ]
    target = {
        "oml:index": d,
        "oml:name": "class",
        "oml:data_type": "nominal" if classification else "numeric",
        "oml:is_target": "true",
        "oml:is_ignore": "false",
        "oml:is_row_identifier": "false",
        "oml:number_of_missing_values": 0,
    }
    if classification:
        target["oml:nominal_value"] = labels
    features.append(target)
    _write(
        ddir / "features.xml",
        xmltodict.unparse(
            {"oml:data_features": {"@xmlns:oml": _NS, "oml:feature": features}}, pretty=True
        ),
    )

    # ---- datasplits.arff
    folds = _folds(y, n_folds, seed, stratified=classification)
    split_rows = []
    for f, test in enumerate(folds):
        is_test = np.zeros(n, bool)
        is_test[test] = True
        split_rows += [["TRAIN", int(i), 0, f] for i in np.flatnonzero(~is_test)]
        split_rows += [["TEST", int(i), 0, f] for i in test]
    split_text = arff.dumps(
        {
            "relation": f"{name}_splits",
            "attributes": [
                ("type", ["TRAIN", "TEST"]),
                ("rowid", "INTEGER"),
                ("repeat", "INTEGER"),
                ("fold", "INTEGER"),
            ],
            "data": split_rows,
        }
    )
    _write(tdir / "datasplits.arff", split_text)
    for stale in (tdir / "datasplits.pkl.py3", ddir / "dataset.pkl.py3", ddir / "features.xml.pkl"):
        stale.unlink(missing_ok=True)

    # ---- task.xml
    type_id, type_name, measure, procedure_id = _TYPE_INFO[task_type]
    params = [
        {"@name": "number_repeats", "#text": "1"},
        {"@name": "number_folds", "#text": str(n_folds)},
        {"@name": "percentage"},
        {"@name": "stratified_sampling", "#text": "true" if classification else "false"},
    ]
    task = {
        "oml:task": {
            "@xmlns:oml": _NS,
            "oml:task_id": task_id,
            "oml:task_name": f"Task {task_id}: {name} ({type_name})",
            "oml:task_type_id": type_id,
            "oml:task_type": type_name,
            "oml:input": [
                {
                    "@name": "source_data",
                    "oml:data_set": {"oml:data_set_id": task_id, "oml:target_feature": "class"},
                },
                {
                    "@name": "estimation_procedure",
                    "oml:estimation_procedure": {
                        "oml:id": procedure_id,
                        "oml:type": "crossvalidation",
                        "oml:data_splits_url": f"local://jaxml/{task_id}/datasplits.arff",
                        "oml:parameter": params,
                    },
                },
                {
                    "@name": "evaluation_measures",
                    "oml:evaluation_measures": {"oml:evaluation_measure": measure},
                },
            ],
            "oml:tag": ["jaxml-local"],
        }
    }
    _write(tdir / "task.xml", xmltodict.unparse(task, pretty=True))
    return task_id


def _write(path: Path, text: str) -> None:
    """Atomic text write (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf8")
    tmp.replace(path)
