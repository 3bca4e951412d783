"""Compression x MLPerf: jaxml.bench.compressed against numpy, the verdict rule, a smoke run."""

import copy
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.compose.compress_mlperf import THRESHOLDS, Config, run, summarize
from jaxml.bench import INT8_MATMULS, brief_summary, int8_mlp, model_names
from jaxml.compress import Compose, Layers, NeuronPrune, Quantize
from jaxml.models import MLP

# ------------------------------------------------------------------ int8_mlp against numpy


@pytest.fixture(scope="module")
def compressed():
    """A random [6 -> 8 -> 8 -> 3] MLP pruned to half its neurons and int8-quantized."""
    module = MLP(hidden=(8, 8), num_outputs=3)
    x = jax.random.normal(jax.random.key(0), (5, 6))
    params = module.init(jax.random.key(1), x)
    # Non-zero biases, so pruned neurons' biases (zeroed by NeuronPrune) and kept ones differ.
    params = jax.tree.map(lambda a: a + 0.1 if a.ndim == 1 else a, params)
    scheme = Compose([NeuronPrune(0.5, Layers(exclude=("head",), max_ndim=2)), Quantize("int8")])
    stored, aux = jax.device_get(jax.jit(scheme.compress)(params))
    return np.asarray(x), stored, aux, jax.device_get(jax.jit(scheme.decompress)(stored, aux))


def _np_forward(floats, x):
    """The unshrunk, dequantized float MLP in float64 numpy (pruned neurons still present)."""
    p = floats["params"]
    h = np.asarray(x, np.float64)
    for name in ("dense_0", "dense_1"):
        h = np.maximum(h @ np.asarray(p[name]["kernel"], np.float64) + p[name]["bias"], 0)
    return h @ np.asarray(p["head"]["kernel"], np.float64) + p["head"]["bias"]


def _np_w8a8(layers, x):
    """int8 x int8 -> int matmul with per-row activation scales, in numpy (int64 accumulate)."""
    h = np.asarray(x, np.float32)
    for i, layer in enumerate(layers):
        a = np.max(np.abs(h), axis=1, keepdims=True) / np.float32(127.0)
        a = np.where(a > 0, a, np.float32(1.0)).astype(np.float32)
        hq = np.clip(np.round(h / a), -127, 127).astype(np.int64)
        acc = hq @ np.asarray(layer["q"], np.int64)
        h = acc.astype(np.float32) * a * np.asarray(layer["scale"]) + np.asarray(layer["bias"])
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    return h


def test_dequantize_equals_numpy_float_model(compressed):
    x, stored, aux, floats = compressed
    m = int8_mlp(stored, aux, matmul="dequantize")
    assert m.hidden == (4, 4)
    assert all(layer["q"].dtype == jnp.int8 for layer in m.params)
    ref = _np_forward(floats, x)
    for fn in (m.apply, jax.jit(m.apply)):
        np.testing.assert_allclose(np.asarray(fn(m.params, x)), ref, rtol=1e-5, atol=1e-5)
    # the shrunk float twin computes the same function
    np.testing.assert_allclose(
        np.asarray(m.float_apply(m.float_params, x)), ref, rtol=1e-5, atol=1e-5
    )


def test_int8_matmul_equals_numpy_w8a8(compressed):
    x, stored, aux, floats = compressed
    m = int8_mlp(stored, aux, matmul="int8")
    ref = _np_w8a8(m.params, x)
    for fn in (m.apply, jax.jit(m.apply)):
        np.testing.assert_allclose(np.asarray(fn(m.params, x)), ref, rtol=1e-5, atol=1e-5)
    # activation rounding moves the logits a little from the float model, not a lot
    assert np.max(np.abs(ref - _np_forward(floats, x))) < 0.05 * np.max(np.abs(ref))


@pytest.mark.parametrize("matmul", INT8_MATMULS)
def test_compiled_program_runs_int8_weights(compressed, matmul):
    x, stored, aux, _ = compressed
    m = int8_mlp(stored, aux, matmul=matmul)
    hlo = jax.jit(m.apply).lower(m.params, x).as_text()
    assert "xi8>" in hlo  # int8 weights enter the compiled program (not pre-dequantized)
    if matmul == "int8":
        assert "xi32>" in hlo  # the int8 x int8 dot accumulates in int32


def test_int8_mlp_rejects_float_kernels(compressed):
    _, stored, aux, floats = compressed
    with pytest.raises(ValueError, match="stored"):
        int8_mlp(floats, aux)
    with pytest.raises(TypeError, match="aux"):
        int8_mlp(stored, ())
    with pytest.raises(ValueError, match="matmul"):
        int8_mlp(stored, aux, matmul="int4")


def test_registry_has_the_compressed_model():
    assert "mlp-lc-int8" in model_names()


# ------------------------------------------------------------------ the verdict rule


def _metrics():
    ok = {"issued": 10, "completed_unique": 10, "duplicates": 0, "error_responses": 0}

    def model(qps, p90_ns, acc):
        runs = {
            s: {
                "metric_name": "m",
                "metric_value": qps if s == "Offline" else p90_ns,
                "result_valid": True,
                "invalid_reasons": [],
                "latency_ns": {"50.00": p90_ns / 2, "90.00": p90_ns, "99.00": 2 * p90_ns},
                "completion": dict(ok),
                "raw_samples_per_s": qps,
            }
            for s in ("Offline", "SingleStream")
        }
        return {
            "info": {},
            "weight_bytes": 100,
            "runs": runs,
            "accuracy": {
                "metric": "accuracy",
                "loadgen": {"accuracy": acc},
                "outside_loadgen": {"accuracy": acc},
                "equal": True,
                "completion": dict(ok),
            },
            "outside_loadgen": {"accuracy": acc},
        }

    return {
        "dense": "mlp",
        "compressed": "mlp-lc-int8",
        "models": {"mlp": model(1000.0, 2e5, 0.96), "mlp-lc-int8": model(1500.0, 1e5, 0.95)},
    }


def test_rule_passes_on_good_metrics():
    s = summarize(_metrics())
    assert s.matches is True and s.thresholds == THRESHOLDS


@pytest.mark.parametrize(
    "condition", ["accuracy", "throughput", "invalid", "equal", "outside", "duplicate", "missing"]
)
def test_rule_fails_each_condition(condition):
    m = copy.deepcopy(_metrics())
    c = m["models"]["mlp-lc-int8"]
    if condition == "accuracy":  # drop 0.0201 > 0.02
        c["accuracy"]["loadgen"]["accuracy"] = c["outside_loadgen"]["accuracy"] = 0.9399
    elif condition == "throughput":
        c["runs"]["Offline"]["metric_value"] = 999.0
    elif condition == "invalid":
        m["models"]["mlp"]["runs"]["SingleStream"]["result_valid"] = False
        m["models"]["mlp"]["runs"]["SingleStream"]["invalid_reasons"] = ["Min queries met: NO"]
    elif condition == "equal":
        c["accuracy"]["equal"] = False
    elif condition == "outside":
        c["outside_loadgen"]["accuracy"] = 0.951
    elif condition == "duplicate":
        c["runs"]["Offline"]["completion"]["duplicates"] = 1
    else:
        m["models"]["mlp"]["accuracy"]["completion"]["completed_unique"] = 9
    s = summarize(m)
    assert s.matches is False
    if condition == "invalid":
        assert "Min queries met: NO" in s.verdict


def test_brief_summary_rejects_partial_dicts():
    with pytest.raises(ValueError, match="summary"):
        brief_summary({"metric_name": "x"})


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="density"):
        Config(density=0.0)
    with pytest.raises(ValueError, match="matmul"):
        Config(matmul="int4")
    with pytest.raises(ValueError, match="min_duration_ms"):
        Config(min_duration_ms=0)


# ------------------------------------------------------------------ smoke run


def test_smoke_run(tmp_path):
    cfg = Config(scale="tiny", train_steps=20, lc_steps=10, min_duration_ms=100, min_query_count=64)
    m = run(cfg, tmp_path)
    assert (tmp_path / "compress_mlperf.png").is_file()
    assert (tmp_path / "compress_mlperf_table.md").read_text().count("\n") == 4
    assert json.loads((tmp_path / "metrics.json").read_text())["scale"] == "tiny"
    for name, mm in m["models"].items():
        for s in ("Offline", "SingleStream"):
            c = mm["runs"][s]["completion"]
            assert c["completed_unique"] == c["issued"] > 0 and c["duplicates"] == 0
            assert (tmp_path / name / s / "mlperf_log_summary.txt").is_file()
        acc = mm["accuracy"]
        assert acc["equal"] is True
        # AccuracyOnly covers every sample: LoadGen's accuracy is the whole test set's
        assert acc["completion"]["completed_unique"] == 359
        assert acc["loadgen"]["accuracy"] == pytest.approx(mm["outside_loadgen"]["accuracy"])
    assert m["models"]["mlp-lc-int8"]["info"]["hidden"] == [32, 32]
    summarize(m)  # no verdict asserted: a tiny run is a smoke run
