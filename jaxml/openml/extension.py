"""The ``openml.extensions.Extension`` for jaxml estimators (openml-python's extension API).

Registered with ``openml.extensions.register_extension`` when :mod:`jaxml.openml` is imported,
so ``openml.runs.run_model_on_task(model, task)`` accepts a :class:`JaxmlClassifier` or
:class:`JaxmlRegressor`, and ``openml.flows`` can turn a jaxml flow back into a model.

The flow of an estimator records:

- ``name``/``class_name``: the estimator class (``jaxml.openml.estimator.JaxmlClassifier``);
- ``parameters``: every constructor argument, JSON-encoded (the architecture's widths and
  activation, the optimizer and training settings, the decay tuning, the seed), with a
  ``parameters_meta_info`` description of each;
- ``description``: the architecture in words (``MLP 64-64 relu, Adam ...``);
- ``external_version`` and ``dependencies``: the versions of jaxml, jax, flax, optax, numpy and
  openml (``jaxml==0.1.0,flax==...``), checked when a flow is turned back into a model.

Each fold is run by :meth:`JaxmlExtension._run_model_on_fold`: a fresh clone of the model is
fitted on the fold's training rows and predicts (with class probabilities for classification)
on its test rows; the rows each clone saw are appended to the original model's
``fold_records_`` (a list of :class:`FoldRecord`), so a caller can audit them. Host-side code.
"""

import importlib
import json
import sys
import time
import warnings
from collections import OrderedDict
from typing import Any, NamedTuple

import numpy as np
import openml
import pandas as pd
from openml.extensions import Extension, register_extension
from openml.flows import OpenMLFlow
from openml.tasks import (
    OpenMLClassificationTask,
    OpenMLLearningCurveTask,
    OpenMLRegressionTask,
    OpenMLSupervisedTask,
)

import jaxml
from jaxml.openml.estimator import JaxmlClassifier, JaxmlRegressor, trace_counts

__all__ = ["ESTIMATORS", "FoldRecord", "JaxmlExtension", "register"]

ESTIMATORS = {cls.__module__ + "." + cls.__name__: cls for cls in (JaxmlClassifier, JaxmlRegressor)}
_DEPENDENCIES = ("jaxml", "jax", "flax", "optax", "numpy", "openml")
_PARAM_DOCS = {
    "hidden": "hidden layer widths of the MLP (architecture)",
    "activation": "nonlinearity between layers (architecture)",
    "learning_rate": "Adam step size",
    "num_steps": "Adam steps of the final fit",
    "batch_size": "rows per step, drawn with replacement",
    "weight_decay": "L2 decay per parameter array (start value when tuned)",
    "decay_tuning": "'none' or 'ift' (per-array decays tuned by implicit differentiation)",
    "hyper_steps": "IFT outer steps",
    "inner_steps": "inner Adam steps per IFT outer step",
    "hyper_lr": "Adam step size on the log decays",
    "val_fraction": "share of fit rows held out for IFT tuning",
    "standardize": "standardize features with the fit rows' statistics",
    "seed": "seed of init, mini-batches and the IFT split",
}


class FoldRecord(NamedTuple):
    """What one fold's model saw and did.

    Attributes:
        repeat, fold: the fold's position in the task's estimation procedure.
        train_rows, test_rows: the row labels (the task data's index) of the rows passed to
            ``fit`` and to ``predict`` (-1s where the model got plain arrays).
        new_traces: programs jax traced (compiled) while fitting/predicting this fold.
        decay: the fitted model's L2 decay per parameter array (tuned ones with "ift").
    """

    repeat: int
    fold: int
    train_rows: np.ndarray
    test_rows: np.ndarray
    new_traces: int
    decay: dict


def _versions() -> dict[str, str]:
    return {name: importlib.import_module(name).__version__ for name in _DEPENDENCIES}


class JaxmlExtension(Extension):
    """openml-python extension for :mod:`jaxml.openml` estimators (see the module docstring)."""

    # ---- general setup
    @classmethod
    def can_handle_flow(cls, flow: OpenMLFlow) -> bool:
        ev = flow.external_version if isinstance(flow.external_version, str) else ""
        return (ev.startswith("jaxml==") or ",jaxml==" in ev) and flow.class_name in ESTIMATORS

    @classmethod
    def can_handle_model(cls, model: Any) -> bool:
        return isinstance(model, tuple(ESTIMATORS.values()))

    # ---- flow (de)serialization
    def model_to_flow(self, model: Any) -> OpenMLFlow:
        if not self.can_handle_model(model):
            raise TypeError(f"model must be a jaxml.openml estimator; got {type(model).__name__}")
        params = model.get_params()
        class_name = type(model).__module__ + "." + type(model).__name__
        versions = _versions()
        arch = "-".join(map(str, params["hidden"])) or "linear"
        description = (
            f"jaxml {type(model).__name__}: MLP {arch} ({params['activation']}), Adam lr "
            f"{params['learning_rate']}, {params['num_steps']} steps of {params['batch_size']} "
            f"rows, weight decay {params['weight_decay']} per parameter array"
            + (", tuned by implicit differentiation" if params["decay_tuning"] == "ift" else "")
            + ". Built with jax/flax/optax."
        )
        return OpenMLFlow(
            name=class_name,
            class_name=class_name,
            custom_name=f"jaxml.{type(model).__name__}({arch},{params['decay_tuning']})",
            description=description,
            model=model,
            components=OrderedDict(),
            parameters=OrderedDict((k, json.dumps(val)) for k, val in params.items()),
            parameters_meta_info=OrderedDict(
                (k, OrderedDict(description=_PARAM_DOCS[k], data_type=type(val).__name__))
                for k, val in params.items()
            ),
            external_version=",".join(f"{k}=={versions[k]}" for k in sorted(versions)),
            tags=["openml-python", "jaxml", "jax", "flax"],
            language="English",
            dependencies="\n".join(f"{k}=={versions[k]}" for k in _DEPENDENCIES),
            extension=self,
        )

    def flow_to_model(
        self,
        flow: OpenMLFlow,
        initialize_with_defaults: bool = False,  # noqa: FBT001, FBT002
        strict_version: bool = True,  # noqa: FBT001, FBT002
    ) -> Any:
        if not isinstance(flow, OpenMLFlow):
            raise TypeError(f"flow must be an OpenMLFlow; got {type(flow).__name__}")
        if not self.can_handle_flow(flow):
            raise ValueError(
                f"flow {flow.name!r} is not a jaxml flow (external_version "
                f"{flow.external_version!r})"
            )
        have = _versions()
        recorded = dict(item.split("==", 1) for item in flow.external_version.split(","))
        diff = {k: (recorded[k], have[k]) for k in recorded if k in have and recorded[k] != have[k]}
        if diff:
            msg = f"flow {flow.name} was made with other versions (recorded, installed): {diff}"
            if strict_version:
                raise ValueError(msg + "; pass strict_version=False to load it anyway")
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        cls = ESTIMATORS[flow.class_name]
        if initialize_with_defaults:
            return cls()
        params = {k: json.loads(val) for k, val in flow.parameters.items()}
        if isinstance(params.get("hidden"), list):
            params["hidden"] = tuple(params["hidden"])
        return cls(**params)

    def get_version_information(self) -> list[str]:
        versions = _versions()
        python = "Python_{}.{}.{}".format(*sys.version_info[:3])
        return [python, f"jaxml_{jaxml.__version__}"] + [
            f"{k}_{versions[k]}" for k in _DEPENDENCIES if k != "jaxml"
        ]

    def create_setup_string(self, model: Any) -> str:
        return repr(model)

    # ---- runs
    def is_estimator(self, model: Any) -> bool:
        return all(hasattr(model, a) for a in ("fit", "predict", "get_params", "set_params"))

    def seed_model(self, model: Any, seed: int | None) -> Any:
        """Sets ``model.seed`` to ``seed`` if the model has none (an already-set seed is kept)."""
        if model.seed is None:
            model.set_params(seed=0 if seed is None else int(seed))
        return model

    def check_if_model_fitted(self, model: Any) -> bool:
        return bool(getattr(model, "is_fitted", False))

    def _run_model_on_fold(  # noqa: PLR0913
        self,
        model: Any,
        task: Any,
        X_train: Any,
        rep_no: int,
        fold_no: int,
        y_train: Any = None,
        X_test: Any = None,
    ):
        if not isinstance(task, OpenMLSupervisedTask):
            raise TypeError(
                f"jaxml estimators run supervised tasks only; got {type(task).__name__}"
            )
        if y_train is None or X_test is None:
            raise TypeError("a supervised fold needs y_train and X_test")
        classification = isinstance(task, (OpenMLClassificationTask, OpenMLLearningCurveTask))
        if classification and not callable(getattr(model, "predict_proba", None)):
            raise TypeError(
                f"{type(model).__name__} has no predict_proba, but task {task.task_id} is a "
                "classification task whose runs must store class confidences; use "
                "JaxmlClassifier"
            )
        if isinstance(task, OpenMLRegressionTask) and isinstance(model, JaxmlClassifier):
            raise TypeError(
                f"task {task.task_id} is a regression task; use JaxmlRegressor, not JaxmlClassifier"
            )
        clone = model.clone()
        traces0 = sum(trace_counts().values())
        measures: OrderedDict[str, float] = OrderedDict()
        t0, c0 = time.time(), time.process_time()
        clone.fit(X_train, y_train)
        measures["usercpu_time_millis_training"] = 1e3 * (time.process_time() - c0)
        measures["wall_clock_time_millis_training"] = 1e3 * (time.time() - t0)
        t1, c1 = time.time(), time.process_time()
        pred = clone.predict(X_test)
        proba = None
        if classification:
            proba = pd.DataFrame(clone.predict_proba(X_test), columns=self._labels(clone, task))
            missing = [c for c in task.class_labels if c not in proba.columns]
            for c in missing:  # a class absent from this fold's training rows
                proba[c] = 0.0
            proba = proba[list(task.class_labels)]
            if isinstance(y_train, np.ndarray):  # array format: predictions are class codes
                pred = pred.astype(int)
        measures["usercpu_time_millis_testing"] = 1e3 * (time.process_time() - c1)
        measures["wall_clock_time_millis_testing"] = 1e3 * (time.time() - t1)
        measures["usercpu_time_millis"] = (
            measures["usercpu_time_millis_training"] + measures["usercpu_time_millis_testing"]
        )
        measures["wall_clock_time_millis"] = (
            measures["wall_clock_time_millis_training"] + measures["wall_clock_time_millis_testing"]
        )
        new = sum(trace_counts().values()) - traces0
        measures["jaxml_new_compilations"] = float(new)

        def rows(seen, x):  # the index labels the clone saw; -1s for plain arrays
            return np.asarray(seen) if seen is not None else np.full(len(x), -1)

        records = getattr(model, "fold_records_", None)
        if records is None:
            records = model.fold_records_ = []
        records.append(
            FoldRecord(
                int(rep_no),
                int(fold_no),
                rows(clone.fit_rows_, X_train),
                rows(clone.predict_rows_, X_test),
                int(new),
                dict(clone.decay_),
            )
        )
        return pred, proba, measures, None

    @staticmethod
    def _labels(model, task) -> list:
        """The task's class labels of the model's ``classes_`` (codes map to labels)."""
        classes = model.classes_.tolist()
        labels = task.class_labels
        if labels and classes and isinstance(labels[0], str) and not isinstance(classes[0], str):
            return [labels[int(c)] for c in classes]
        return classes

    def obtain_parameter_values(self, flow: OpenMLFlow, model: Any = None) -> list[dict[str, Any]]:
        model = flow.model if model is None else model
        if not self.can_handle_model(model):
            raise TypeError(f"model must be a jaxml.openml estimator; got {type(model).__name__}")
        return [
            {"oml:name": k, "oml:value": json.dumps(val), "oml:component": flow.flow_id}
            for k, val in model.get_params().items()
        ]

    # ---- hyperparameter optimization
    def instantiate_model_from_hpo_class(self, model: Any, trace_iteration: Any) -> Any:
        raise NotImplementedError(
            "jaxml estimators have no search wrapper with an OpenML trace: decay_tuning='ift' "
            "tunes inside fit and records decay_ / decay_history_ on the fitted model instead"
        )


def register() -> None:
    """Registers :class:`JaxmlExtension` with openml (idempotent)."""
    if JaxmlExtension not in openml.extensions.extensions:
        register_extension(JaxmlExtension)
