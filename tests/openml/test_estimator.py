"""The scikit-learn-style wrapper: parameters, determinism, padding invariance, IFT decay."""

import numpy as np
import pandas as pd
import pytest

from jaxml import openml as jo
from tests.openml.conftest import SMALL


def test_params_protocol():
    m = jo.JaxmlClassifier(**SMALL)
    assert m.get_params()["hidden"] == (8,) and m.get_params()["seed"] == 0
    assert m.set_params(learning_rate=0.2, hidden=[4, 4]) is m
    assert m.learning_rate == 0.2 and m.hidden == (4, 4)
    with pytest.raises(ValueError, match="learning_rate"):
        m.set_params(learning_rate=-1.0)
    assert m.learning_rate == 0.2  # a rejected set_params changes nothing
    with pytest.raises(ValueError, match="'lr' is not a parameter"):
        m.set_params(lr=0.1)
    c = m.clone()
    assert c is not m and c.get_params() == m.get_params() and not c.is_fitted
    with pytest.raises(ValueError, match="not fitted"):
        c.predict(np.zeros((2, 5), np.float32))


def test_deterministic_seed_and_padding(data):
    x, y = data
    a = jo.JaxmlClassifier(**SMALL).fit(x[:60], y[:60])
    b = jo.JaxmlClassifier(**SMALL).fit(x[:60], y[:60])
    np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))
    c = jo.JaxmlClassifier(**{**SMALL, "seed": 1}).fit(x[:60], y[:60])
    assert not np.array_equal(a.predict_proba(x), c.predict_proba(x))
    # predicting rows one bucket at a time or all at once gives the same outputs
    np.testing.assert_allclose(a.predict_proba(x[:7]), a.predict_proba(x)[:7], atol=1e-6)
    p = a.predict_proba(x)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-6)
    assert set(a.predict(x)) <= {0, 1, 2} and (a.predict(x) == y).mean() > 0.9


def test_dataframe_rows_recorded_and_string_labels(data):
    x, y = data
    df = pd.DataFrame(x, index=np.arange(100, 190))
    labels = pd.Series(np.array(["a", "b", "c"])[y], index=df.index)
    m = jo.JaxmlClassifier(**SMALL).fit(df.iloc[:50], labels.iloc[:50])
    np.testing.assert_array_equal(m.fit_rows_, np.arange(100, 150))
    assert list(m.classes_) == ["a", "b", "c"]
    pred = m.predict(df.iloc[50:])
    np.testing.assert_array_equal(m.predict_rows_, np.arange(150, 190))
    assert (pred == labels.iloc[50:].to_numpy()).mean() > 0.9
    with pytest.raises(ValueError, match="numeric columns"):
        m.fit(df.assign(s="x"), labels)


def test_batch_plan():
    plan = jo.batch_plan(3, 1, 7, (500, 4))
    assert plan.shape == (500, 4) and plan.dtype == np.int32
    assert plan.min() == 0 and plan.max() == 6  # uniform over [0, 7): every row, no padding
    counts = np.bincount(plan.ravel(), minlength=7)
    assert counts.min() > 0.8 * 2000 / 7 and counts.max() < 1.2 * 2000 / 7
    np.testing.assert_array_equal(plan, jo.batch_plan(3, 1, 7, (500, 4)))
    assert not np.array_equal(plan, jo.batch_plan(3, 2, 7, (500, 4)))


def test_capacity_bucket():
    assert [jo.capacity_bucket(n) for n in (1, 8, 9, 12, 13, 59, 60, 1437, 1438)] == [
        8,
        8,
        12,
        12,
        16,
        64,
        64,
        1536,
        1536,
    ]


def test_ift_tunes_per_layer_decays(data):
    x, y = data
    kw = {**SMALL, "decay_tuning": "ift", "weight_decay": 1e-2, "hyper_steps": 3, "inner_steps": 2}
    m = jo.JaxmlClassifier(**kw).fit(x, y)
    assert set(m.decay_) == {
        "params/dense_0/kernel",
        "params/dense_0/bias",
        "params/head/kernel",
        "params/head/bias",
    }
    decays = np.array(list(m.decay_.values()))
    assert np.all(np.isfinite(decays)) and np.all(decays > 0)
    assert np.any(np.abs(np.log(decays / 1e-2)) > 1e-3)  # moved from the start value
    assert m.decay_history_.shape == (3,) and np.all(np.isfinite(m.decay_history_))
    m2 = jo.JaxmlClassifier(**kw).fit(x, y)
    assert m2.decay_ == m.decay_  # deterministic
    plain = jo.JaxmlClassifier(**SMALL).fit(x, y)
    assert set(plain.decay_.values()) == {1e-4} or np.allclose(list(plain.decay_.values()), 1e-4)
