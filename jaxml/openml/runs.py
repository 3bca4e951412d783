"""Running a model on a task offline, storing the run in openml's format, scoring its folds.

:func:`run_on_task` is ``openml.runs.run_model_on_task`` with the settings an offline run needs
(no duplicate check or flow upload, both of which call the server). :func:`save_run` and
:func:`load_run` are openml's own ``OpenMLRun.to_filesystem`` / ``from_filesystem``
(``description.xml``, ``predictions.arff``, ``flow.xml``, ``model.pkl``), and
:func:`fold_scores` is openml's ``OpenMLRun.get_metric_fn`` on the stored predictions, reshaped
``[repeats, folds]``. Host-side code.
"""

from pathlib import Path

import numpy as np
import openml
from openml.runs import OpenMLRun

from jaxml import _validation as v

__all__ = ["METRICS", "audit_folds", "fold_scores", "load_run", "run_on_task", "save_run"]


def _metric_fns():
    import sklearn.metrics as m

    return {
        "accuracy": m.accuracy_score,
        "balanced_accuracy": m.balanced_accuracy_score,
        "mean_absolute_error": m.mean_absolute_error,
        "mean_squared_error": m.mean_squared_error,
    }


METRICS = ("accuracy", "balanced_accuracy", "mean_absolute_error", "mean_squared_error")


def run_on_task(model, task, *, seed: int | None = None) -> OpenMLRun:
    """Runs ``model`` (any model an openml extension handles) on every fold of ``task``.

    Args:
        model: e.g. a :class:`jaxml.openml.JaxmlClassifier` or a scikit-learn estimator.
        task: an ``OpenMLTask`` (e.g. from :func:`jaxml.openml.get_task`).
        seed: seed for models left unseeded (openml's ``seed_model``).

    Returns:
        The ``OpenMLRun`` with its predictions (``data_content``) and openml's local per-fold
        measures (``fold_evaluations``). Nothing is sent to the server.
    """
    from openml.tasks import OpenMLTask

    if not isinstance(task, OpenMLTask):
        raise TypeError(
            f"task must be an OpenMLTask (load one with jaxml.openml.get_task); got "
            f"{type(task).__name__}"
        )
    if openml.extensions.get_extension_by_model(model) is None:
        raise TypeError(
            f"model must be a model an openml extension handles (a jaxml.openml estimator or a "
            f"scikit-learn estimator); got {type(model).__name__}"
        )
    if seed is not None:
        v.check_int(seed, "seed", minimum=0)
    return openml.runs.run_model_on_task(
        model,
        task,
        avoid_duplicate_runs=False,
        upload_flow=False,
        seed=seed,
        dataset_format="dataframe",
    )


def save_run(run, directory: str | Path, *, store_model: bool = True) -> Path:
    """``run.to_filesystem(directory)``: openml's run files, to upload or reload later.

    ``directory`` must be empty or absent. Returns it as a Path.
    """
    if not isinstance(run, OpenMLRun):
        raise TypeError(f"run must be an OpenMLRun; got {type(run).__name__}")
    v.check_path(directory, "directory")
    v.check_bool(store_model, "store_model")
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ValueError(f"directory must be empty or absent; {str(directory)!r} is not")
    run.to_filesystem(directory, store_model=store_model)
    return directory


def load_run(directory: str | Path, *, expect_model: bool = True) -> OpenMLRun:
    """``OpenMLRun.from_filesystem(directory)``: the run saved by :func:`save_run`."""
    v.check_path(directory, "directory", exists="dir")
    v.check_bool(expect_model, "expect_model")
    need = ["description.xml", "predictions.arff"] + (["model.pkl"] if expect_model else [])
    missing = [f for f in need if not (Path(directory) / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"directory {str(directory)!r} holds no saved run: missing {missing}"
        )
    return OpenMLRun.from_filesystem(directory, expect_model=expect_model)


def fold_scores(run, metric: str = "accuracy") -> np.ndarray:
    """Per-fold ``metric`` of ``run``'s stored predictions, ``[repeats, folds]``.

    Uses openml's ``run.get_metric_fn`` (which reads the predictions ARFF content and the task
    from openml's cache); ``metric`` is one of :data:`METRICS`.
    """
    if not isinstance(run, OpenMLRun):
        raise TypeError(f"run must be an OpenMLRun; got {type(run).__name__}")
    v.check_choice(metric, "metric", METRICS)
    if run.data_content is None:
        raise ValueError("run holds no predictions (data_content is None); run it or load it first")
    scores = run.get_metric_fn(_metric_fns()[metric])
    repeats = len({int(row[0]) for row in run.data_content})
    return np.asarray(scores, np.float64).reshape(repeats, -1)


def audit_folds(task, records) -> dict:
    """Checks what a model saw in each fold against the task's splits.

    Args:
        task: the ``OpenMLSupervisedTask`` the model was run on.
        records: the model's ``fold_records_`` (:class:`jaxml.openml.FoldRecord`), one per fold.

    Returns:
        ``{"folds": int, "leaked_rows": int, "mismatched_folds": [(repeat, fold), ...],
        "untested_rows": int, "compilations_after_first_fold": int}``: ``leaked_rows`` counts
        rows a fold's model was both trained and tested on; a fold is mismatched when the rows
        it was trained / tested on differ from the task's train / test split; ``untested_rows``
        counts rows of a repeat never predicted.
    """
    from openml.tasks import OpenMLSupervisedTask

    if not isinstance(task, OpenMLSupervisedTask):
        raise TypeError(f"task must be an OpenMLSupervisedTask; got {type(task).__name__}")
    if not isinstance(records, list | tuple) or not records:
        raise ValueError("records must be a non-empty list of FoldRecord (model.fold_records_)")
    leaked, mismatched, tested = 0, [], {}
    for r in records:
        if not hasattr(r, "train_rows") or not hasattr(r, "test_rows"):
            raise TypeError(f"records must hold FoldRecord items; got {type(r).__name__}")
        train, test = task.get_train_test_split_indices(repeat=r.repeat, fold=r.fold)
        leaked += len(np.intersect1d(r.train_rows, r.test_rows))
        if not (
            np.array_equal(np.sort(r.train_rows), np.sort(train))
            and np.array_equal(np.sort(r.test_rows), np.sort(test))
        ):
            mismatched.append((r.repeat, r.fold))
        tested.setdefault(r.repeat, set()).update(np.asarray(r.test_rows).tolist())
    total = len(task.get_X_and_y(dataset_format="dataframe")[1])
    untested = sum(total - len(rows & set(range(total))) for rows in tested.values())
    return {
        "folds": len(records),
        "leaked_rows": int(leaked),
        "mismatched_folds": mismatched,
        "untested_rows": int(untested),
        "compilations_after_first_fold": int(sum(r.new_traces for r in records[1:])),
    }
