"""Tuning x hyperbolic OT (issue 19, composition 4): the selection glue, the job, the figure.

Every alignment here uses the tiny figure's static settings and shapes (39 nodes, d = 3,
TINY_ALIGNMENT), so the module fixture's smoke run compiles each program once for all tests.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.compose.tune_hot import (
    MIN_MARGIN,
    MIN_SEEDS,
    MIN_SPEARMAN,
    MIN_TRIALS,
    Config,
    run,
    summarize,
)
from experiments.harness import read_json
from experiments.harness.config import make_config
from jaxml.hyperbolic import (
    DEFAULT_SETTING,
    TINY_ALIGNMENT,
    align,
    align_setting,
    hot_selection_job,
    load_validation_pairs,
    proxy_correlation,
    selection_cost,
)
from jaxml.hyperbolic.selection import _selection_cost
from jaxml.tune import Reporter

FIXED = {
    "max_restarts": TINY_ALIGNMENT["num_restarts"],
    "num_iters": TINY_ALIGNMENT["num_iters"],
    "deep_outer": TINY_ALIGNMENT["deep_outer"],
    "deep_inner": TINY_ALIGNMENT["deep_inner"],
    "hidden": TINY_ALIGNMENT["deep_hidden"],
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tune_hot")
    return workdir, run(make_config(Config, "tiny"), workdir)


@pytest.fixture(scope="module")
def pair(tiny):
    workdir, _ = tiny
    ((x, y, truth),) = load_validation_pairs(workdir / "validation_pairs.npz")
    return x, y, truth


def test_tiny_run_writes_everything_and_gives_no_verdict(tiny):
    workdir, metrics = tiny
    assert (workdir / "tune_hot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (workdir / "tune.db").is_file()
    assert read_json(workdir / "metrics.json")["tuned_setting"] == metrics["tuned_setting"]
    assert len(metrics["trials"]) == 2 and metrics["num_nodes"] == [39, 39]
    best = min(metrics["trials"], key=lambda t: t["cost"])
    assert metrics["tuned_setting"] == best["params"]  # chosen by the label-free cost alone
    assert metrics["tuned_setting"]["registration"] == "isometry"  # the tiny space
    assert metrics["default_setting"]["registration"] == "isometry"
    for name in ("default", "tuned"):
        for k in ("p_at_1", "p_at_10"):
            vals = metrics["wordnet"][name][k]
            assert len(vals) == 2 and all(0.0 <= v <= 1.0 for v in vals)
    assert metrics["proxy"] is None  # 2 trials: too few to rank
    dv = metrics["default_validation"]  # the job's own keys: comparable with the trials
    assert set(dv) == {"selection_cost", "p_at_1", "p_at_10"} and dv["selection_cost"] > 0
    assert not summarize(metrics).matches  # 2 seeds, 2 trials: never a verdict at tiny


def test_align_setting_equals_align_with_all_restarts(pair):
    x, y, _ = pair
    key = jax.random.key(3)
    ref = align(x, y, key=key, num_restarts=FIXED["max_restarts"], num_iters=FIXED["num_iters"])
    got = align_setting(x, y, key, num_restarts=FIXED["max_restarts"], **FIXED)
    np.testing.assert_allclose(got.log_plan, ref.log_plan, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(got.mapped_x, ref.mapped_x, atol=1e-5)
    np.testing.assert_allclose(float(got.cost), float(ref.cost), rtol=1e-5)
    np.testing.assert_allclose(got.restart_costs, ref.restart_costs, rtol=1e-5)


def test_num_restarts_keeps_the_best_of_the_first_r(pair):
    x, y, _ = pair
    key = jax.random.key(3)
    full = align_setting(x, y, key, num_restarts=FIXED["max_restarts"], **FIXED)
    one = align_setting(x, y, key, num_restarts=1, **FIXED)
    assert np.all(np.isinf(np.asarray(one.restart_costs)[1:]))
    np.testing.assert_allclose(one.restart_costs[0], full.restart_costs[0], rtol=1e-6)
    np.testing.assert_allclose(float(one.cost), float(full.restart_costs[0]), rtol=1e-6)
    np.testing.assert_allclose(float(full.cost), float(np.min(full.restart_costs)), rtol=1e-6)


def test_deep_registration_setting_gives_a_valid_plan(pair):
    x, y, _ = pair
    iso = align_setting(x, y, jax.random.key(3), num_restarts=2, **FIXED)
    deep = align_setting(x, y, jax.random.key(3), num_restarts=2, registration="mlp", **FIXED)
    plan = np.exp(np.asarray(deep.log_plan, np.float64))
    n, m = plan.shape
    np.testing.assert_allclose(plan.sum(axis=1), 1.0 / n, rtol=2e-2)  # Sinkhorn tol 1e-3
    np.testing.assert_allclose(plan.sum(axis=0), 1.0 / m, rtol=2e-2)
    assert float(np.max(np.abs(deep.mapped_x - iso.mapped_x))) > 0.0  # the MLP moved f(x)
    # The score is selection_cost of (f(x), y) at selection_epsilon (its math: the x64 test;
    # the module's compiled copy here, since an eager ott Sinkhorn compiles for ~6 s).
    score = _selection_cost(deep.mapped_x, y, epsilon=0.05)
    np.testing.assert_allclose(float(deep.selection_cost), float(score), rtol=1e-6)
    assert float(deep.selection_cost) != float(iso.selection_cost)


def _poincare_np(a, b):
    sq = np.sum((a[:, None] - b[None]) ** 2, -1)
    den = (1 - np.sum(a**2, -1))[:, None] * (1 - np.sum(b**2, -1))[None]
    return np.arccosh(1 + 2 * sq / den)


def test_selection_cost_matches_numpy_log_domain_sinkhorn(x64):
    rng = np.random.default_rng(0)
    x = 0.8 * np.tanh(rng.normal(size=(7, 2)))
    y = 0.8 * np.tanh(rng.normal(size=(6, 2)))
    x /= np.maximum(1.0, np.linalg.norm(x, axis=1, keepdims=True) / 0.9)
    y /= np.maximum(1.0, np.linalg.norm(y, axis=1, keepdims=True) / 0.9)
    c = _poincare_np(x, y) ** 2
    s = np.std(_poincare_np(y, y) ** 2)
    eps = 0.1 * s
    f, g = np.zeros(7), np.zeros(6)
    la, lb = np.log(np.full(7, 1 / 7)), np.log(np.full(6, 1 / 6))
    for _ in range(5000):  # log-domain Sinkhorn, independent of ott
        f = eps * la - eps * np.log(np.sum(np.exp((g[None] - c) / eps), 1))
        g = eps * lb - eps * np.log(np.sum(np.exp((f[:, None] - c) / eps), 0))
    want = np.sum(np.exp((f[:, None] + g[None] - c) / eps) * c) / s
    kw = dict(epsilon=0.1, threshold=1e-12, max_iterations=20000)
    got = selection_cost(jnp.asarray(x), jnp.asarray(y), **kw)
    jitted = jax.jit(lambda a, b: selection_cost(a, b, **kw))(jnp.asarray(x), jnp.asarray(y))
    np.testing.assert_allclose(float(got), want, rtol=1e-8)
    np.testing.assert_allclose(float(jitted), want, rtol=1e-8)


def test_proxy_correlation_matches_rank_formulas():
    costs = np.array([3.0, 1.0, 2.0, 5.0, 4.0])
    p1 = np.array([0.1, 0.5, 0.2, 0.4, 0.0])
    r = np.argsort(np.argsort(-costs)).astype(float)
    q = np.argsort(np.argsort(p1)).astype(float)
    spearman = np.corrcoef(r, q)[0, 1]
    sign = np.sign(-costs[:, None] + costs[None]) * np.sign(p1[:, None] - p1[None])
    kendall = np.sum(np.triu(sign, 1)) / (5 * 4 / 2)
    got = proxy_correlation(costs, p1)
    assert got["n"] == 5
    np.testing.assert_allclose(got["spearman"], spearman, rtol=1e-12)
    np.testing.assert_allclose(got["kendall"], kendall, rtol=1e-12)
    assert proxy_correlation(costs, -costs)["spearman"] == pytest.approx(1.0)  # low cost = high
    assert math.isnan(proxy_correlation(costs, np.ones(5))["spearman"])


def test_job_scores_by_the_label_free_cost_and_records_precisions(tiny, pair):
    workdir, _ = tiny
    x, y, _ = pair
    reporter = Reporter()
    config = dict(DEFAULT_SETTING, num_restarts=2)
    fixed = FIXED | {"max_restarts": FIXED["max_restarts"]}
    score = hot_selection_job(
        config, reporter, validation=str(workdir / "validation_pairs.npz"), seed=0, **fixed
    )
    direct = align_setting(x, y, jax.random.fold_in(jax.random.key(0), 0), **fixed | config)
    assert score == pytest.approx(float(direct.selection_cost), rel=1e-6)
    assert reporter.attrs["scores"] == [score] and list(reporter.values) == [0]
    assert 0.0 <= reporter.attrs["p_at_1"][0] <= reporter.attrs["p_at_10"][0] <= 1.0


def _metrics(seeds=3, trials=6, tuned=0.05, default=0.02, spearman=0.7):
    s = list(range(seeds))
    trial = {"params": {}, "cost": 1.0, "p_at_1": 0.1, "p_at_10": 0.3}
    return {
        "root": "ruminant.n.01",
        "num_nodes": [162, 162],
        "chance_p_at_1": 1 / 162,
        "seeds": s,
        "trials": [trial] * trials,
        "tuned_setting": {"registration": "mlp"},
        "wordnet": {
            "default": {"p_at_1": [default] * seeds, "p_at_10": [0.2] * seeds},
            "tuned": {"p_at_1": [tuned] * seeds, "p_at_10": [0.3] * seeds},
        },
        "proxy": {
            "p_at_1": {"spearman": spearman, "kendall": spearman / 2, "n": trials},
            "p_at_10": {"spearman": 0.1, "kendall": 0.0, "n": trials},
        },
        "proxy_by_registration": {"mlp": None},
    }


def test_rule_passes_on_good_metrics():
    summary = summarize(_metrics())
    assert summary.matches is True, summary.verdict
    assert summary.thresholds["min seeds"] == MIN_SEEDS == 3


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"seeds": MIN_SEEDS - 1}, "seed(s)"),
        ({"trials": MIN_TRIALS - 1}, "completed trial(s)"),
        ({"tuned": 0.02 + MIN_MARGIN - 0.001}, "tuned mean P@1"),
        ({"spearman": MIN_SPEARMAN - 0.01}, "Spearman"),
        ({"spearman": float("nan")}, "Spearman"),
    ],
)
def test_rule_fails_on_each_condition(change, reason):
    summary = summarize(_metrics(**change))
    assert summary.matches is False
    assert reason in summary.verdict
