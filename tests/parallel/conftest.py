"""Fixtures of the jaxml.parallel tests: the one 8-device subprocess (x64: tests/conftest.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MP_STEPS = 4  # steps of the multi-process comparison (reference and 2-process run)


def device_env(num_devices: int) -> dict:
    """The environment of a subprocess with ``num_devices`` simulated CPU devices."""
    from jaxml.parallel import host_device_flags

    env = dict(os.environ)
    env["XLA_FLAGS"] = host_device_flags(num_devices, env.get("XLA_FLAGS", ""))
    return env


@pytest.fixture(scope="session")
def multidevice(tmp_path_factory):
    """Runs ``tests/parallel/_multidevice_checks.py`` once with 8 simulated devices.

    Returns ``(results, out_dir)``: the checks' JSON and the folder holding the 1-process x
    4-device reference of the multi-process test.
    """
    out = tmp_path_factory.mktemp("multidevice")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.parallel._multidevice_checks", str(out), str(MP_STEPS)],
        capture_output=True,
        text=True,
        env=device_env(8),
        cwd=Path(__file__).resolve().parents[2],  # the repository root: `tests` is importable
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), out
