# Sourced by scripts/reproduce.sh and scripts/test.sh: creates .venv if absent and installs the
# pinned requirements plus the package (editable). A stamp of the requirement files' hash makes a
# second run skip pip entirely; edit requirements.txt or pyproject.toml and it reinstalls.
# Environment: PYTHON (interpreter to build the venv with, default python3), JAXML_VENV (venv path).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON_BIN="${PYTHON:-python3}"
VENV="${JAXML_VENV:-$ROOT/.venv}"

if ! command -v "$PYTHON_BIN" >/dev/null 2>&1; then
  echo "error: $PYTHON_BIN not found; install Python >= 3.11 or set PYTHON=/path/to/python3" >&2
  exit 1
fi
if ! "$PYTHON_BIN" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "error: $PYTHON_BIN is $("$PYTHON_BIN" -V 2>&1); jaxml needs Python >= 3.11" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment $VENV"
  "$PYTHON_BIN" -m venv "$VENV"
fi
STAMP="$VENV/.jaxml-requirements.sha256"
WANT="$(cat requirements.txt pyproject.toml | "$VENV/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "[setup] installing requirements into $VENV (first run: about a minute)"
  start=$(date +%s)
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r requirements.txt
  "$VENV/bin/python" -m pip install --quiet --no-deps -e .
  echo "$WANT" > "$STAMP"
  echo "[setup] installed in $(( $(date +%s) - start )) s"
else
  echo "[setup] reusing $VENV (requirements unchanged)"
fi
export PATH="$VENV/bin:$PATH"
export MPLBACKEND=Agg
