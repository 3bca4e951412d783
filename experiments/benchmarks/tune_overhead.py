"""Orchestration overhead of jaxml.tune per trial: the same jobs through Optuna vs a plain loop.

One process, the digits MLP job at the chosen scale (compiled once before anything is timed):

- ``study``: ``run_study`` with the random proposer, one in-process worker and SQLite (every
  suggestion, intermediate report, attribute and state change committed to the database);
- ``loop``: the same configurations, in the same order, called directly with a ``Reporter(None)``.

Rounds alternate study / loop (a fresh study each round); the overhead is
``median(study) / median(loop) - 1`` and the per-trial difference in milliseconds. With
``--n_parallel 2`` it also times ``n_parallel`` worker processes on the same trials, whose start-up
(Python, JAX import, compilation per process) is reported per worker: that cost is paid once per
worker, not per trial.

    python -m experiments.benchmarks.tune_overhead                  # quick: 12 trials, 3 rounds
    python -m experiments.benchmarks.tune_overhead --n_parallel 2

Writes results/benchmarks/tune_overhead.json. Timings on a shared machine are inflated by
contention; the ratio is taken side by side in one process.
"""

import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

from experiments.harness import device_info, parse_config, write_json_atomic
from jaxml.tune import Reporter, open_study, run_study, trial_records
from jaxml.tune.digits import DIGITS_SCALES, digits_spec, mlp_job

#: The issue's target: orchestration adds at most 5% at the quick scale.
MAX_OVERHEAD = 0.05


@dataclasses.dataclass(frozen=True)
class Config:
    scale: str = "quick"
    job_scale: str = "quick"
    n_trials: int = 12
    rounds: int = 3
    n_parallel: int = 1
    out: str = "results/benchmarks/tune_overhead.json"
    SCALES: ClassVar[dict] = {
        "tiny": {"job_scale": "tiny", "n_trials": 3, "rounds": 1},
        "full": {"n_trials": 30, "rounds": 5},
    }


def _study_round(config, workdir, k, n_parallel=1):
    spec = digits_spec(
        "random",
        config.n_trials,
        workdir,
        scale=config.job_scale,
        seed=max(k, 0),
        study_name=f"overhead-{n_parallel}-{k}",
        storage=f"sqlite:///{Path(workdir).absolute() / 'tune.db'}",
        n_parallel=n_parallel,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    run_study(spec, progress=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    records = [r for r in trial_records(open_study(spec)) if r["state"] == "COMPLETE"]
    return seconds, cpu, [r["params"] for r in records], records


def _loop_round(config, configs):
    kw = DIGITS_SCALES[config.job_scale]
    t0, c0 = time.perf_counter(), time.process_time()
    for c in configs:
        mlp_job(dict(c), Reporter(), **kw)
    return time.perf_counter() - t0, time.process_time() - c0


def main(argv=None) -> dict:
    config, _ = parse_config(Config, argv, description=__doc__.splitlines()[0])
    workdir = tempfile.mkdtemp(prefix="tune-overhead-")
    kw = DIGITS_SCALES[config.job_scale]
    spec0 = digits_spec("random", 1, workdir, scale=config.job_scale)
    t0 = time.perf_counter()
    mlp_job({p.name: (p.low * p.high) ** 0.5 for p in spec0.params}, Reporter(), **kw)
    compile_s = time.perf_counter() - t0
    _study_round(dataclasses.replace(config, n_trials=2), workdir, -1)  # imports, DB tables
    study_s, loop_s, study_cpu, loop_cpu, in_job = [], [], [], [], []
    for k in range(config.rounds):
        s, c, configs, records = _study_round(config, workdir, k)
        study_s.append(s)
        study_cpu.append(c)
        in_job.append(sum(r["wall_time_s"] for r in records))
        s, c = _loop_round(config, configs)
        loop_s.append(s)
        loop_cpu.append(c)
        print(f"  round {k}: study {study_s[-1]:.2f} s, loop {s:.2f} s (wall)", flush=True)
    study, loop = statistics.median(study_s), statistics.median(loop_s)
    cpu_ratio = statistics.median(study_cpu) / statistics.median(loop_cpu) - 1.0
    out = {
        "config": dataclasses.asdict(config),
        "compile_seconds": compile_s,
        "study_seconds": study_s,
        "loop_seconds": loop_s,
        "seconds_inside_jobs": in_job,
        "study_cpu_seconds": study_cpu,
        "loop_cpu_seconds": loop_cpu,
        "cpu_overhead": cpu_ratio,
        "overhead": study / loop - 1.0,
        "overhead_ms_per_trial": 1e3 * (study - loop) / config.n_trials,
        "max_overhead": MAX_OVERHEAD,
        "device": device_info(),
    }
    if config.n_parallel > 1:
        s, _, configs, records = _study_round(config, workdir, 99, config.n_parallel)
        starts = {}
        for r in records:  # a worker's first trial includes its process start and compilation
            w = r["user_attrs"]["worker"]
            starts.setdefault(w, r["wall_time_s"])
        out["parallel"] = {
            "n_parallel": config.n_parallel,
            "seconds": s,
            "serial_loop_seconds": loop,
            "first_trial_seconds_per_worker": starts,
        }
    verdict = "<=" if out["overhead"] <= MAX_OVERHEAD else ">"
    print(
        f"[tune_overhead] {config.n_trials} trials: study {study:.2f} s, plain loop {loop:.2f} s: "
        f"overhead {100 * out['overhead']:.1f}% ({out['overhead_ms_per_trial']:.1f} ms/trial) "
        f"{verdict} {100 * MAX_OVERHEAD:.0f}%; CPU-time overhead {100 * cpu_ratio:.1f}%"
    )
    write_json_atomic(Path(config.out), out)
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
