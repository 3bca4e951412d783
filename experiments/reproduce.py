"""Runs every figure module and writes results/REPORT.md (the driver behind scripts/reproduce.sh).

    python -m experiments.reproduce                      # every figure, quick scale
    python -m experiments.reproduce --only ift --scale full
    python -m experiments.reproduce --list

Each figure runs in its own process (``python -m experiments.<paper>.<figure>``) so that one
failure or one out-of-memory does not take the others down; a failed figure is marked FAILED in
the report and the driver exits non-zero at the end. Figures resume from their checkpoints, so a
second invocation after an interruption finishes the remaining work only.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from experiments.harness.experiment import figure_id
from experiments.harness.io import write_text_atomic
from experiments.harness.report import discover_figures, load_outcome, render_report


def _run_streaming(cmd: list[str], keep: int = 20_000) -> tuple[int, str]:
    """Runs ``cmd``, passing its stderr (progress bars, tracebacks) through; returns the tail."""
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, env=os.environ.copy())
    tail = b""
    while chunk := proc.stderr.read1(4096):
        sys.stderr.buffer.write(chunk)
        sys.stderr.flush()
        tail = (tail + chunk)[-keep:]
    return proc.wait(), tail.decode(errors="replace").replace("\r", "\n")


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
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rebuild REPORT.md from existing metrics.json without running",
    )
    args = parser.parse_args(argv)

    modules = discover_figures(tuple(args.only))
    if args.list:
        for m in modules:
            print(f"{figure_id(m.__name__):45s} {m.PAPER}")
        return 0
    results = Path(args.results)
    outcomes = []
    for i, module in enumerate(modules, 1):
        fid = figure_id(module.__name__)
        workdir = results / fid
        seconds, error = None, None
        if not args.report_only:
            print(f"\n=== [{i}/{len(modules)}] {fid} (scale {args.scale}) ===", flush=True)
            t0 = time.perf_counter()
            cmd = [
                sys.executable,
                "-m",
                module.__name__,
                "--scale",
                args.scale,
                "--workdir",
                str(workdir),
            ]
            returncode, tail = _run_streaming(cmd)
            seconds = time.perf_counter() - t0
            if returncode != 0:
                error = f"exit code {returncode}\n" + "\n".join(tail.strip().splitlines()[-15:])
        outcomes.append(load_outcome(module, workdir, seconds, error))
    report = render_report(outcomes, results_dir=results, scale=args.scale)
    path = write_text_atomic(results / "REPORT.md", report)
    failed = [o.figure for o in outcomes if o.metrics is None]
    print(f"\nwrote {path} ({len(outcomes) - len(failed)} of {len(outcomes)} figures ok)")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
