"""jaxml.bench against the official LoadGen: short runs (~0.3-1 s) of a tiny linear model."""

import json
import threading
import time

import jax
import jax.numpy as jnp
import mlperf_loadgen as lg
import numpy as np
import pytest

from jaxml import bench
from jaxml.bench import (
    JaxSUT,
    RecompilationError,
    SampleLibrary,
    SUTError,
    make_test_settings,
    parse_detail,
    parse_summary,
    run_test,
    score_accuracy_log,
)

N, D, C = 96, 16, 5
_rng = np.random.default_rng(0)
X = _rng.normal(size=(N, D)).astype(np.float32)
W = _rng.normal(size=(D, C)).astype(np.float32)
LABELS = np.argmax(X @ W + _rng.normal(scale=2.0, size=(N, C)), axis=1).astype(np.int32)
FAST = {"min_duration_ms": 300, "single_stream_expected_latency_ms": 0.05}


def linear(w, x):
    return x @ w


@pytest.fixture(scope="module")
def library():
    return SampleLibrary(X, LABELS)


def new_sut(library, fn=linear, buckets=(1, 8, 32)):
    sut = JaxSUT(fn, jnp.asarray(W), library, buckets=buckets, name="tiny")
    sut.warmup(repeats=1)
    return sut


def settings(scenario, mode="performance", **over):
    defaults = {
        "SingleStream": {"single_stream_expected_latency_ms": 0.05},
        "MultiStream": {"multi_stream_expected_latency_ms": 0.05, "min_query_count": 100},
        "Server": {"server_target_qps": 400, "server_target_latency_ms": 50},
        "Offline": {"offline_expected_qps": 20_000},
    }[scenario]
    return make_test_settings(
        scenario, mode, overrides={"min_duration_ms": 300, **defaults, **over}
    )


@pytest.fixture(scope="module")
def runs(library, tmp_path_factory):
    """One short performance run per scenario (shared by the checks below)."""
    out = {}
    for scenario in bench.SCENARIOS:
        sut = new_sut(library)
        d = tmp_path_factory.mktemp(scenario)
        out[scenario] = (run_test(sut, settings(scenario), d, timeout_s=60), sut, d)
    return out


# ---------------------------------------------------------------- settings
def test_settings_come_from_loadgen_conf(tmp_path):
    s = make_test_settings("Server", "performance")
    assert s.min_duration_ms == 600_000  # compiled mlperf.conf
    assert s.server_target_latency_ns == 10_000_000
    assert s.server_target_latency_percentile == pytest.approx(0.99)
    assert s.mode == lg.TestMode.PerformanceOnly and s.scenario == lg.TestScenario.Server
    conf = tmp_path / "user.conf"
    conf.write_text("*.Server.target_qps = 123\njaxml.Server.min_duration = 4000\n")
    s = make_test_settings("Server", "accuracy", user_conf=conf)
    assert s.server_target_qps == 123 and s.min_duration_ms == 4000
    assert s.mode == lg.TestMode.AccuracyOnly
    s = make_test_settings("Server", user_conf=conf, overrides={"server_target_latency_ms": 2.5})
    assert s.server_target_latency_ns == 2_500_000 and s.server_target_qps == 123
    # a second FromConfig in the process still gets the official values
    assert make_test_settings("MultiStream").multi_stream_samples_per_query == 8


@pytest.mark.parametrize(
    "kwargs, err",
    [
        ({"scenario": "Batch"}, ValueError),
        ({"scenario": "Server", "mode": "submission"}, ValueError),
        ({"scenario": "Server", "overrides": {"min_duration_ms": 0}}, ValueError),
        ({"scenario": "Server", "overrides": {"min_duration_ms": -5}}, ValueError),
        ({"scenario": "Server", "overrides": {"min_duration_ms": 1.5}}, TypeError),
        ({"scenario": "Server", "overrides": {"target_qps": 3}}, ValueError),
        ({"scenario": "Server", "user_conf": "/nonexistent/user.conf"}, FileNotFoundError),
    ],
)
def test_bad_settings_fail_before_loadgen(kwargs, err):
    with pytest.raises(err):
        make_test_settings(**kwargs)


# ---------------------------------------------------------------- the four scenarios
@pytest.mark.parametrize("scenario", bench.SCENARIOS)
def test_every_sample_completed_exactly_once(runs, scenario):
    result, sut, d = runs[scenario]
    c = result.completion
    assert c["duplicates"] == 0 and c["error_responses"] == 0
    assert c["completed_unique"] == c["issued"] > 0
    # LoadGen's own count of processed queries agrees with the SUT's sample count
    spq = {"MultiStream": 8, "Offline": c["issued"]}.get(scenario, 1)
    assert result.extras["result_query_count"] * spq == c["issued"]
    assert result.extras["qsl_load_calls"] >= 1 and result.extras["qsl_unload_calls"] >= 1
    assert 0 < result.extras["process_cpu_s"] and 0 < result.extras["wall_s"]
    assert (d / "mlperf_log_summary.txt").is_file() and (d / "mlperf_log_detail.txt").is_file()


def test_summary_parsing_matches_detail_log(runs):
    for scenario, (result, _, d) in runs.items():
        summary = parse_summary(d / "mlperf_log_summary.txt")
        detail = parse_detail(d / "mlperf_log_detail.txt")
        assert summary["scenario"] == scenario == result.scenario
        assert summary["result_valid"] == (detail["result_validity"] == "VALID")
        assert summary["stats"]["Max latency (ns)"] == detail["result_max_latency_ns"]
        key = {
            "SingleStream": "result_90.00_percentile_latency_ns",
            "MultiStream": "result_99.00_percentile_latency_ns",
            "Server": "result_completed_samples_per_sec",
            "Offline": "result_samples_per_second",
        }[scenario]
        assert summary["metric_value"] == pytest.approx(detail[key], rel=1e-3)
        assert summary["parameters"]["min_duration (ms)"] == 300


def test_offline_splits_the_query_into_device_batches(runs):
    result, sut, _ = runs["Offline"]
    batches = result.extras["sut_batches"]
    assert set(batches) <= {"8", "32"} and batches["32"] == result.completion["issued"] // 32


def test_parse_summary_crafted(tmp_path):
    text = """================================================
MLPerf Results Summary
================================================
SUT name : x
Scenario : Server
Mode     : PerformanceOnly
Completed samples per second    : 12.5
Result is : INVALID
  Performance constraints satisfied : NO
  Min duration satisfied : Yes
Recommendations:
 * Reduce target QPS to improve latency.
================================================
Additional Stats
================================================
Min latency (ns)                : 7
"""
    p = tmp_path / "mlperf_log_summary.txt"
    p.write_text(text)
    s = parse_summary(p)
    assert s["metric_name"] == "Completed samples per second" and s["metric_value"] == 12.5
    assert s["result_valid"] is False and s["stats"]["Min latency (ns)"] == 7
    assert s["invalid_reasons"] == [
        "Performance constraints satisfied: NO",
        "Reduce target QPS to improve latency.",
    ]
    p.write_text("hello\n")
    with pytest.raises(ValueError, match="not a LoadGen"):
        parse_summary(p)


# ---------------------------------------------------------------- accuracy mode
@pytest.mark.parametrize("scenario", ["SingleStream", "Offline"])
def test_accuracy_mode_equals_direct_accuracy(library, tmp_path, scenario):
    sut = new_sut(library)
    result = run_test(sut, settings(scenario, "accuracy"), tmp_path, timeout_s=60)
    assert result.result_valid is None  # LoadGen gives no performance verdict here

    def score(outputs, indices):
        return {"accuracy": float(np.mean(np.argmax(outputs, 1) == LABELS[indices]))}

    acc = score_accuracy_log(tmp_path / "mlperf_log_accuracy.json", sut.decode, score)
    idx = np.asarray(acc["indices"])
    assert acc["num_samples"] == N and idx.tolist() == list(range(N))
    logged = json.loads((tmp_path / "mlperf_log_accuracy.json").read_text())
    assert len(logged) == result.completion["issued"]
    direct = np.mean(np.argmax(X[idx] @ W, 1) == LABELS[idx])  # numpy, outside LoadGen/JAX
    assert acc["accuracy"] == pytest.approx(direct, abs=0)
    assert 0.2 < acc["accuracy"] < 1.0  # labels are noisy: not a trivial 0 or 1


# ---------------------------------------------------------------- INVALID, failures
def test_latency_bound_below_model_latency_is_invalid_not_a_crash(library, tmp_path):
    s = settings("Server", server_target_latency_ms=1e-3)  # 1 us bound
    result = run_test(new_sut(library), s, tmp_path, timeout_s=60)
    assert result.result_valid is False
    assert "Performance constraints satisfied: NO" in result.invalid_reasons
    assert result.completion["completed_unique"] == result.completion["issued"]


def _raising(after: int):
    calls = {"n": 0}

    def host(x):
        calls["n"] += 1
        if calls["n"] > after:
            raise FloatingPointError("model blew up on purpose")
        return x

    def fn(w, x):
        y = x @ w
        return jax.pure_callback(host, jax.ShapeDtypeStruct(y.shape, y.dtype), y)

    return fn


@pytest.mark.parametrize(
    "scenario, over",
    [
        ("SingleStream", {}),
        ("Offline", {}),
        # a 60 s Server run ends early: held queries + LoadGen's outstanding-query limit
        ("Server", {"min_duration_ms": 60_000, "server_max_async_queries": 16}),
    ],
)
def test_raising_model_fails_the_run_without_hanging(library, tmp_path, scenario, over):
    sut = new_sut(library, fn=_raising(after=3))  # warm-up uses calls 1..3
    t0 = time.perf_counter()
    with pytest.raises(SUTError, match="blew up on purpose") as info:
        run_test(sut, settings(scenario, **over), tmp_path, timeout_s=30, abort_grace_s=20)
    assert time.perf_counter() - t0 < 20
    assert info.value.__cause__ is sut.error
    c = sut.completion_report()
    assert c["completed_unique"] == c["issued"] and c["duplicates"] == 0
    assert c["error_responses"] >= 1
    assert not any(t.name == "loadgen" and t.is_alive() for t in threading.enumerate())


def test_recompilation_after_warmup_fails_the_run(library, tmp_path):
    sut = new_sut(library, buckets=(1,))
    sut.buckets = (3,)  # a batch shape warm-up never compiled
    with pytest.raises(SUTError) as info:
        run_test(sut, settings("SingleStream"), tmp_path, timeout_s=30)
    assert isinstance(info.value.__cause__, RecompilationError)


def test_qsl_serves_only_loaded_samples(tmp_path):
    lib = SampleLibrary(X, LABELS, performance_sample_count=10)
    with pytest.raises(KeyError, match="not loaded"):
        lib.gather([0])
    result = run_test(new_sut(lib), settings("SingleStream"), tmp_path, timeout_s=30)
    assert result.completion["completed_unique"] == result.completion["issued"]
    detail = parse_detail(tmp_path / "mlperf_log_detail.txt")
    assert len(detail["loaded_qsl_set"]) == 10
    assert lib.loaded.size == 0  # LoadGen unloaded what it loaded


# ---------------------------------------------------------------- server search, raw
def test_find_peak_server_qps_bisects_on_validity():
    class R:
        def __init__(self, valid):
            self.result_valid, self.latency_ns, self.extras = valid, {"99.00": 1}, {}
            self.invalid_reasons = []

    probes = []

    def run_at(q):
        probes.append(q)
        return R(q <= 300)

    out = bench.find_peak_server_qps(run_at, low_qps=10, high_qps=1000, iterations=8)
    assert probes[:2] == [1000, 10] and 250 < out["peak_qps"] <= 300
    assert len(out["curve"]) == 10 and not out["lower_bound_only"]
    assert bench.find_peak_server_qps(lambda q: R(False), low_qps=1, high_qps=2)["peak_qps"] is None
    probes.clear()  # a VALID high end moves the bracket up (x4) before bisecting
    out = bench.find_peak_server_qps(run_at, low_qps=1, high_qps=100, iterations=6)
    assert probes[:2] == [100, 400] and 280 < out["peak_qps"] <= 300
    out = bench.find_peak_server_qps(lambda q: R(True), low_qps=1, high_qps=2, max_growth=2)
    assert out["peak_qps"] == 32 and out["lower_bound_only"]


def test_measure_raw_counts_samples(library):
    sut = new_sut(library)
    raw = bench.measure_raw(sut.jitted, sut.params, X, batch_size=8, calls=5, repeats=2)
    assert raw["samples_per_s"] == pytest.approx(8 / raw["seconds_per_batch"])
    assert 0 < raw["latency_p50_s"] <= raw["latency_p99_s"]
    assert 0 < raw["mean_samples_per_s"] <= raw["samples_per_s"] * (1 + 1e-9)
    seen = []

    def fn(w, x):  # records the order in which outputs are fetched
        out = sut.jitted(w, x)
        seen.append(out)
        return out

    pipe = bench.measure_raw(fn, sut.params, X, batch_size=8, calls=4, repeats=1, pipelined=True)
    assert len(seen) == 5 and pipe["mean_samples_per_s"] > 0
    assert all(o.is_ready() for o in seen)  # every call was waited for, the last one too


def test_a_sut_runs_several_tests_and_responses_carry_each_batch(library, tmp_path):
    """One SUT (its compiled buckets and response pool reused) runs two tests back to back: the
    accounting restarts, and the pooled responses of the second run still carry the right
    outputs (LoadGen copies them inside QuerySamplesComplete)."""
    sut = new_sut(library)
    first = run_test(sut, settings("Offline"), tmp_path / "a", timeout_s=60)
    second = run_test(sut, settings("SingleStream", "accuracy"), tmp_path / "b", timeout_s=60)
    for r in (first, second):
        assert r.completion["completed_unique"] == r.completion["issued"] > 0
        assert r.completion["duplicates"] == 0
    assert second.extras["sut_batches"] == {"1": second.completion["issued"]}
    entries = bench.read_accuracy_log(tmp_path / "b" / "mlperf_log_accuracy.json")
    for e in entries:
        np.testing.assert_allclose(sut.decode(e["data"]), X[e["qsl_idx"]] @ W, rtol=1e-5, atol=1e-5)
    sut.failed.set()
    with pytest.raises(RuntimeError, match="build a new one"):
        sut.start()
