"""Dawid-Skene and one-coin EM: crowd-kit 1.4.2 agreement (x64, 1e-6) and recovery of known
confusion matrices; majority vote against crowd-kit's MajorityVote."""

import jax
import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene, MajorityVote, OneCoinDawidSkene

from jaxml import opinions as op

# crowd-kit 1.4.2 uses pandas keywords that pandas 3 deprecates (copy=, inplace=): not ours.
pytestmark = pytest.mark.filterwarnings("ignore:The (copy|inplace) keyword")


def _random_crowd(seed, num_samples=40, num_annotators=6, k=3, per_sample=4):
    """Labels with ties, unused labels per annotator and a dominant class: the hard cases."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(num_samples):
        truth = s % k if s % 5 else 0
        for a in rng.choice(num_annotators, size=per_sample, replace=False):
            good = rng.random() < (0.9 if a < 3 else 0.45)
            rows.append((s, a, truth if good else int(rng.integers(k))))
    s, a, y = map(np.array, zip(*rows, strict=True))
    assert len(np.unique(y)) == k and len(np.unique(a)) == num_annotators
    return s, a, y


@pytest.fixture(scope="module")
def crowd():
    s, a, y = _random_crowd(0)
    return s, a, y, pd.DataFrame({"task": s, "worker": a, "label": y})


def _crowdkit_confusions(errors, num_annotators, k):
    """crowd-kit's errors_ ((worker, given label) x true label) as [a, true, given], NaN unused."""
    out = np.full((num_annotators, k, k), np.nan)
    for (w, given), row in errors.iterrows():
        out[w, :, given] = row.reindex(range(k)).to_numpy()
    return out


@pytest.mark.parametrize("num_iters", [0, 20])
def test_dawid_skene_matches_crowdkit(crowd, x64, num_iters):
    s, a, y, df = crowd
    table = op.AnnotationTable(s, a, y, num_classes=3)
    ours = jax.jit(op.dawid_skene, static_argnums=(1, 2))(table, 3, num_iters)
    ref = DawidSkene(n_iter=num_iters, tol=-np.inf).fit(df)  # tol=-inf: no early stop
    probas = ref.probas_.reindex(index=range(table.num_samples), columns=range(3)).to_numpy()
    # crowd-kit floors its returned probas at 1e-10 (in its ELBO) without renormalising.
    np.testing.assert_allclose(ours.posteriors, probas, atol=1e-6, rtol=0)
    conf = _crowdkit_confusions(ref.errors_, table.num_annotators, 3)
    used = ~np.isnan(conf)
    np.testing.assert_allclose(np.asarray(ours.confusions)[used], conf[used], atol=1e-6, rtol=0)
    assert np.all(np.asarray(ours.confusions)[~used] == 0.0)  # labels an annotator never gave
    np.testing.assert_array_equal(ours.labels, ref.labels_.reindex(range(table.num_samples)))
    np.testing.assert_allclose(ours.priors, ref.priors_.reindex(range(3)), atol=1e-6)


@pytest.mark.parametrize("num_iters", [10])
def test_one_coin_matches_crowdkit(crowd, x64, num_iters):
    s, a, y, df = crowd
    table = op.AnnotationTable(s, a, y, num_classes=3)
    ours = op.one_coin_dawid_skene(table, 3, num_iters)
    ref = OneCoinDawidSkene(n_iter=num_iters, tol=-np.inf).fit(df)
    probas = ref.probas_.reindex(index=range(table.num_samples), columns=range(3)).to_numpy()
    np.testing.assert_allclose(ours.posteriors, probas, atol=1e-6, rtol=0)
    np.testing.assert_allclose(ours.skills, ref.skills_.reindex(range(6)), atol=1e-6, rtol=0)
    conf = _crowdkit_confusions(ref.errors_, table.num_annotators, 3)
    used = ~np.isnan(conf)
    np.testing.assert_allclose(np.asarray(ours.confusions)[used], conf[used], atol=1e-6, rtol=0)


def test_majority_vote_and_soft_labels_match_crowdkit(crowd):
    s, a, y, df = crowd
    table = op.AnnotationTable(s, a, y, num_classes=3)
    ref = MajorityVote().fit(df)
    np.testing.assert_array_equal(op.majority_vote(table, 3), ref.labels_.sort_index())
    probas = ref.probas_.reindex(index=range(table.num_samples), columns=range(3)).fillna(0)
    np.testing.assert_allclose(op.soft_labels(table, 3), probas.to_numpy(), rtol=1e-6)


def test_dawid_skene_recovers_known_confusion_matrices():
    """Data drawn from the Dawid-Skene model itself: EM recovers the confusions and the truth."""
    rng = np.random.default_rng(1)
    n, num_annotators, k = 1500, 5, 3
    truth = rng.choice(k, size=n, p=[0.5, 0.3, 0.2])
    true_conf = np.stack(
        [
            np.full((k, k), (1 - d) / (k - 1)) + np.eye(k) * (d - (1 - d) / (k - 1))
            for d in (0.9, 0.8, 0.7, 0.6, 0.85)
        ]
    )
    true_conf[2] = [[0.7, 0.3, 0.0], [0.1, 0.6, 0.3], [0.0, 0.2, 0.8]]  # a non-symmetric one
    cdf = np.cumsum(true_conf[np.arange(num_annotators)[None, :], truth[:, None]], axis=-1)
    labels = np.minimum((rng.random((n, num_annotators, 1)) > cdf).sum(-1), k - 1)  # [n, a]
    table = op.AnnotationTable(
        np.repeat(np.arange(n), num_annotators),
        np.tile(np.arange(num_annotators), n),
        labels.reshape(-1),
        num_classes=k,
    )
    res = jax.jit(op.dawid_skene, static_argnums=(1, 2))(table, k, 50)
    # Each entry is a frequency over the n_c samples of class c: allow 4 standard deviations
    # (+0.01 for the posterior uncertainty about which class a sample has).
    n_c = np.bincount(truth, minlength=k)[None, :, None]
    sd = np.sqrt(true_conf * (1 - true_conf) / n_c)
    assert np.all(np.abs(np.asarray(res.confusions) - true_conf) <= 4 * sd + 0.01)
    assert np.abs(np.asarray(res.confusions) - true_conf).max() < 0.06
    np.testing.assert_allclose(res.priors, [0.5, 0.3, 0.2], atol=0.03)
    assert np.mean(np.asarray(res.labels) == truth) > 0.95
    assert np.mean(np.asarray(op.majority_vote(table, k)) == truth) < np.mean(
        np.asarray(res.labels) == truth
    )
    one = op.one_coin_dawid_skene(table, k, 50)  # skills: the diagonal's share, roughly
    np.testing.assert_allclose(
        np.asarray(one.skills)[[0, 1, 3, 4]], [0.9, 0.8, 0.6, 0.85], atol=0.05
    )


def test_num_iters_is_checked(crowd):
    s, a, y, _ = crowd
    table = op.AnnotationTable(s, a, y, num_classes=3)
    with pytest.raises(ValueError, match="num_iters must be an int >= 0"):
        op.dawid_skene(table, 3, num_iters=-1)
    with pytest.raises(TypeError, match="num_iters must be an int"):
        op.one_coin_dawid_skene(table, 3, num_iters=2.5)
