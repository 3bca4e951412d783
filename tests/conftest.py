"""Test-suite settings, applied before JAX is imported by any test module.

- XLA's backend optimization level 0: the suite's cost on 2 CPU cores is dominated by compiling
  many tiny programs, and level 0 compiles about 3x faster. XLA:CPU's older (non-MLIR) fusion
  emitters (``--xla_cpu_use_fusion_emitters=false``) compile faster still: the synthetic-matching
  smoke test alone 21.9 -> 15.5 s. Numerics stay IEEE float32/64 (tests use explicit tolerances;
  bit-identity tests compare two runs made under the same flags). Set XLA_FLAGS yourself to
  override.
- No progress bars (JAXML_PROGRESS=0), and a fresh dataset cache (JAXML_CACHE_DIR) so tests
  never read or write ~/.cache/jaxml; subprocesses started by tests inherit all of these.
"""

import os
import tempfile

os.environ.setdefault(
    "XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
)
os.environ.setdefault("JAXML_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("JAXML_CACHE_DIR", tempfile.mkdtemp(prefix="jaxml-test-cache-"))

import jax  # noqa: E402  (after the environment settings above)
import pytest  # noqa: E402


@pytest.fixture
def x64():
    """Runs the test with float64 enabled (restored afterwards); the suite's one x64 fixture."""
    with jax.enable_x64(True):
        yield
