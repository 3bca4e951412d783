"""MLPerf Inference through the official LoadGen for one jaxml model and scenario.

    python -m experiments.mlperf.run --model mlp --scenario Offline --mode performance \\
        --min-duration-ms 2000 --workdir results/mlperf/mlp-offline
    python -m experiments.mlperf.run --model cnn --scenario SingleStream --mode accuracy \\
        --workdir results/mlperf/cnn-ss-acc
    python -m experiments.mlperf.run --model mlp --scenario Server --find-peak-qps \\
        --target-latency-ms 2 --min-duration-ms 1500 --workdir results/mlperf/mlp-server

Writes LoadGen's own ``mlperf_log_summary.txt``, ``mlperf_log_detail.txt`` and
``mlperf_log_accuracy.json`` in ``--workdir``, plus ``summary.json`` (see
:func:`jaxml.bench.run_benchmark`). Without ``--min-duration-ms`` the official 600 000 ms applies
(from LoadGen's compiled ``mlperf.conf``); shorter runs are for development. Exit status 0 for a
VALID (or accuracy) run, 1 for INVALID, 2 for bad arguments, 3 when the model failed.
"""

import argparse
import json
import os
import sys
import threading

from jaxml.bench import DEFAULT_BUCKETS, SCENARIOS, SUTError, model_names, run_benchmark


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m experiments.mlperf.run", description=__doc__.split("\n")[0]
    )
    p.add_argument("--model", required=True, help=f"one of {', '.join(model_names())}")
    p.add_argument("--scenario", required=True, help=f"one of {', '.join(SCENARIOS)}")
    p.add_argument("--mode", default="performance", help="performance or accuracy")
    p.add_argument("--min-duration-ms", type=int, default=None)
    p.add_argument("--workdir", required=True)
    p.add_argument("--user-conf", default=None, help="a LoadGen user.conf")
    p.add_argument("--target-qps", type=float, default=None, help="Server target QPS")
    p.add_argument("--target-latency-ms", type=float, default=None, help="Server latency bound")
    p.add_argument("--min-query-count", type=int, default=None)
    p.add_argument("--samples-per-query", type=int, default=None, help="MultiStream")
    p.add_argument("--performance-sample-count", type=int, default=None)
    p.add_argument(
        "--buckets",
        default=",".join(map(str, DEFAULT_BUCKETS)),
        help="compiled batch sizes, e.g. 1,8,64 (Offline runs at the largest)",
    )
    p.add_argument("--train-steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--find-peak-qps", action="store_true", help="Server: search the peak QPS")
    p.add_argument("--timeout-s", type=float, default=None)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    overrides = {
        name: value
        for name, value in (
            ("server_target_qps", args.target_qps),
            ("server_target_latency_ms", args.target_latency_ms),
            ("min_query_count", args.min_query_count),
            ("samples_per_query", args.samples_per_query),
            ("performance_sample_count", args.performance_sample_count),
        )
        if value is not None
    }
    try:
        buckets = tuple(int(b) for b in args.buckets.split(","))
        summary = run_benchmark(
            args.model,
            args.scenario,
            args.mode,
            args.workdir,
            min_duration_ms=args.min_duration_ms,
            user_conf=args.user_conf,
            overrides=overrides,
            buckets=buckets,
            train_steps=args.train_steps,
            seed=args.seed,
            find_peak_qps=args.find_peak_qps,
            timeout_s=args.timeout_s,
        )
    except (TypeError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SUTError as exc:
        print(f"error: the benchmark failed: {exc}", file=sys.stderr)
        if any(t.name == "loadgen" and t.is_alive() for t in threading.enumerate()):
            sys.stderr.flush()
            os._exit(3)  # an abandoned LoadGen thread must not keep the process alive
        return 3
    keys = ("scenario", "mode", "metric_name", "metric_value", "result_valid", "invalid_reasons")
    print(json.dumps({k: summary[k] for k in keys}, indent=2))
    if "accuracy" in summary:
        print(json.dumps(summary["accuracy"], indent=2))
    print(f"LoadGen logs and summary.json in {args.workdir}")
    return 1 if summary["result_valid"] is False else 0


if __name__ == "__main__":
    sys.exit(main())
