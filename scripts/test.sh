#!/usr/bin/env bash
# Sets up .venv (if needed) and runs the test suite; arguments pass through to pytest.
#   scripts/test.sh                 # everything
#   scripts/test.sh tests/data -x   # a subset
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"
start=$(date +%s)
set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
echo "[test] pytest finished in $(( $(date +%s) - start )) s with exit code $status"
exit $status
