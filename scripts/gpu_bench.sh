#!/usr/bin/env bash
# Runs every benchmark in experiments/benchmarks/ at one scale and writes one JSON and one markdown
# table (jaxml.perf.report): OUT/<benchmark>.json, OUT/runs.tsv, OUT/gpu_bench.json, OUT/gpu_bench.md.
#   scripts/gpu_bench.sh                         # --scale full, on whatever JAX finds (a CUDA GPU)
#   scripts/gpu_bench.sh --scale tiny --out /tmp/gb   # the CPU smoke run the test suite does
# Environment: PYTHON (default .venv/bin/python, else python3), BENCHMARKS (space-separated module
# names; default every experiments/benchmarks/*.py not starting with "_"), BENCH_TIMEOUT (seconds
# per benchmark, default 480 = the 8-minute budget of the whole run on one GPU).
# Every benchmark must accept --scale and --out. A failing benchmark is recorded (exit code in
# runs.tsv and in the table) and the others still run; the script exits non-zero if any failed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SCALE=full
OUT=results/gpu_bench
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "usage: $0 [--scale tiny|quick|full] [--out DIR]" >&2; exit 2 ;;
  esac
done
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
if [ -z "${BENCHMARKS:-}" ]; then
  BENCHMARKS="$(ls experiments/benchmarks/*.py | xargs -n1 basename | sed 's/\.py$//' | grep -v '^_' | tr '\n' ' ')"
fi
mkdir -p "$OUT"
: > "$OUT/runs.tsv"
"$PY" -c 'import jax; print("[gpu_bench] backend", jax.default_backend(), jax.devices())'
failed=0
start_all=$(date +%s)
for b in $BENCHMARKS; do
  echo "[gpu_bench] $b --scale $SCALE"
  start=$(date +%s)
  timeout "${BENCH_TIMEOUT:-480}" "$PY" -m "experiments.benchmarks.$b" --scale "$SCALE" \
    --out "$OUT/$b.json" > "$OUT/$b.log" 2>&1
  rc=$?
  printf '%s\t%s\t%s\n' "$b" "$rc" "$(( $(date +%s) - start ))" >> "$OUT/runs.tsv"
  if [ "$rc" -ne 0 ]; then
    failed=1
    echo "[gpu_bench] $b FAILED (exit $rc); last lines of $OUT/$b.log:"
    tail -n 5 "$OUT/$b.log"
  fi
done
"$PY" -m jaxml.perf.report "$OUT" || failed=1
echo "[gpu_bench] finished in $(( $(date +%s) - start_all )) s; table: $OUT/gpu_bench.md"
exit $failed
