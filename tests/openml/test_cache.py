"""cache_local_task writes openml's formats; get_task reads them with no network, fails fast."""

import time

import numpy as np
import openml
import pytest
import requests

from jaxml import openml as jo
from tests.openml.conftest import blobs


@pytest.fixture
def no_network(monkeypatch):
    """Any request openml tries raises (so a passing test provably sent none)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"openml tried the network: {args} {kwargs}")

    monkeypatch.setattr(openml._api_calls, "_send_request", refuse)


def test_round_trip(cache_dir, data, no_network):
    x, y = data
    tid = jo.cache_local_task(x, y, "blobs", n_folds=3, cache_dir=cache_dir)
    assert jo.is_local_id(tid) and tid >= jo.RESERVED_ID_MIN
    base = cache_dir / "org" / "openml" / "www"
    for f in (
        "tasks/{}/task.xml",
        "tasks/{}/datasplits.arff",
        "datasets/{}/description.xml",
        "datasets/{}/features.xml",
        "datasets/{}/dataset.arff",
    ):
        assert (base / f.format(tid)).is_file()
    task = jo.get_task(tid, cache_dir=cache_dir)  # openml's reader, network refused
    assert isinstance(task, openml.tasks.OpenMLClassificationTask)
    assert task.task_id == tid and task.dataset_id == tid and task.target_name == "class"
    assert task.class_labels == ["0", "1", "2"]
    X, Y = task.get_X_and_y(dataset_format="dataframe")
    np.testing.assert_array_equal(X.to_numpy(np.float32), x)  # float32 -> ARFF -> exact
    np.testing.assert_array_equal(Y.astype(int).to_numpy(), y)
    assert task.get_split_dimensions() == (1, 3, 1)
    tests = [task.get_train_test_split_indices(fold=f) for f in range(3)]
    all_test = np.concatenate([te for _, te in tests])
    np.testing.assert_array_equal(np.sort(all_test), np.arange(len(y)))  # a partition
    for train, test in tests:
        assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(y)
        np.testing.assert_array_equal(np.bincount(y[test]), [10, 10, 10])  # stratified
    dataset = openml.datasets.get_dataset(tid)
    assert dataset.name == "blobs" and dataset.default_target_attribute == "class"
    # same content -> same id; other content or folds -> another id
    assert jo.cache_local_task(x, y, "blobs", n_folds=3, cache_dir=cache_dir) == tid
    assert jo.cache_local_task(x, y, "blobs", n_folds=5, cache_dir=cache_dir) != tid
    assert jo.cache_local_task(x + 1, y, "blobs", n_folds=3, cache_dir=cache_dir) != tid


def test_regression_task(cache_dir, no_network):
    x, _ = blobs(40, 3)
    t = x @ np.array([1.0, -2.0, 0.5])
    tid = jo.cache_local_task(x, t, "reg", n_folds=2, cache_dir=cache_dir, task_type="regression")
    task = jo.get_task(tid, cache_dir=cache_dir)
    assert isinstance(task, openml.tasks.OpenMLRegressionTask)
    _, y = task.get_X_and_y(dataset_format="dataframe")
    # openml's ARFF reader keeps REAL columns at float32 precision
    np.testing.assert_allclose(y.to_numpy(), t, rtol=1e-6, atol=1e-6)


def test_missing_task_fails_fast(cache_dir, no_network):
    t0 = time.perf_counter()
    with pytest.raises(jo.TaskNotCachedError, match=r"task_id=12345 .*missing: task.xml"):
        jo.get_task(12345, cache_dir=cache_dir)
    assert time.perf_counter() - t0 < 2.0
    with pytest.raises(jo.TaskNotCachedError, match="missing"):
        jo.get_task(12345, cache_dir=cache_dir / "empty_cache")


def test_unreachable_server_fails_fast(tmp_path, cache_dir):
    """Online mode, unreachable server: a clear error within the timeout, not a hang; and
    openml itself, configured by use_cache (1 attempt), fails at once too."""
    dead = "http://127.0.0.1:9/api/v1/xml"  # discard port: nothing listens
    try:
        jo.use_cache(tmp_path, server=dead)
        t0 = time.perf_counter()
        with pytest.raises(jo.ServerUnreachableError, match="unreachable"):
            jo.get_task(777, offline=False, timeout=2.0)
        with pytest.raises(requests.exceptions.ConnectionError):
            openml.tasks.get_task(777)
        assert time.perf_counter() - t0 < 5.0
    finally:
        jo.use_cache(cache_dir)


@pytest.mark.parametrize(
    "task_id, error", [(0, ValueError), (-3, ValueError), ("7", TypeError), (2.0, TypeError)]
)
def test_bad_task_ids(task_id, error):
    with pytest.raises(error, match="task_id"):
        jo.get_task(task_id)
