"""IFT x DC-S3GD: the glue of jaxml.parallel.hyper against independent computations, the figure's
verdict rule on crafted metrics, and its tiny run on 8 simulated devices (the one subprocess).

In process, K workers are simulated with ``jax.vmap(..., axis_name=...)`` (same collectives as
shard_map); the subprocess runs the figure under ``shard_map`` on 8 CPU devices: it compares one
whole ``dc_bilevel`` update's hypergradient (weight decays by the all-reduced IFT, log lambda by
forward mode through 8-device DC-S3GD) with the 1-device update on the same global batch in
float32 (``metrics["dp_check"]``), and its grid runs check that ``tune_lambda=False`` freezes
lambda.
"""

import copy
import functools
import math
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.compose.ift_dcs3gd import summarize
from experiments.harness import read_json
from jaxml.implicit import hypergradient
from jaxml.implicit.hparams import init_log_decay, l2_penalty
from jaxml.models import MLP, cross_entropy
from jaxml.parallel import dc_s3gd, host_device_flags
from jaxml.parallel.hyper import (
    data_parallel_hypergradient,
    dc_lambda_hypergradient,
)
from jaxml.train import optax_scan

K, LR, TAU = 4, 0.3, 2
MODEL = MLP(hidden=(6,), num_outputs=3)


def _train_loss(p, h, x, y):
    return cross_entropy(MODEL.apply(p, x), y) + l2_penalty(p, h["log_decay"])


def _val_loss(p, h, x, y):
    return cross_entropy(MODEL.apply(p, x), y)


def _problem(dtype, steps=5):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(steps, 16, 4)).astype(dtype)
    y = rng.integers(0, 3, size=(steps, 16)).astype(np.int32)
    xv = rng.normal(size=(8, 4)).astype(dtype)
    yv = rng.integers(0, 3, size=(8,)).astype(np.int32)
    params = jax.tree.map(lambda a: a.astype(dtype), MODEL.init(jax.random.key(0), x[0, :1]))
    params = jax.tree.map(lambda a: a + 0.1, params)  # nonzero biases: every decay matters
    decay = init_log_decay(params, decay=1e-2, granularity="layer")
    hp = {"log_decay": decay, "log_lam": jnp.asarray(np.log(20.0), dtype)}
    return params, hp, (x, y), (xv, yv)


def _shards(a, axis=0):  # [.., B, ..] -> [K, .., B/K, ..]: worker k gets rows k*b:(k+1)*b
    a = jnp.moveaxis(a, axis, 0)
    a = a.reshape(K, a.shape[0] // K, *a.shape[1:])
    return jnp.moveaxis(a, 1, axis + 1)


def _row(tree, k):
    return jax.tree.map(lambda a: a[k], tree)


def _flat(tree):
    return np.concatenate([np.ravel(np.asarray(x)) for x in jax.tree.leaves(tree)])


def test_data_parallel_hypergradient_equals_single_device(x64):
    params, hp, (x, y), (xv, yv) = _problem(np.float64)
    kw = {"num_terms": 4, "alpha": 0.2}

    @jax.jit
    def ref(a, b, c, d):
        return hypergradient(
            _train_loss, _val_loss, params, hp, method="neumann", train_args=(a, b),
            val_args=(c, d), **kw,
        )  # fmt: skip

    @jax.jit
    @functools.partial(jax.vmap, axis_name="d")
    def dp(a, b, c, d):
        return data_parallel_hypergradient(
            _train_loss, _val_loss, params, hp, axis_name="d", train_args=(a, b),
            val_args=(c, d), **kw,
        )[0]  # fmt: skip

    want = ref(x[0], y[0], xv, yv)
    got = dp(*(_shards(a) for a in (x[0], y[0], xv, yv)))
    for k in range(K):
        np.testing.assert_allclose(_flat(_row(got, k)), _flat(want), rtol=1e-10, atol=1e-14)
    # (The IFT gives exactly 0 for log lambda: it does not enter the training loss.)
    assert np.linalg.norm(_flat(want["log_decay"])) > 1e-4 and float(want["log_lam"]) == 0.0


def test_lambda_hypergradient_on_workers_matches_finite_differences_of_dc_s3gd(x64):
    # K workers: forward mode through traced_dc_s3gd vs central differences of the library's
    # dc_s3gd (its own code path), whose mean also checks the traced rule's value.
    params, hp, (x, y), (xv, yv) = _problem(np.float64)
    opt_state = dc_s3gd(LR, 0.0, TAU).init(params)
    loss = lambda p, a, b: _train_loss(p, hp, a, b)  # noqa: E731
    batches = (_shards(x, 1), _shards(y, 1))

    def val_after(lam):
        opt = dc_s3gd(LR, lam, TAU, axis_name="d")
        run = lambda a, b: optax_scan(loss, opt, params, opt_state, batches=(a, b)).params  # noqa: E731
        w = jax.jit(jax.vmap(run, axis_name="d"))(*batches)
        np.testing.assert_allclose(_flat(_row(w, K - 1)), _flat(_row(w, 0)), rtol=1e-12)
        return float(_val_loss(_row(w, 0), hp, xv, yv))

    ll, h = float(hp["log_lam"]), 1e-4
    plus, minus = val_after(math.exp(ll + h)), val_after(math.exp(ll - h))

    @jax.jit
    @functools.partial(jax.vmap, axis_name="d")
    def forward(a, b, c, d):
        return dc_lambda_hypergradient(
            _train_loss, _val_loss, params, opt_state, hp, hp["log_lam"], (a, b), (c, d),
            learning_rate=LR, staleness=TAU, axis_name="d",
        )[:2]  # fmt: skip

    d_lam, val = forward(*batches, _shards(xv), _shards(yv))
    fd = (plus - minus) / (2 * h)
    assert abs(fd) > 1e-6 and abs(plus - minus) > 1e-9  # lambda matters here
    np.testing.assert_allclose(np.asarray(d_lam), fd, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(val), (plus + minus) / 2, rtol=1e-7)  # O(h^2)


# ---- the verdict rule on crafted metrics --------------------------------------------------------


def _metrics():
    grid = {g: {"final": {"val_loss": v}} for g, v in (("1", 0.13), ("10", 0.12), ("100", 0.14))}
    return {
        "grid": grid,
        "tuned": {"final": {"val_loss": 0.121, "lambda": 6.0, "test_accuracy": 0.93}},
        "dp_check": {"rel_err_decay": 3e-7, "rel_err_lambda": 2e-7, "rel_err_max": 3e-7},
        "lambda_grid": [1.0, 10.0, 100.0],
        "rel_tolerance": 1e-5,
        "loss_tolerance": 0.03,
    }


def test_summarize_passes_on_good_metrics():
    summary = summarize(_metrics())
    assert summary.matches, summary.verdict
    assert summary.thresholds["max rel. error 8 vs 1 device"] == 1e-5
    assert summary.numbers["best grid lambda"] == 10.0


@pytest.mark.parametrize(
    "path, value, why",
    [
        (("dp_check", "rel_err_max"), 2e-5, "8-device hypergradient differs"),
        (("tuned", "final", "val_loss"), 0.1240, "tuned val loss"),
        (("tuned", "final", "lambda"), 0.9, "more than one grid step"),
        (("tuned", "final", "lambda"), 101.0, "more than one grid step"),
        (("tuned", "final", "lambda"), math.nan, "more than one grid step"),
    ],
)
def test_summarize_fails_each_condition(path, value, why):
    metrics = copy.deepcopy(_metrics())
    node = metrics
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    summary = summarize(metrics)
    assert not summary.matches and why in summary.verdict


# ---- the tiny figure on 8 simulated devices (the one subprocess) --------------------------------


def test_tiny_figure_on_8_devices(tmp_path):
    env = dict(os.environ)
    env["XLA_FLAGS"] = host_device_flags(8, env.get("XLA_FLAGS", ""))
    root = Path(__file__).resolve().parents[2]
    args = ["-m", "experiments.compose.ift_dcs3gd", "--scale", "tiny", "--workdir", str(tmp_path)]
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=root, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = read_json(tmp_path / "metrics.json")
    assert metrics["scale"] == "tiny" and metrics["device"]["num_devices"] == 8
    assert (tmp_path / "ift_dcs3gd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The check: the all-reduced (shard_map, 8 devices) hypergradient equals the
    # single-device one on the same global batch to 1e-5 in float32.
    chk = metrics["dp_check"]
    assert chk["rel_err_decay"] <= 1e-5 and chk["rel_err_lambda"] <= 1e-5, chk
    assert (
        abs(chk["hypergrad_1_device"]["log_lam"]) > 0
        and chk["hypergrad_1_device"]["decay_norm"] > 0
    )
    hist = metrics["tuned"]["history"]
    assert [r["step"] for r in hist] == [0, 1, 2]
    assert hist[-1]["lambda"] != hist[0]["lambda"]  # lambda was tuned
    assert all(math.isfinite(r["val_loss"]) and r["skipped"] == 0 for r in hist)
    assert set(metrics["grid"]) == {"1", "10"}
    for g, run in metrics["grid"].items():
        assert all(r["lambda"] == pytest.approx(float(g), rel=1e-6) for r in run["history"])
    assert summarize(metrics).thresholds  # the rule itself runs on tiny metrics
