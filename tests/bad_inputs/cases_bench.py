"""Bad calls to jaxml.bench (see tests/bad_inputs/audit.py). None of them starts LoadGen."""

import jax.numpy as jnp
import numpy as np

from jaxml import bench as b
from jaxml.testing import bad_calls

F = "jaxml.bench."
_x = np.ones((6, 3), np.float32)
_lib = b.SampleLibrary(_x, np.arange(6) % 2)
_sut = b.JaxSUT(lambda w, x: x @ w, jnp.ones((3, 2)), _lib, buckets=(1, 2))
_settings = b.make_test_settings("Offline")


def _c(name, arg, items, errors=(ValueError, TypeError)):
    return bad_calls(F + name, arg, items, errors)


CASES = [
    *_c(
        "make_test_settings",
        "scenario",
        [
            ("unknown scenario", lambda: b.make_test_settings("Batch")),
            ("lower case", lambda: b.make_test_settings("offline")),
            ("an int", lambda: b.make_test_settings(3)),
        ],
    ),
    *_c(
        "make_test_settings", "mode", [("submission", lambda: b.make_test_settings("Offline", "x"))]
    ),
    *_c(
        "make_test_settings",
        "min_duration_ms",
        [
            ("0", lambda: b.make_test_settings("Server", overrides={"min_duration_ms": 0})),
            ("-1", lambda: b.make_test_settings("Server", overrides={"min_duration_ms": -1})),
            ("1.5", lambda: b.make_test_settings("Server", overrides={"min_duration_ms": 1.5})),
        ],
    ),
    *_c(
        "make_test_settings",
        "overrides",
        [
            ("unknown name", lambda: b.make_test_settings("Server", overrides={"qps": 1})),
            ("a list", lambda: b.make_test_settings("Server", overrides=[1])),
        ],
    ),
    *_c(
        "make_test_settings",
        "server_target_qps",
        [("0 QPS", lambda: b.make_test_settings("Server", overrides={"server_target_qps": 0}))],
    ),
    *_c(
        "make_test_settings",
        "user_conf",
        [
            ("missing file", lambda: b.make_test_settings("Server", user_conf="/nope/user.conf")),
            ("an int", lambda: b.make_test_settings("Server", user_conf=3)),
        ],
        (ValueError, TypeError, FileNotFoundError),
    ),
    *_c(
        "make_test_settings",
        "model_name",
        [("empty", lambda: b.make_test_settings("Server", model_name=""))],
    ),
    *_c("settings_dict", "settings", [("a dict", lambda: b.settings_dict({}))]),
    *_c(
        "SampleLibrary",
        "x",
        [
            ("int samples", lambda: b.SampleLibrary(np.ones((3, 2), np.int32))),
            ("empty", lambda: b.SampleLibrary(np.ones((0, 2), np.float32))),
            ("NaN", lambda: b.SampleLibrary(np.full((2, 2), np.nan, np.float32))),
        ],
    ),
    *_c("SampleLibrary", "labels", [("wrong length", lambda: b.SampleLibrary(_x, np.arange(5)))]),
    *_c(
        "SampleLibrary",
        "performance_sample_count",
        [
            ("0", lambda: b.SampleLibrary(_x, performance_sample_count=0)),
            ("> n", lambda: b.SampleLibrary(_x, performance_sample_count=7)),
        ],
    ),
    *_c(
        "JaxSUT",
        "buckets",
        [
            ("empty", lambda: b.JaxSUT(lambda w, x: x, jnp.ones(2), _lib, buckets=())),
            ("0", lambda: b.JaxSUT(lambda w, x: x, jnp.ones(2), _lib, buckets=(0, 4))),
            ("repeated", lambda: b.JaxSUT(lambda w, x: x, jnp.ones(2), _lib, buckets=(2, 2))),
            ("a string", lambda: b.JaxSUT(lambda w, x: x, jnp.ones(2), _lib, buckets="1,2")),
        ],
    ),
    *_c("JaxSUT", "apply_fn", [("not callable", lambda: b.JaxSUT(3, jnp.ones(2), _lib))]),
    *_c("JaxSUT", "library", [("an array", lambda: b.JaxSUT(lambda w, x: x, jnp.ones(2), _x))]),
    *_c("JaxSUT", "params", [("empty", lambda: b.JaxSUT(lambda w, x: x, {}, _lib))]),
    *_c(
        "JaxSUT", "spin_s", [("-1", lambda: b.JaxSUT(lambda w, x: x, jnp.ones(2), _lib, spin_s=-1))]
    ),
    *_c("run_test", "sut", [("a function", lambda: b.run_test(len, _settings, "/tmp/x"))]),
    *_c("run_test", "settings", [("a dict", lambda: b.run_test(_sut, {}, "/tmp/x"))]),
    *_c("run_test", "outdir", [("an int", lambda: b.run_test(_sut, _settings, 3))]),
    *_c(
        "run_test", "timeout_s", [("0", lambda: b.run_test(_sut, _settings, "/tmp/x", timeout_s=0))]
    ),
    *_c(
        "run_benchmark",
        "scenario",
        [("unknown", lambda: b.run_benchmark("mlp", "Batch", "performance", "/tmp/x"))],
    ),
    *_c(
        "run_benchmark",
        "model",
        [
            ("unknown", lambda: b.run_benchmark("resnet50", "Offline", "performance", "/tmp/x")),
            ("an int", lambda: b.run_benchmark(3, "Offline", "performance", "/tmp/x")),
        ],
    ),
    *_c(
        "run_benchmark",
        "min_duration_ms",
        [
            (
                "0",
                lambda: b.run_benchmark(
                    "mlp", "Offline", "performance", "/tmp/x", min_duration_ms=0
                ),
            ),
            (
                "-5",
                lambda: b.run_benchmark(
                    "mlp", "Offline", "performance", "/tmp/x", min_duration_ms=-5
                ),
            ),
        ],
    ),
    *_c(
        "run_benchmark",
        "mode",
        [("unknown", lambda: b.run_benchmark("mlp", "Offline", "fast", "/tmp/x"))],
    ),
    *_c(
        "run_benchmark",
        "find_peak_qps",
        [
            (
                "not Server",
                lambda: b.run_benchmark(
                    "mlp", "Offline", "performance", "/tmp/x", find_peak_qps=True
                ),
            )
        ],
    ),
    *_c("build_model", "name", [("unknown", lambda: b.build_model("resnet50"))]),
    *_c("build_model", "train_steps", [("0", lambda: b.build_model("mlp", train_steps=0))]),
    *_c("build_model", "seed", [("-1", lambda: b.build_model("mlp", seed=-1))]),
    *_c("register_model", "builder", [("not callable", lambda: b.register_model("x", 3))]),
    *_c("register_model", "name", [("empty", lambda: b.register_model("", len))]),
    *_c("calibrate", "sut", [("a library", lambda: b.calibrate(_lib))]),
    *_c("calibrate", "calls", [("0", lambda: b.calibrate(_sut, calls=0))]),
    *_c(
        "calibrated_overrides",
        "calibration",
        [
            ("empty dict", lambda: b.calibrated_overrides({}, "Offline")),
            ("a list", lambda: b.calibrated_overrides([], "Offline")),
        ],
    ),
    *_c(
        "calibrated_overrides",
        "scenario",
        [("unknown", lambda: b.calibrated_overrides({}, "Batch"))],
    ),
    *_c(
        "compile_events",
        "thread_id",
        [("a string", lambda: b.compile_events("main")), ("-1", lambda: b.compile_events(-1))],
    ),
    *_c(
        "find_peak_server_qps",
        "high_qps",
        [
            ("below low", lambda: b.find_peak_server_qps(len, low_qps=10, high_qps=5)),
            ("0", lambda: b.find_peak_server_qps(len, low_qps=10, high_qps=0)),
        ],
    ),
    *_c(
        "find_peak_server_qps",
        "low_qps",
        [("-1", lambda: b.find_peak_server_qps(len, low_qps=-1, high_qps=5))],
    ),
    *_c(
        "find_peak_server_qps",
        "run_at",
        [("not callable", lambda: b.find_peak_server_qps(3, low_qps=1, high_qps=5))],
    ),
    *_c(
        "find_peak_server_qps",
        "iterations",
        [("-1", lambda: b.find_peak_server_qps(len, low_qps=1, high_qps=5, iterations=-1))],
    ),
    *_c("measure_raw", "batch_size", [("0", lambda: b.measure_raw(len, None, _x, batch_size=0))]),
    *_c("measure_raw", "fn", [("not callable", lambda: b.measure_raw(3, None, _x, batch_size=1))]),
    *_c("measure_raw", "x", [("a scalar", lambda: b.measure_raw(len, None, 3.0, batch_size=1))]),
    *_c(
        "measure_raw", "calls", [("0", lambda: b.measure_raw(len, None, _x, batch_size=1, calls=0))]
    ),
    *_c(
        "measure_raw",
        "pipelined",
        [("a string", lambda: b.measure_raw(len, None, _x, batch_size=1, pipelined="yes"))],
    ),
    *_c(
        "parse_summary",
        "path",
        [
            ("missing", lambda: b.parse_summary("/nope/mlperf_log_summary.txt")),
            ("an int", lambda: b.parse_summary(3)),
        ],
        (ValueError, TypeError, FileNotFoundError),
    ),
    *_c(
        "parse_detail",
        "path",
        [("missing", lambda: b.parse_detail("/nope/mlperf_log_detail.txt"))],
        (ValueError, TypeError, FileNotFoundError),
    ),
    *_c(
        "read_accuracy_log",
        "path",
        [("missing", lambda: b.read_accuracy_log("/nope/mlperf_log_accuracy.json"))],
        (ValueError, TypeError, FileNotFoundError),
    ),
    *_c(
        "score_accuracy_log",
        "decode",
        [("not callable", lambda: b.score_accuracy_log("/nope", 3, len))],
    ),
    *_c(
        "score_accuracy_log",
        "score",
        [("not callable", lambda: b.score_accuracy_log("/nope", len, 3))],
    ),
]

EXEMPT = {
    F + "BenchModel": "a NamedTuple container built by the model registry",
    F + "TestResult": "a NamedTuple read from LoadGen's logs by run_test",
    F + "SUTError": "an exception type",
    F + "RecompilationError": "an exception type",
    F + "model_names": "takes no arguments",
    F + "Int8MLP": "a NamedTuple returned by int8_mlp",
}

# jaxml.bench.compressed (issue 19, compression x MLPerf): none of these trains or compresses.
_dense = b.BenchModel(
    "mlp",
    lambda p, x: x @ p,
    np.ones((3, 2), np.float32),
    _x,
    np.arange(6) % 2,
    lambda o, i: {"accuracy": 1.0},
    "accuracy",
    True,
    {},
)
_tx, _ty = np.ones((6, 3), np.float32), np.arange(6) % 2
_int8_stored = {"dense_0": {"kernel": np.ones((3, 2), np.int8)}, "head": {"kernel": _x}}
CASES += [
    *_c(
        "compress_classifier",
        "dense",
        [("a model name", lambda: b.compress_classifier("mlp", _tx, _ty))],
    ),
    *_c(
        "compress_classifier",
        "density",
        [
            ("0", lambda: b.compress_classifier(_dense, _tx, _ty, density=0.0)),
            ("1.5", lambda: b.compress_classifier(_dense, _tx, _ty, density=1.5)),
        ],
    ),
    *_c(
        "compress_classifier",
        "matmul",
        [("int4", lambda: b.compress_classifier(_dense, _tx, _ty, matmul="int4"))],
    ),
    *_c(
        "compress_classifier",
        "num_steps",
        [("0", lambda: b.compress_classifier(_dense, _tx, _ty, num_steps=0))],
    ),
    *_c(
        "compress_classifier",
        "x",
        [
            ("1-d", lambda: b.compress_classifier(_dense, np.ones(6), _ty)),
            (
                "wrong width",
                lambda: b.compress_classifier(_dense, np.ones((6, 4)), _ty, batch_size=4),
            ),
            ("NaN", lambda: b.compress_classifier(_dense, _tx * np.nan, _ty)),
        ],
    ),
    *_c(
        "compress_classifier",
        "y",
        [
            ("float labels", lambda: b.compress_classifier(_dense, _tx, _ty * 1.0)),
            ("too short", lambda: b.compress_classifier(_dense, _tx, _ty[:4])),
        ],
    ),
    *_c(
        "compress_classifier",
        "batch_size",
        [("more than rows", lambda: b.compress_classifier(_dense, _tx, _ty, batch_size=7))],
    ),
    *_c(
        "int8_mlp",
        "stored",
        [
            ("a list", lambda: b.int8_mlp([1], b.compress_classifier)),
            ("float kernels", lambda: b.int8_mlp({"head": {"kernel": _x}}, _qaux())),
            ("no head", lambda: b.int8_mlp({"dense_0": {"kernel": _x}}, _qaux())),
        ],
    ),
    *_c("int8_mlp", "aux", [("an empty tuple", lambda: b.int8_mlp(_int8_stored, ()))]),
    *_c("int8_mlp", "matmul", [("int4", lambda: b.int8_mlp(_int8_stored, _qaux(), matmul="x"))]),
    *_c(
        "score_outside_loadgen",
        "model",
        [("a model name", lambda: b.score_outside_loadgen("mlp"))],
    ),
    *_c(
        "brief_summary",
        "summary",
        [
            ("a list", lambda: b.brief_summary([])),
            ("missing keys", lambda: b.brief_summary({"metric_name": "x"})),
        ],
    ),
]


def _qaux():
    from jaxml.compress import QuantAux

    return QuantAux({"head": {"kernel": np.ones(2, np.float32)}})
