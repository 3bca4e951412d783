"""OpenML interop: an openml-python Extension for jaxml models, offline first.

Implements, on top of openml-python itself (its task, dataset, flow and run classes, its cache
and its Extension API), the extension mechanism of Feurer et al., "OpenML-Python: an extensible
Python API for OpenML" (JMLR 2021; arXiv 2019) for JAX/flax models:

- :class:`JaxmlClassifier`, :class:`JaxmlRegressor`: scikit-learn-style estimators around the
  jaxml MLP and optax, jit-compiled once per task (folds do not recompile);
- :class:`JaxmlExtension`: the ``openml.extensions.Extension`` (registered on import), so
  ``openml.runs.run_model_on_task(model, task)`` runs them and flows round-trip to models;
- :func:`cache_local_task` / :func:`get_task` / :func:`use_cache`: tasks in openml's cache
  format, loaded with no network, failing fast when absent;
- :func:`run_on_task`, :func:`save_run`, :func:`load_run`, :func:`fold_scores`: offline runs in
  openml's file format and per-fold metrics from the stored predictions.
"""

from jaxml.openml.cache import (
    DEFAULT_SERVER,
    ServerUnreachableError,
    TaskNotCachedError,
    cached_task_files,
    get_task,
    use_cache,
)
from jaxml.openml.estimator import (
    ACTIVATIONS,
    DECAY_TUNINGS,
    JaxmlClassifier,
    JaxmlRegressor,
    batch_plan,
    capacity_bucket,
    trace_counts,
)
from jaxml.openml.extension import ESTIMATORS, FoldRecord, JaxmlExtension, register
from jaxml.openml.local_task import RESERVED_ID_MIN, TASK_TYPES, cache_local_task, is_local_id
from jaxml.openml.runs import METRICS, audit_folds, fold_scores, load_run, run_on_task, save_run

register()

__all__ = [
    "ACTIVATIONS",
    "DECAY_TUNINGS",
    "DEFAULT_SERVER",
    "ESTIMATORS",
    "METRICS",
    "RESERVED_ID_MIN",
    "TASK_TYPES",
    "FoldRecord",
    "JaxmlClassifier",
    "JaxmlExtension",
    "JaxmlRegressor",
    "ServerUnreachableError",
    "TaskNotCachedError",
    "audit_folds",
    "batch_plan",
    "cache_local_task",
    "cached_task_files",
    "capacity_bucket",
    "fold_scores",
    "get_task",
    "is_local_id",
    "load_run",
    "register",
    "run_on_task",
    "save_run",
    "trace_counts",
    "use_cache",
]
