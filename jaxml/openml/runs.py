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

__all__ = ["METRICS", "fold_scores", "load_run", "run_on_task", "save_run"]


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
