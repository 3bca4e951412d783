#!/usr/bin/env bash
# Sets up .venv (if needed) and runs the test suite; arguments pass through to pytest.
#   scripts/test.sh                 # everything, on 2 worker processes (pytest-xdist)
#   scripts/test.sh tests/data -x   # a subset
#   JAXML_TEST_WORKERS=0 scripts/test.sh   # one process (no xdist)
# Tests are spread over the workers file by file (--dist loadfile), so a module's shared compiled
# programs (module-scoped fixtures) are built once.
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"
start=$(date +%s)
set +e
WORKERS="${JAXML_TEST_WORKERS:-2}"
if [ "$WORKERS" = "0" ]; then
  "$VENV/bin/python" -m pytest "$@"
else
  "$VENV/bin/python" -m pytest -n "$WORKERS" --dist loadfile "$@"
fi
status=$?
set -e
echo "[test] pytest finished in $(( $(date +%s) - start )) s with exit code $status"
exit $status
