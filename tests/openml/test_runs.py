"""run_model_on_task with the jaxml extension: folds respected, no recompilation, run files valid
for openml's reader, per-fold scores from stored predictions, flow <-> model round trip."""

import arff
import numpy as np
import openml
import pytest
from sklearn.metrics import accuracy_score

from jaxml import openml as jo
from tests.openml.conftest import SMALL


def test_folds_respected_on_rows_the_model_saw(task, jaxml_run, data):
    model, run, _, _ = jaxml_run
    records = model.fold_records_
    assert [(r.repeat, r.fold) for r in records] == [(0, 0), (0, 1), (0, 2)]
    for r in records:  # independent check against openml's split
        train, test = task.get_train_test_split_indices(fold=r.fold)
        assert len(np.intersect1d(r.train_rows, r.test_rows)) == 0
        np.testing.assert_array_equal(np.sort(r.train_rows), np.sort(train))
        np.testing.assert_array_equal(np.sort(r.test_rows), np.sort(test))
    audit = jo.audit_folds(task, records)
    assert audit == {
        "folds": 3,
        "leaked_rows": 0,
        "mismatched_folds": [],
        "untested_rows": 0,
        "compilations_after_first_fold": 0,
    }
    # the audit can fail: a record that trained on a test row is caught
    bad = records[0]._replace(train_rows=np.append(records[0].train_rows, records[0].test_rows[0]))
    caught = jo.audit_folds(task, [bad, *records[1:]])
    assert caught["leaked_rows"] == 1 and caught["mismatched_folds"] == [(0, 0)]


def test_folds_do_not_recompile(jaxml_run):
    model, _, before, after = jaxml_run
    new = [r.new_traces for r in model.fold_records_]
    assert new[1:] == [0, 0]
    assert sum(after.values()) - sum(before.values()) == sum(new) <= 2  # fit + predict, once
    # another run of the same structure (other learning rate: a traced value) compiles nothing
    counts = jo.trace_counts()
    other = jo.JaxmlClassifier(**{**SMALL, "learning_rate": 0.01})
    jo.run_on_task(other, jo.get_task(jaxml_run[1].task_id))
    assert jo.trace_counts() == counts


def test_predictions_are_the_models(task, jaxml_run):
    """The stored predictions of fold 0 equal a fresh fit on that fold's rows (same seed)."""
    _, run, _, _ = jaxml_run
    X, y = task.get_X_and_y(dataset_format="dataframe")
    train, test = task.get_train_test_split_indices(fold=0)
    ref = jo.JaxmlClassifier(**SMALL).fit(X.iloc[train], y.iloc[train])
    # openml's in-memory rows: repeat, fold, sample, row id, prediction, truth, *probabilities
    rows = {int(r[3]): r for r in run.data_content if r[1] == 0}
    pred = ref.predict(X.iloc[test])
    proba = ref.predict_proba(X.iloc[test])
    for i, row_id in enumerate(test):
        line = rows[int(row_id)]
        assert line[4] == pred[i] and line[5] == y.iloc[row_id]
        np.testing.assert_allclose(line[6:9], proba[i], rtol=0, atol=1e-6)
    live = run.fold_evaluations["predictive_accuracy"][0]
    assert live[0] == pytest.approx(accuracy_score(y.iloc[test], pred), abs=1e-12)
    assert min(live.values()) > 0.9  # separable blobs


def test_run_files_round_trip(tmp_path, task, jaxml_run):
    _, run, _, _ = jaxml_run
    d = jo.save_run(run, tmp_path / "run")
    assert {p.name for p in d.iterdir()} == {
        "description.xml",
        "predictions.arff",
        "flow.xml",
        "model.pkl",
    }
    with open(d / "predictions.arff") as fh:  # openml's ARFF reader
        pred = arff.load(fh)
    names = [a[0] for a in pred["attributes"]]
    assert names == [
        "repeat",
        "fold",
        "sample",
        "row_id",
        "prediction",
        "correct",
        "confidence.0",
        "confidence.1",
        "confidence.2",
    ]
    assert len(pred["data"]) == 90
    loaded = jo.load_run(d)
    assert isinstance(loaded, openml.runs.OpenMLRun) and loaded.task_id == task.task_id
    assert loaded.flow.name == "jaxml.openml.estimator.JaxmlClassifier"
    scores = jo.fold_scores(loaded)
    live = run.fold_evaluations["predictive_accuracy"][0]
    np.testing.assert_array_equal(scores, [[live[0], live[1], live[2]]])
    # the pickled model is the run's model, records included
    assert loaded.model.get_params() == run.model.get_params()
    with pytest.raises(ValueError, match="directory must be empty"):
        jo.save_run(run, d)


def test_flow_round_trip(tmp_path):
    model = jo.JaxmlClassifier(hidden=(32, 16), activation="tanh", decay_tuning="ift", seed=3)
    ext = jo.JaxmlExtension()
    flow = ext.model_to_flow(model)
    assert "jaxml==" in flow.external_version and "flax==" in flow.external_version
    assert flow.parameters["hidden"] == "[32, 16]" and "MLP 32-16 (tanh)" in flow.description
    flow.to_filesystem(tmp_path)
    again = openml.flows.OpenMLFlow.from_filesystem(tmp_path)
    openml.flows.functions.assert_flows_equal(flow, again)
    assert isinstance(again.extension, jo.JaxmlExtension)  # found by openml's registry
    rebuilt = again.extension.flow_to_model(again)
    assert type(rebuilt) is jo.JaxmlClassifier and rebuilt.get_params() == model.get_params()
    values = {p["oml:name"]: p["oml:value"] for p in ext.obtain_parameter_values(flow)}
    assert values["seed"] == "3" and values["activation"] == '"tanh"'
    # a flow made with other versions: refused when strict, warned otherwise
    again.external_version = again.external_version.replace("jax==", "jax==0.0.1+")
    with pytest.raises(ValueError, match="other versions"):
        ext.flow_to_model(again)
    with pytest.warns(RuntimeWarning, match="other versions"):
        ext.flow_to_model(again, strict_version=False)


def test_regressor_and_wrong_model_kind(cache_dir, task):
    from tests.openml.conftest import blobs

    reg = jo.JaxmlRegressor(**SMALL)
    with pytest.raises(TypeError, match="no predict_proba.*classification task"):
        jo.run_on_task(reg, task)
    x, _ = blobs(40, 3)
    t = x @ np.array([1.0, -2.0, 0.5])
    tid = jo.cache_local_task(x, t, "reg", n_folds=2, cache_dir=cache_dir, task_type="regression")
    rtask = jo.get_task(tid)
    run = jo.run_on_task(reg, rtask)
    mae = jo.fold_scores(run, "mean_absolute_error")
    live = run.fold_evaluations["mean_absolute_error"][0]
    np.testing.assert_allclose(mae, [[live[0], live[1]]], rtol=1e-12)
    assert mae.max() < 0.5 * np.abs(t - t.mean()).mean()  # learns better than the mean
    with pytest.raises(TypeError, match="regression task"):
        jo.run_on_task(jo.JaxmlClassifier(**SMALL), rtask)
