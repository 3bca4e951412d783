#!/usr/bin/env bash
# Sets up .venv (if needed), runs every experiment figure (quick scale by default) and writes
# results/REPORT.md. Arguments pass through to `python -m experiments.reproduce`:
#   scripts/reproduce.sh                       # all figures, quick scale
#   scripts/reproduce.sh --only ift            # one paper
#   scripts/reproduce.sh --scale full          # the papers' sizes (for a GPU)
#   scripts/reproduce.sh --list                # what would run
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"
start=$(date +%s)
set +e
"$VENV/bin/python" -m experiments.reproduce "$@"
status=$?
set -e
echo "[reproduce] finished in $(( $(date +%s) - start )) s with exit code $status"
exit $status
