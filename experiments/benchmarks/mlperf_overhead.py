"""Overhead of the LoadGen System Under Test (jaxml.bench.JaxSUT) against the raw jitted model.

In one process, for each model (default the digits MLP and CNN):

(a) Offline: samples/s LoadGen reports for the SUT vs the raw throughput of the SUT's own
    compiled function at the same batch size (the largest bucket), measured outside LoadGen as
    synchronous calls (host batch in, ``block_until_ready``, outputs to host). Target >= 0.9x.
(b) SingleStream: LoadGen's 90th-percentile latency vs the raw single-sample latency (the p90 of
    synchronous batch-1 calls of the same compiled function). Target <= 1.2x raw + 100 us.

The raw numbers are taken before and after the LoadGen run and averaged (the machine is shared).
Development-length LoadGen runs (``min_duration_ms``), not the official 600 s.

    python -m experiments.benchmarks.mlperf_overhead                 # quick
    python -m experiments.benchmarks.mlperf_overhead --scale tiny    # seconds

Writes results/benchmarks/mlperf_overhead.json.
"""

import dataclasses
import sys
import tempfile
from pathlib import Path
from typing import ClassVar

from experiments.harness import device_info, parse_config, write_json_atomic
from jaxml.bench import (
    JaxSUT,
    SampleLibrary,
    build_model,
    calibrate,
    calibrated_overrides,
    make_test_settings,
    measure_raw,
    run_test,
)

OFFLINE_MIN_RATIO = 0.9
SINGLE_MAX_RATIO = 1.2
SINGLE_SLACK_US = 100.0


@dataclasses.dataclass(frozen=True)
class Config:
    scale: str = "quick"
    models: tuple[str, ...] = ("mlp", "cnn")
    train_steps: int = 300
    min_duration_ms: int = 3000
    buckets: tuple[int, ...] = (1, 8, 32, 128)
    raw_calls: int = 200
    model_dir: str = "results/benchmarks/mlperf_overhead"
    out: str = "results/benchmarks/mlperf_overhead.json"
    SCALES: ClassVar[dict] = {
        "full": {"min_duration_ms": 60_000, "raw_calls": 2000},
        "tiny": {"min_duration_ms": 300, "raw_calls": 20, "train_steps": 10},
    }

    def __post_init__(self):
        if self.min_duration_ms < 1 or self.raw_calls < 1 or self.train_steps < 1:
            raise ValueError("min_duration_ms, raw_calls and train_steps must be >= 1")


def _raw(sut: JaxSUT, batch: int, calls: int) -> dict:
    return measure_raw(sut.jitted, sut.params, sut.library.x, batch_size=batch, calls=calls)


def measure(config: Config, name: str) -> dict:
    model = build_model(name, config.model_dir, train_steps=config.train_steps)
    lib = SampleLibrary(model.x, model.labels)
    sut = JaxSUT(model.apply, model.params, lib, buckets=config.buckets, name=model.name)
    sut.warmup()
    cal = calibrate(sut)
    big = sut.buckets[-1]
    out = {"model": model.name, "model_info": model.info, "batch_size": big}
    logs = Path(tempfile.mkdtemp(prefix="mlperf_overhead_"))

    before = _raw(sut, big, max(5, config.raw_calls // 4))
    settings = make_test_settings(
        "Offline",
        overrides={
            **calibrated_overrides(cal, "Offline"),
            "min_duration_ms": config.min_duration_ms,
        },
    )
    off = run_test(sut, settings, logs / "offline", timeout_s=600)
    after = _raw(sut, big, max(5, config.raw_calls // 4))
    raw_qps = 0.5 * (before["samples_per_s"] + after["samples_per_s"])
    out["offline"] = {
        "loadgen_samples_per_s": off.metric_value,
        "raw_samples_per_s": raw_qps,
        "raw_before_after": [before["samples_per_s"], after["samples_per_s"]],
        "ratio": off.metric_value / raw_qps,
        "result_valid": off.result_valid,
        "invalid_reasons": off.invalid_reasons,
        "sut_batches": off.extras["sut_batches"],
    }

    sut = JaxSUT(model.apply, model.params, lib, buckets=config.buckets, name=model.name)
    sut.warmup()
    before = _raw(sut, 1, config.raw_calls)
    settings = make_test_settings(
        "SingleStream",
        overrides={
            **calibrated_overrides(cal, "SingleStream"),
            "min_duration_ms": config.min_duration_ms,
        },
    )
    ss = run_test(sut, settings, logs / "single", timeout_s=600)
    after = _raw(sut, 1, config.raw_calls)
    raw_p90_ns = 1e9 * 0.5 * (before["latency_p90_s"] + after["latency_p90_s"])
    raw_p50_ns = 1e9 * 0.5 * (before["latency_p50_s"] + after["latency_p50_s"])
    bound = SINGLE_MAX_RATIO * raw_p90_ns + 1e3 * SINGLE_SLACK_US
    out["single_stream"] = {
        "loadgen_p90_ns": ss.metric_value,
        "loadgen_p50_ns": ss.latency_ns["50.00"],
        "raw_p90_ns": raw_p90_ns,
        "raw_p50_ns": raw_p50_ns,
        "ratio_p90": ss.metric_value / raw_p90_ns,
        "bound_ns": bound,
        "within_bound": ss.metric_value <= bound,
        "result_valid": ss.result_valid,
        "invalid_reasons": ss.invalid_reasons,
    }
    out["offline"]["meets_target"] = out["offline"]["ratio"] >= OFFLINE_MIN_RATIO
    out["loadgen_logs"] = str(logs)
    return out


def main(argv=None) -> dict:
    config, _ = parse_config(Config, argv, description=__doc__.splitlines()[0])
    print(f"[mlperf_overhead] {config}", flush=True)
    out = {"config": dataclasses.asdict(config), "device": device_info(), "models": {}}
    for name in config.models:
        out["models"][name] = m = measure(config, name)
        o, s = m["offline"], m["single_stream"]
        print(
            f"{name} (a) Offline, batch {m['batch_size']}: LoadGen "
            f"{o['loadgen_samples_per_s']:,.0f} samples/s vs raw jit "
            f"{o['raw_samples_per_s']:,.0f} samples/s -> ratio {o['ratio']:.3f} (target >= "
            f"{OFFLINE_MIN_RATIO}); LoadGen says {'VALID' if o['result_valid'] else 'INVALID'}",
            flush=True,
        )
        print(
            f"{name} (b) SingleStream: LoadGen p90 {s['loadgen_p90_ns'] / 1e3:.1f} us vs raw p90 "
            f"{s['raw_p90_ns'] / 1e3:.1f} us (raw p50 {s['raw_p50_ns'] / 1e3:.1f} us) -> ratio "
            f"{s['ratio_p90']:.3f}; bound 1.2x raw + 100 us = {s['bound_ns'] / 1e3:.1f} us: "
            f"{'met' if s['within_bound'] else 'NOT met'}; LoadGen says "
            f"{'VALID' if s['result_valid'] else 'INVALID'}",
            flush=True,
        )
    write_json_atomic(Path(config.out), out)
    print(f"wrote {config.out}", flush=True)
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
