"""Bad calls to jaxml.openml (see tests/bad_inputs/audit.py).

openml's cache is pointed at a fresh temporary directory before openml is imported (openml
creates its cache directory and a log file there on import), so the audit never writes to
~/.cache/openml and never needs the network.
"""

import functools
import os
import tempfile

os.environ.setdefault("OPENML_CACHE_DIR", tempfile.mkdtemp(prefix="jaxml-audit-openml-"))

import numpy as np  # noqa: E402
from openml.runs import OpenMLRun  # noqa: E402

from jaxml import openml as jo  # noqa: E402
from jaxml.testing import bad_calls  # noqa: E402

F = "jaxml.openml."
_TMP = tempfile.mkdtemp(prefix="jaxml-audit-openml-cases-")
_x = np.random.default_rng(0).normal(size=(12, 3)).astype(np.float32)
_y = np.arange(12) % 2
_file = os.path.join(_TMP, "a_file")
open(_file, "w").close()  # noqa: SIM115


@functools.cache
def _task():
    tid = jo.cache_local_task(_x, _y, "audit", n_folds=2, cache_dir=os.path.join(_TMP, "c"))
    return jo.get_task(tid)


def _run():
    return OpenMLRun(task_id=1, flow_id=None, dataset_id=1)


def _clf(**kw):
    return jo.JaxmlClassifier(**kw)


def _fitted():
    return jo.JaxmlClassifier(hidden=(2,), num_steps=2, batch_size=4).fit(_x, _y)


def _cases(name, arg, items, errors=(ValueError, TypeError)):
    return bad_calls(F + name, arg, items, errors)


def _ctask(**kw):
    args = {"X": _x, "y": _y, "name": "t", "n_folds": 2, "cache_dir": os.path.join(_TMP, "c")}
    args.update(kw)
    return lambda: jo.cache_local_task(args.pop("X"), args.pop("y"), args.pop("name"), **args)


CASES = [
    *_cases(
        "cache_local_task",
        "X",
        [
            ("NaN", _ctask(X=np.where(_x > 1, np.nan, _x))),
            ("1-D", _ctask(X=_x[:, 0])),
            ("strings", _ctask(X="abc")),
        ],
    ),
    *_cases(
        "cache_local_task",
        "y",
        [
            ("wrong length", _ctask(y=_y[:5])),
            ("negative label", _ctask(y=_y - 1)),
            ("float labels", _ctask(y=_y + 0.5)),
            ("one class", _ctask(y=np.zeros(12, int))),
            ("NaN regression targets", _ctask(y=np.full(12, np.nan), task_type="regression")),
        ],
    ),
    *_cases(
        "cache_local_task",
        "name",
        [
            ("empty", _ctask(name="")),
            ("space", _ctask(name="a b")),
            ("not a str", _ctask(name=3)),
        ],
    ),
    *_cases(
        "cache_local_task",
        "n_folds",
        [
            ("1", _ctask(n_folds=1)),
            ("more than the smallest class", _ctask(n_folds=7)),
            ("'3'", _ctask(n_folds="3")),
        ],
    ),
    *_cases(
        "cache_local_task",
        "cache_dir",
        [
            ("None", _ctask(cache_dir=None)),
            ("a file", _ctask(cache_dir=_file)),
        ],
    ),
    *_cases("cache_local_task", "task_type", [("clustering", _ctask(task_type="clustering"))]),
    *_cases("cache_local_task", "seed", [("-1", _ctask(seed=-1))]),
    *_cases(
        "cache_local_task",
        "feature_names",
        [
            ("too few", _ctask(feature_names=["a"])),
            ("a str", _ctask(feature_names="abc")),
        ],
    ),
    *_cases(
        "get_task",
        "task_id",
        [
            ("0", lambda: jo.get_task(0)),
            ("'5'", lambda: jo.get_task("5")),
            ("1.5", lambda: jo.get_task(1.5)),
            ("True", lambda: jo.get_task(True)),
        ],
    ),
    *_cases(
        "get_task",
        "task_id",
        [
            ("not cached, offline", lambda: jo.get_task(424242, cache_dir=os.path.join(_TMP, "c"))),
        ],
        errors=(FileNotFoundError,),
    ),
    *_cases("get_task", "offline", [("'no'", lambda: jo.get_task(1, offline="no"))]),
    *_cases("get_task", "timeout", [("0", lambda: jo.get_task(1, timeout=0))]),
    *_cases("get_task", "cache_dir", [("int", lambda: jo.get_task(1, cache_dir=5))]),
    *_cases("cached_task_files", "task_id", [("-1", lambda: jo.cached_task_files(-1))]),
    *_cases("cached_task_files", "cache_dir", [("int", lambda: jo.cached_task_files(1, 3))]),
    *_cases(
        "use_cache",
        "cache_dir",
        [
            ("None", lambda: jo.use_cache(None)),
            ("a file", lambda: jo.use_cache(_file)),
        ],
    ),
    *_cases("use_cache", "server", [("no URL", lambda: jo.use_cache(_TMP, server="openml"))]),
    *_cases("use_cache", "n_retries", [("0", lambda: jo.use_cache(_TMP, n_retries=0))]),
    *_cases("is_local_id", "task_id", [("str", lambda: jo.is_local_id("7"))]),
    *_cases("batch_plan", "n_rows", [("0", lambda: jo.batch_plan(0, 0, 0, (2, 3)))]),
    *_cases(
        "batch_plan",
        "shape",
        [
            ("a list", lambda: jo.batch_plan(0, 0, 5, [2, 3])),
            ("zero size", lambda: jo.batch_plan(0, 0, 5, (2, 0))),
        ],
    ),
    *_cases("batch_plan", "seed", [("-1", lambda: jo.batch_plan(-1, 0, 5, (2,)))]),
    *_cases(
        "capacity_bucket",
        "n",
        [
            ("0", lambda: jo.capacity_bucket(0)),
            ("'3'", lambda: jo.capacity_bucket("3")),
        ],
    ),
    *_cases(
        "JaxmlClassifier",
        "hidden",
        [
            ("a str", lambda: _clf(hidden="64")),
            ("width 0", lambda: _clf(hidden=(0,))),
        ],
    ),
    *_cases("JaxmlClassifier", "activation", [("sigmoid", lambda: _clf(activation="sigmoid"))]),
    *_cases("JaxmlClassifier", "learning_rate", [("0", lambda: _clf(learning_rate=0.0))]),
    *_cases("JaxmlClassifier", "num_steps", [("0", lambda: _clf(num_steps=0))]),
    *_cases("JaxmlClassifier", "batch_size", [("-1", lambda: _clf(batch_size=-1))]),
    *_cases(
        "JaxmlClassifier",
        "weight_decay",
        [
            ("negative", lambda: _clf(weight_decay=-1e-3)),
            ("0 with ift", lambda: _clf(weight_decay=0.0, decay_tuning="ift")),
        ],
    ),
    *_cases("JaxmlClassifier", "decay_tuning", [("grid", lambda: _clf(decay_tuning="grid"))]),
    *_cases("JaxmlClassifier", "hyper_steps", [("0", lambda: _clf(hyper_steps=0))]),
    *_cases("JaxmlClassifier", "inner_steps", [("0", lambda: _clf(inner_steps=0))]),
    *_cases("JaxmlClassifier", "hyper_lr", [("-1", lambda: _clf(hyper_lr=-1.0))]),
    *_cases("JaxmlClassifier", "val_fraction", [("1.0", lambda: _clf(val_fraction=1.0))]),
    *_cases("JaxmlClassifier", "standardize", [("'yes'", lambda: _clf(standardize="yes"))]),
    *_cases(
        "JaxmlClassifier",
        "seed",
        [
            ("-1", lambda: _clf(seed=-1)),
            ("1.5", lambda: _clf(seed=1.5)),
        ],
    ),
    *_cases(
        "JaxmlClassifier", "lr", [("unknown set_params name", lambda: _clf().set_params(lr=1))]
    ),
    *_cases(
        "JaxmlClassifier",
        "X",
        [
            ("NaN in fit", lambda: _clf().fit(np.where(_x > 1, np.nan, _x), _y)),
            ("1-D in fit", lambda: _clf().fit(_x[:, 0], _y)),
            ("predict before fit", lambda: _clf().predict(_x)),
            ("wrong width in predict", lambda: _fitted().predict(_x[:, :2])),
        ],
    ),
    *_cases(
        "JaxmlClassifier",
        "y",
        [
            ("wrong length", lambda: _clf().fit(_x, _y[:3])),
            ("one class", lambda: _clf().fit(_x, np.zeros(12, int))),
            ("NaN labels", lambda: _clf().fit(_x, np.full(12, np.nan))),
        ],
    ),
    *_cases(
        "JaxmlRegressor",
        "y",
        [
            ("strings", lambda: jo.JaxmlRegressor().fit(_x, np.array(["a"] * 12))),
            ("NaN targets", lambda: jo.JaxmlRegressor().fit(_x, np.full(12, np.nan))),
            ("2-D", lambda: jo.JaxmlRegressor().fit(_x, np.zeros((12, 2)))),
        ],
    ),
    *_cases("JaxmlRegressor", "num_steps", [("0", lambda: jo.JaxmlRegressor(num_steps=0))]),
    *_cases(
        "JaxmlExtension",
        "model",
        [
            ("not a jaxml model", lambda: jo.JaxmlExtension().model_to_flow("mlp")),
        ],
    ),
    *_cases(
        "JaxmlExtension",
        "flow",
        [
            ("None", lambda: jo.JaxmlExtension().flow_to_model(None)),
        ],
    ),
    *_cases("run_on_task", "task", [("an int", lambda: jo.run_on_task(_clf(), 5))]),
    *_cases("run_on_task", "model", [("a str", lambda: jo.run_on_task("mlp", _task()))]),
    *_cases("run_on_task", "seed", [("-1", lambda: jo.run_on_task(_clf(), _task(), seed=-1))]),
    *_cases("save_run", "run", [("a str", lambda: jo.save_run("run", _TMP))]),
    *_cases(
        "save_run",
        "directory",
        [
            ("int", lambda: jo.save_run(_run(), 5)),
            ("not empty", lambda: jo.save_run(_run(), _TMP)),
        ],
    ),
    *_cases(
        "save_run",
        "store_model",
        [
            ("'yes'", lambda: jo.save_run(_run(), os.path.join(_TMP, "r"), store_model="yes")),
        ],
    ),
    *_cases(
        "load_run",
        "directory",
        [
            ("missing", lambda: jo.load_run(os.path.join(_TMP, "nope"))),
            ("holds no run", lambda: jo.load_run(_TMP)),
        ],
        errors=(FileNotFoundError,),
    ),
    *_cases("load_run", "expect_model", [("'no'", lambda: jo.load_run(_TMP, expect_model="no"))]),
    *_cases(
        "fold_scores",
        "run",
        [
            ("a str", lambda: jo.fold_scores("run")),
            ("never run", lambda: jo.fold_scores(_run())),
        ],
    ),
    *_cases("fold_scores", "metric", [("auc", lambda: jo.fold_scores(_run(), "auc"))]),
    *_cases("audit_folds", "task", [("a str", lambda: jo.audit_folds("task", []))]),
    *_cases(
        "audit_folds",
        "records",
        [
            ("empty", lambda: jo.audit_folds(_task(), [])),
            ("ints", lambda: jo.audit_folds(_task(), [1, 2])),
        ],
    ),
]

EXEMPT = {
    F + "FoldRecord": "a NamedTuple the extension fills; audit_folds checks it where it is used",
    F + "ServerUnreachableError": "an exception class",
    F + "TaskNotCachedError": "an exception class",
    F + "register": "takes no argument",
    F + "trace_counts": "takes no argument",
}
