"""Orchestration overhead of jaxml.tune per trial: the same jobs through Optuna vs a plain loop.

One process, the figure's digits MLP job at the chosen scale (``experiments.tune.compare_proposers``
runs the same jobs), each round interleaving:

- ``loop``: the configurations of this round's study, in order, called directly with a
  ``Reporter(None)`` (no database);
- ``study``: ``run_study`` with the random proposer, one in-process worker and SQLite (every
  suggestion, report, attribute and state change stored; the heartbeat on);
- with ``--n_parallel P`` (every ``--parallel_every`` rounds): ``run_study`` with ``P`` worker
  processes on the same number of trials.

Compiled programs: the plain loop and the in-process worker share this process's compiled
training chunk (one program for every configuration: the hyperparameters are traced arguments;
``compiled_programs`` checks it). Each worker process compiles its own once: that and its start
(Python, imports) are paid once per worker, so the parallel overhead is given with and without
them (``worker_start_cpu_s``: a worker that finds the budget met; ``compile_cpu_s``: the first
call in this process). Overheads are ``median(tuned) / median(loop) - 1`` in wall and CPU time
(CPU counts the worker processes); on a shared machine wall time is inflated by contention, CPU
time much less.

    python -m experiments.benchmarks.tune_overhead                  # quick: 12 trials, 3 rounds
    python -m experiments.benchmarks.tune_overhead --n_parallel 2

Writes results/benchmarks/tune_overhead.json.
"""

import dataclasses
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

from experiments.harness import device_info, parse_config, write_json_atomic
from jaxml.tune import Reporter, open_study, run_study, trial_records
from jaxml.tune.digits import DIGITS_SCALES, _train_chunk, digits_spec, mlp_job

#: The issue's target: orchestration adds at most 5% at the quick scale.
MAX_OVERHEAD = 0.05


@dataclasses.dataclass(frozen=True)
class Config:
    scale: str = "quick"
    job_scale: str = "quick"
    n_trials: int = 12
    rounds: int = 3
    n_parallel: int = 1
    parallel_every: int = 3
    out: str = "results/benchmarks/tune_overhead.json"
    SCALES: ClassVar[dict] = {
        "tiny": {"job_scale": "tiny", "n_trials": 3, "rounds": 1},
        "full": {"n_trials": 30, "rounds": 5},
    }


def _cpu() -> float:
    """CPU seconds of this process and its finished children."""
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + child.ru_utime + child.ru_stime


def _spec(config, workdir, name, seed, n_parallel=1, n_trials=None):
    return digits_spec(
        "random",
        n_trials or config.n_trials,
        workdir,
        scale=config.job_scale,
        seed=seed,
        study_name=name,
        storage=f"sqlite:///{Path(workdir).absolute() / 'tune.db'}",
        n_parallel=n_parallel,
    )


def _study_round(spec):
    t0, c0 = time.perf_counter(), _cpu()
    run_study(spec, progress=False)
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    records = [r for r in trial_records(open_study(spec)) if r["state"] == "COMPLETE"]
    return seconds, cpu, [r["params"] for r in records], records


def _loop_round(config, configs):
    kw = DIGITS_SCALES[config.job_scale]
    t0, c0 = time.perf_counter(), _cpu()
    for c in configs:
        mlp_job(dict(c), Reporter(), **kw)
    return time.perf_counter() - t0, _cpu() - c0


def _worker_start_cpu(spec_path: Path) -> float:
    """CPU of one worker process that starts, opens the storage and finds the budget met."""
    c0 = _cpu()
    subprocess.run(
        [sys.executable, "-m", "jaxml.tune.worker", str(spec_path)],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "JAXML_PROGRESS": "0"},
    )
    return _cpu() - c0


def _overhead(tuned, loop):
    return statistics.median(tuned) / statistics.median(loop) - 1.0


def main(argv=None) -> dict:
    config, _ = parse_config(Config, argv, description=__doc__.splitlines()[0])
    workdir = tempfile.mkdtemp(prefix="tune-overhead-")
    kw = DIGITS_SCALES[config.job_scale]
    spec0 = _spec(config, workdir, "warm-up", 0, n_trials=2)
    t0, c0 = time.perf_counter(), _cpu()
    mlp_job({p.name: (p.low * p.high) ** 0.5 for p in spec0.params}, Reporter(), **kw)
    compile_s, compile_cpu = time.perf_counter() - t0, _cpu() - c0
    _study_round(spec0)  # imports, database tables
    rows = {"loop": [], "study": [], "parallel": []}
    in_job = []
    for k in range(config.rounds):
        s, c, configs, records = _study_round(_spec(config, workdir, f"serial-{k}", k))
        rows["study"].append((s, c))
        in_job.append(sum(r["wall_time_s"] for r in records))
        rows["loop"].append(_loop_round(config, configs))
        line = f"  round {k}: loop {rows['loop'][-1][0]:.2f} s, study {s:.2f} s"
        if config.n_parallel > 1 and k % config.parallel_every == 0:
            spec = _spec(config, workdir, f"parallel-{k}", k, n_parallel=config.n_parallel)
            rows["parallel"].append(_study_round(spec)[:2])
            line += f", {config.n_parallel} workers {rows['parallel'][-1][0]:.2f} s"
        print(line + " (wall)", flush=True)
    wall = {name: [r[0] for r in v] for name, v in rows.items()}
    cpu = {name: [r[1] for r in v] for name, v in rows.items()}
    chunk = _train_chunk(tuple(kw["hidden"]), kw["num_train"], kw["batch_size"], kw["eval_every"])
    out = {
        "config": dataclasses.asdict(config),
        "compile_seconds": compile_s,
        "compile_cpu_s": compile_cpu,
        "compiled_programs": chunk._cache_size(),
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "seconds_inside_jobs": in_job,
        "overhead": _overhead(wall["study"], wall["loop"]),
        "cpu_overhead": _overhead(cpu["study"], cpu["loop"]),
        "overhead_cpu_ms_per_trial": 1e3
        * (statistics.median(cpu["study"]) - statistics.median(cpu["loop"]))
        / config.n_trials,
        "loop_cpu_ms_per_trial": 1e3 * statistics.median(cpu["loop"]) / config.n_trials,
        "max_overhead": MAX_OVERHEAD,
        "loadavg": os.getloadavg(),
        "device": device_info(),
    }
    if rows["parallel"]:
        spec_path = Path(workdir) / "spec-parallel-0.json"
        start = _worker_start_cpu(spec_path)
        fixed = config.n_parallel * (start + compile_cpu)
        loop_cpu = statistics.median(cpu["loop"])
        out["parallel"] = {
            "n_parallel": config.n_parallel,
            "wall_overhead_vs_serial_loop": _overhead(wall["parallel"], wall["loop"]),
            "cpu_overhead": _overhead(cpu["parallel"], cpu["loop"]),
            "worker_start_cpu_s": start,
            "cpu_overhead_without_worker_starts": (statistics.median(cpu["parallel"]) - fixed)
            / loop_cpu
            - 1.0,
        }
    verdict = "<=" if out["cpu_overhead"] <= MAX_OVERHEAD else ">"
    print(
        f"[tune_overhead] {config.n_trials} trials, 1 worker: CPU overhead "
        f"{100 * out['cpu_overhead']:.1f}% ({out['overhead_cpu_ms_per_trial']:.1f} ms/trial on "
        f"{out['loop_cpu_ms_per_trial']:.1f} ms jobs) {verdict} {100 * MAX_OVERHEAD:.0f}%; wall "
        f"overhead {100 * out['overhead']:.1f}%; compiled programs {out['compiled_programs']}; "
        f"load {out['loadavg'][0]:.1f}"
    )
    if "parallel" in out:
        par = out["parallel"]
        net = par["cpu_overhead_without_worker_starts"]
        print(
            f"[tune_overhead] {config.n_parallel} workers: CPU overhead "
            f"{100 * par['cpu_overhead']:.1f}% ({100 * net:.1f}%"
            f" without the per-worker start {par['worker_start_cpu_s']:.1f} s + compilation "
            f"{compile_cpu:.1f} s); wall vs the serial loop "
            f"{100 * par['wall_overhead_vs_serial_loop']:.1f}%"
        )
    write_json_atomic(Path(config.out), out)
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
