"""Multi-process helpers: 2 processes x 2 devices on loopback equal 1 process x 4 devices, and a
killed process ends the other with a clear error in bounded time."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jaxml.parallel import (
    DistributedRunError,
    LocalCluster,
    free_port,
    host_device_flags,
    initialize_distributed,
    launch_local,
    requested_host_devices,
    worker_env,
)
from jaxml.parallel.distributed import WATCHDOG_EXIT_CODE

REPO = Path(__file__).resolve().parents[2]
WORKER = ["-m", "tests.parallel._mp_worker"]


def test_environment_helpers():
    port = free_port()
    assert 1024 <= port < 65536
    flags = host_device_flags(
        4, "--xla_backend_optimization_level=0 --xla_force_host_platform_device_count=2"
    )
    assert flags == "--xla_backend_optimization_level=0 --xla_force_host_platform_device_count=4"
    assert requested_host_devices(flags) == 4 and requested_host_devices("") is None
    env = worker_env(1, 2, "127.0.0.1:1234", 3, heartbeat_timeout_s=7, base_env={"A": "b"})
    assert env["JAXML_PROCESS_ID"] == "1" and env["JAXML_NUM_PROCESSES"] == "2"
    assert env["JAXML_COORDINATOR"] == "127.0.0.1:1234" and env["JAXML_HEARTBEAT_TIMEOUT_S"] == "7"
    assert env["XLA_FLAGS"] == "--xla_force_host_platform_device_count=3" and env["A"] == "b"
    # One process needs no coordinator: nothing is initialized.
    assert initialize_distributed("", 1, 0).num_processes == 1


@pytest.mark.parametrize(
    "args,kwargs,match",
    [
        (("127.0.0.1:1", 0, 0), {}, "num_processes must be an int >= 1; got 0"),
        (("127.0.0.1:1", 2, 2), {}, "process_id must be an int >= 0 and <= 1; got 2"),
        (("localhost", 2, 0), {}, "coordinator_address must be 'host:port'"),
        (("127.0.0.1:1", 2, 0), {"heartbeat_timeout_s": 0}, "heartbeat_timeout_s must be"),
    ],
)
def test_initialize_rejects_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        initialize_distributed(*args, **kwargs)


def test_cluster_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_processes must be an int >= 1"):
        LocalCluster(WORKER, num_processes=0, devices_per_process=1)
    with pytest.raises(ValueError, match="devices_per_process must be an int >= 1"):
        LocalCluster(WORKER, num_processes=1, devices_per_process=0)


def test_watchdog_exits_a_stuck_process():
    code = (
        "import time\n"
        "from jaxml.parallel.distributed import Watchdog\n"
        "Watchdog(0.5, what='training step').start().kick('step 3')\n"
        "time.sleep(30)\n"
    )
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == WATCHDOG_EXIT_CODE
    assert "no training step finished" in proc.stderr and "last progress: step 3" in proc.stderr
    assert time.monotonic() - t0 < 25  # import + 0.5 s, far from the 30 s sleep


def _gather(directory, name, num_processes):
    rows, leaves = [], None
    for pid in range(num_processes):
        with np.load(directory / f"{name}_{pid}.npz") as f:
            rows += list(f["rows"])
            part = [f[k] for k in sorted(k for k in f.files if k != "rows")]
        if leaves is None:
            leaves = part
        else:
            leaves = [np.concatenate([a, b]) for a, b in zip(leaves, part, strict=True)]
    return rows, leaves


def test_two_processes_equal_one_process(multidevice, tmp_path):
    """2 processes x 2 devices (gloo over loopback) vs 1 process x 4 devices, float64."""
    from tests.parallel.conftest import MP_STEPS

    _, ref_dir = multidevice
    results = launch_local(
        [*WORKER, "--out", str(tmp_path), "--steps", str(MP_STEPS), "--watchdog_s", "60"],
        num_processes=2,
        devices_per_process=2,
        timeout_s=180,
        peer_exit_grace_s=20,
        heartbeat_timeout_s=10,
        cwd=REPO,
    )
    assert [r.returncode for r in results] == [0, 0]
    assert "process 0/2: 4 devices" in results[0].stdout
    for name in ("sync", "dc_local"):
        rows, got = _gather(tmp_path, name, 2)
        ref_rows, ref = _gather(ref_dir, f"reference_{name}", 1)
        assert rows == ref_rows == [0, 1, 2, 3]
        assert len(got) == len(ref) == 4  # two dense layers: kernels and biases
        for a, b in zip(got, ref, strict=True):
            assert a.dtype == np.float64
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        if name == "dc_local":  # rows differ: each process really held its own devices' rows
            assert np.abs(got[0][0] - got[0][3]).max() > 1e-6


def test_killed_process_stops_the_other_in_bounded_time():
    heartbeat = 2
    cluster = LocalCluster(
        [*WORKER, "--out", "unused", "--forever", "--watchdog_s", "60"],
        num_processes=2,
        devices_per_process=2,
        heartbeat_timeout_s=heartbeat,
        cwd=REPO,
    )
    with cluster:
        deadline = time.monotonic() + 120
        while "step 2" not in cluster.read_stdout(1):
            assert time.monotonic() < deadline, cluster.read_stdout(1)
            assert all(p.poll() is None for p in cluster.processes), "a worker exited early"
            time.sleep(0.1)
        cluster.kill(1)
        killed_at = time.monotonic()
        with pytest.raises(DistributedRunError) as err:
            cluster.wait(timeout_s=300, peer_exit_grace_s=60)
        survivor_exit = time.monotonic() - killed_at
    results = err.value.results
    message = str(err.value)
    assert "process 1 of 2 failed first: exit code -9 (SIGKILL)" in message
    # The survivor stopped by itself (heartbeat), with an error, well before the launcher's grace.
    assert results[0].returncode != 0 and not results[0].killed_by_launcher
    assert survivor_exit < heartbeat + 20, survivor_exit
    assert "distributed service detected fatal errors" in results[0].stderr or (
        "watchdog" in results[0].stderr
    ), results[0].stderr[-2000:]
    assert os.environ.get("JAXML_PROCESS_ID") is None  # the launcher did not touch our env
