"""MLPerf Inference for jaxml models through the official LoadGen (Reddi et al., 2019).

* :func:`make_test_settings`: ``TestSettings`` from LoadGen's ``mlperf.conf``/``user.conf``.
* :class:`SampleLibrary`: the Query Sample Library (load/unload honoured).
* :class:`JaxSUT`: System Under Test for a jitted ``apply(params, x)`` (bucketed batches, no
  recompilation, fail-fast).
* :func:`run_test`: one LoadGen test -> :class:`TestResult` parsed from LoadGen's own logs.
* :func:`score_accuracy_log`: the model's metric on the samples in ``mlperf_log_accuracy.json``.
* :func:`find_peak_server_qps`: Server target-QPS search on LoadGen's validity.
* :func:`measure_raw`: the model's throughput/latency outside LoadGen.
* :func:`build_model`, :func:`register_model`: the benchmark's model registry.
* :func:`compress_classifier`, :func:`int8_mlp`: an L-C pruned + int8 MLP that runs int8 weights
  (model ``mlp-lc-int8``); :func:`score_outside_loadgen`, :func:`brief_summary`.
"""

from jaxml.bench.benchmark import calibrate, calibrated_overrides, run_benchmark
from jaxml.bench.compressed import (
    INT8_MATMULS,
    Int8MLP,
    brief_summary,
    compress_classifier,
    int8_mlp,
    score_outside_loadgen,
)
from jaxml.bench.logs import parse_detail, parse_summary, read_accuracy_log
from jaxml.bench.models import BenchModel, build_model, model_names, register_model
from jaxml.bench.qsl import SampleLibrary
from jaxml.bench.raw import measure_raw
from jaxml.bench.runner import TestResult, run_test, score_accuracy_log
from jaxml.bench.search import find_peak_server_qps
from jaxml.bench.settings import (
    MODES,
    OFFICIAL_RULES,
    OVERRIDES,
    SCENARIOS,
    make_test_settings,
    settings_dict,
)
from jaxml.bench.sut import DEFAULT_BUCKETS, JaxSUT, RecompilationError, SUTError, compile_events

__all__ = [
    "DEFAULT_BUCKETS",
    "MODES",
    "OFFICIAL_RULES",
    "OVERRIDES",
    "SCENARIOS",
    "BenchModel",
    "JaxSUT",
    "RecompilationError",
    "SUTError",
    "SampleLibrary",
    "TestResult",
    "build_model",
    "calibrate",
    "calibrated_overrides",
    "compile_events",
    "find_peak_server_qps",
    "make_test_settings",
    "measure_raw",
    "model_names",
    "parse_detail",
    "parse_summary",
    "read_accuracy_log",
    "register_model",
    "run_benchmark",
    "run_test",
    "score_accuracy_log",
    "settings_dict",
    # compressed models (jaxml.bench.compressed)
    "INT8_MATMULS",
    "Int8MLP",
    "brief_summary",
    "compress_classifier",
    "int8_mlp",
    "score_outside_loadgen",
]
