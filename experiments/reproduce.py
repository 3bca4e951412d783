"""Runs every figure module and writes results/REPORT.md (the driver behind scripts/reproduce.sh).

    python -m experiments.reproduce                      # every figure, quick scale
    python -m experiments.reproduce --only ift --scale full
    python -m experiments.reproduce --list
    python -m experiments.reproduce --jobs 1                # one at a time, output streamed

Each figure runs in its own process (``python -m experiments.<paper>.<figure>``) so that one
failure or one out-of-memory does not take the others down; a failed figure is marked FAILED in
the report and the driver exits non-zero at the end. ``--jobs`` figures run at once (default 2:
XLA's compiler and most of these small programs use one core each, so two processes keep two
cores busy); each writes its output to ``<results>/<paper>/<figure>/log.txt``. A figure module
that sets ``EXCLUSIVE = True`` (its verdict rests on wall-clock timings) runs alone. Figures
resume from their checkpoints, so a second invocation after an interruption finishes the
remaining work only.

The processes are children of a fork server (``multiprocessing``'s ``forkserver``) that has
imported :data:`PRELOAD` once, so a figure does not spend ~2.3 s of CPU importing JAX, flax,
ott-jax and matplotlib again (about 30 s of wall time over the 26 quick figures on two cores).
No JAX backend is started in the server: each child starts its own, as a fresh interpreter
would. A figure that must configure JAX before it is imported (the simulated devices of
the DC-S3GD figures) sets ``FRESH_INTERPRETER = True`` and runs as ``python -m`` instead, as does
every figure with ``--no-preload``.
"""

import argparse
import multiprocessing
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from experiments.harness.experiment import figure_id
from experiments.harness.io import read_json, write_text_atomic
from experiments.harness.report import (
    check_summaries,
    discover_figures,
    load_outcome,
    render_report,
)


def _run_streaming(cmd: list[str], keep: int = 20_000) -> tuple[int, str]:
    """Runs ``cmd``, passing its stderr (progress bars, tracebacks) through; returns the tail."""
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, env=os.environ.copy())
    tail = b""
    while chunk := proc.stderr.read1(4096):
        sys.stderr.buffer.write(chunk)
        sys.stderr.flush()
        tail = (tail + chunk)[-keep:]
    return proc.wait(), tail.decode(errors="replace").replace("\r", "\n")


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace").replace("\r", "\n") if path.is_file() else ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _figure_cmd(module: ModuleType, scale: str, workdir: Path) -> list[str]:
    return [sys.executable, "-m", module.__name__, "--scale", scale, "--workdir", str(workdir)]


#: Modules the fork server imports once for all figures (none of them starts a JAX backend).
PRELOAD = (
    "numpy",
    "jax",
    "jax.numpy",
    "flax.linen",
    "optax",
    "chex",
    "ott.solvers.linear.sinkhorn",
    "experiments.harness",
    "experiments.harness.plotting",
    "jaxml",
)


def _figure_child(argv: list[str], log: str) -> None:
    """Runs ``python -m <argv>`` inside a fork-server child, its output going to ``log``."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.argv = list(argv)
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


class _Child:
    """A fork-server figure process with the ``poll()`` / ``returncode`` of a ``Popen``."""

    def __init__(self, context, module: ModuleType, scale: str, workdir: Path, log: Path):
        argv = _figure_cmd(module, scale, workdir)[2:]  # what follows `python -m`
        self.process = context.Process(target=_figure_child, args=(argv, str(log)))
        self.process.start()
        self.returncode = None

    def poll(self):
        if self.returncode is None and self.process.exitcode is not None:
            self.returncode = self.process.exitcode
            self.process.close()
        return self.returncode


def _fork_server():
    """The ``forkserver`` context with :data:`PRELOAD` (None where fork servers do not exist)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


#: Quick-scale wall seconds of the longest figures (fresh-clone reproduce, 2 jobs, idle 2-core
#: machine): on a checkout without previous results they still start first, instead of in name
#: order (wordnet_matching, the longest, would otherwise start last and run alone at the end).
QUICK_SECONDS_HINT = {
    "hyperbolic/wordnet_matching": 137,
    "hyperbolic/synthetic_matching": 85,
    "hyperbolic/large_hierarchy": 85,
    "dcs3gd/convergence": 73,
    "linear_vae/collapse_vs_sigma": 70,
    "ift/learned_augmentation": 65,
    "compress/savings": 31,
    "compose/tune_hot": 30,
    "ift/dataset_distillation": 30,
}


def _previous_seconds(workdir: Path) -> float:
    """The wall time of the last completed run in ``workdir`` (0 if none): a scheduling hint."""
    try:
        return float(read_json(workdir / "metrics.json").get("wall_seconds") or 0.0)
    except (FileNotFoundError, ValueError, TypeError):
        return 0.0


def expected_seconds(module: ModuleType, results: Path, scale: str) -> float:
    """The scheduling hint of ``module``: its previous run's wall time in ``results``, else (at
    quick scale) :data:`QUICK_SECONDS_HINT`, else 0."""
    fid = figure_id(module.__name__)
    seen = _previous_seconds(results / fid)
    if seen or scale != "quick":
        return seen
    return float(QUICK_SECONDS_HINT.get(fid, 0.0))


def run_parallel(
    modules: list[ModuleType], scale: str, results: Path, jobs: int, preload: bool = True
) -> dict[str, tuple[float, str | None]]:
    """Runs the figures ``jobs`` at a time, each in its own process, its output in ``log.txt``.

    A figure whose module sets ``EXCLUSIVE = True`` (its verdict rests on wall-clock timings)
    runs alone: the driver waits for the others to finish first and starts nothing beside it.
    The rest start longest-first by their previous run's wall time (when ``results`` holds
    one; on a fresh checkout, :data:`QUICK_SECONDS_HINT`), so the longest figure does not start
    last. With ``preload`` (and more figures than ``jobs``) the processes are fork-server
    children (see the module doc).
    Returns figure id -> (seconds, error).
    """
    # The server's imports pay off once more figures than ``jobs`` share them.
    shared = [m for m in modules if not getattr(m, "FRESH_INTERPRETER", False)]
    context = _fork_server() if preload and len(shared) > jobs else None
    order = sorted(modules, key=lambda m: -expected_seconds(m, results, scale))
    pending = [m for m in order if not getattr(m, "EXCLUSIVE", False)]
    pending += [m for m in order if getattr(m, "EXCLUSIVE", False)]
    running: dict[str, tuple[subprocess.Popen, float, Path, Any]] = {}
    done: dict[str, tuple[float, str | None]] = {}
    total = len(pending)

    def reap(block: bool) -> None:
        while running:
            for fid, (proc, t0, log, handle) in list(running.items()):
                if proc.poll() is None:
                    continue
                if handle is not None:
                    handle.close()
                seconds = time.perf_counter() - t0
                error = (
                    None if proc.returncode == 0 else (f"exit code {proc.returncode}\n{_tail(log)}")
                )
                done[fid] = (seconds, error)
                del running[fid]
                status = "ok" if error is None else f"FAILED (see {log})"
                print(f"[{len(done)}/{total}] {fid}: {status} in {seconds:.0f} s", flush=True)
                return
            if not block:
                return
            time.sleep(0.2)

    while pending or running:
        module = pending[0] if pending else None
        exclusive = module is not None and getattr(module, "EXCLUSIVE", False)
        if module is not None and not (exclusive and running) and len(running) < jobs:
            pending.pop(0)
            fid = figure_id(module.__name__)
            workdir = results / fid
            workdir.mkdir(parents=True, exist_ok=True)
            log = workdir / "log.txt"
            if context is not None and not getattr(module, "FRESH_INTERPRETER", False):
                handle = None  # the child opens log.txt itself
                proc = _Child(context, module, scale, workdir, log)
            else:
                handle = log.open("w")
                cmd = _figure_cmd(module, scale, workdir)
                proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT)
            running[fid] = (proc, time.perf_counter(), log, handle)
            alone = " (alone: its verdict rests on timings)" if exclusive else ""
            print(f"start {fid} (scale {scale}){alone}; log: {log}", flush=True)
            if not exclusive:
                continue
        reap(block=True)
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="quick", help="quick (default), full or tiny")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="substring of <paper>/<figure> to run (repeatable)",
    )
    parser.add_argument("--results", default="results", help="output root (default: results)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="figures run at once (default: min(2, CPUs)); 1 streams each figure's output",
    )
    parser.add_argument(
        "--no-preload",
        dest="preload",
        action="store_false",
        help="start every figure as a fresh `python -m` (default: fork-server children)",
    )
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rebuild REPORT.md from existing metrics.json without running",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")

    modules = discover_figures(tuple(args.only))
    if args.list:
        for m in modules:
            print(f"{figure_id(m.__name__):45s} {m.PAPER}")
        return 0
    results = Path(args.results)
    ran: dict[str, tuple[float, str | None]] = {}
    t_start = time.perf_counter()
    if args.report_only:
        pass
    elif args.jobs == 1:
        for i, module in enumerate(modules, 1):
            fid = figure_id(module.__name__)
            print(f"\n=== [{i}/{len(modules)}] {fid} (scale {args.scale}) ===", flush=True)
            t0 = time.perf_counter()
            returncode, tail = _run_streaming(_figure_cmd(module, args.scale, results / fid))
            error = None
            if returncode != 0:
                error = f"exit code {returncode}\n" + "\n".join(tail.strip().splitlines()[-15:])
            ran[fid] = (time.perf_counter() - t0, error)
    else:
        ran = run_parallel(modules, args.scale, results, args.jobs, args.preload)
    outcomes = []
    for module in modules:
        fid = figure_id(module.__name__)
        seconds, error = ran.get(fid, (None, None))
        outcomes.append(load_outcome(module, results / fid, seconds, error))
    outcomes = check_summaries(outcomes)
    report = render_report(outcomes, results_dir=results, scale=args.scale)
    path = write_text_atomic(results / "REPORT.md", report)
    failed = [o.figure for o in outcomes if o.metrics is None]
    print(
        f"\nwrote {path} ({len(outcomes) - len(failed)} of {len(outcomes)} figures ok; "
        f"{time.perf_counter() - t_start:.0f} s with --jobs {args.jobs})"
    )
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
