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
  # -qq keeps pip to its errors; PYTHONWARNINGS hides setuptools' build-time notices. A real
  # failure still prints pip's error and stops here (set -e).
  export PYTHONWARNINGS=ignore
  echo "[setup] 1/3 pip"
  "$VENV/bin/python" -m pip install -qq --upgrade pip
  echo "[setup] 2/3 pinned requirements (jax, flax, optax, ott-jax, ...)"
  "$VENV/bin/python" -m pip install -qq -r requirements.txt
  echo "[setup] 3/3 jaxml (editable)"
  "$VENV/bin/python" -m pip install -qq --no-deps -e .
  unset PYTHONWARNINGS
  echo "$WANT" > "$STAMP"
  echo "[setup] installed in $(( $(date +%s) - start )) s"
else
  echo "[setup] reusing $VENV (requirements unchanged)"
fi
export PATH="$VENV/bin:$PATH"
# A persistent XLA compilation cache: a second run of the tests or the figures reuses the compiled
# programs of the first (the cache key includes XLA_FLAGS, jax version and the device).
export JAX_COMPILATION_CACHE_DIR="${JAX_COMPILATION_CACHE_DIR:-$ROOT/.jaxml_cache/xla}"
# Every program is cached (not only those compiling for over 0.1 s): the two test workers and the
# subprocess tests compile many of the same small programs, and sharing them made the fresh-clone
# suite ~7% faster (310.9 s against 332.8 s of pytest time, two runs on the idle machine).
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="${JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS:-0}"
export MPLBACKEND=Agg
