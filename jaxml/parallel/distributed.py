"""Several JAX processes, each owning several (simulated) CPU devices, running one program.

Start N processes (on one machine or many) that call :func:`initialize_distributed` before any
other JAX call; ``jax.devices()`` then lists the devices of every process and a mesh over all of
them (:func:`jaxml.parallel.drivers.device_mesh`) runs the same shard_map step across processes,
with the CPU collectives going over TCP (gloo). On one machine, :func:`launch_local` /
:class:`LocalCluster` start the processes with a free loopback port and the environment that
:func:`initialize_from_env` reads:

    JAXML_COORDINATOR=127.0.0.1:PORT JAXML_NUM_PROCESSES=N JAXML_PROCESS_ID=i \\
    XLA_FLAGS=--xla_force_host_platform_device_count=D python -m your.worker

Across machines, run the same command on every machine with the coordinator set to process 0's
reachable address (``host0:PORT``) and ``JAXML_PROCESS_ID`` = 0..N-1.

No hang when a process dies: (1) ``jax.distributed`` heartbeats -- a process that stops sending
them for ``heartbeat_timeout_s`` is declared dead by the coordinator and every other process
aborts with "Terminating process because the JAX distributed service detected fatal errors" (if
the coordinator itself dies, the others lose it within the same time); (2) a :class:`Watchdog`
thread in the worker exits the process with a clear message when no step completes within its
timeout (e.g. a collective blocked on a peer); (3) :class:`LocalCluster` kills the remaining
processes ``peer_exit_grace_s`` after the first failure and raises :class:`DistributedRunError`
naming the process that failed first and the tail of every process's stderr.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from jaxml import _validation as v

ENV_COORDINATOR = "JAXML_COORDINATOR"
ENV_NUM_PROCESSES = "JAXML_NUM_PROCESSES"
ENV_PROCESS_ID = "JAXML_PROCESS_ID"
ENV_HEARTBEAT = "JAXML_HEARTBEAT_TIMEOUT_S"
WATCHDOG_EXIT_CODE = 75
_DEVICE_FLAG = "--xla_force_host_platform_device_count"
_ADDRESS = re.compile(r"[\w.\-\[\]:]+:\d+")


def _check_address(address: Any, name: str = "coordinator_address") -> str:
    v.check_str(address, name)
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"{name} must be 'host:port' (e.g. '127.0.0.1:12355'); got {address!r}")
    return address


def _check_ranks(process_id: Any, num_processes: Any) -> tuple[int, int]:
    n = v.check_int(num_processes, "num_processes", minimum=1)
    return v.check_int(process_id, "process_id", minimum=0, maximum=n - 1), n


def _check_seconds(**values: Any) -> None:
    for name, value in values.items():
        v.check_int(value, name, minimum=1)


def _check_env(env: Any, name: str) -> None:
    if env is None:
        return
    if not isinstance(env, Mapping):
        raise TypeError(f"{name} must be a mapping of str -> str or None; got {env!r}")
    for k, val in env.items():
        if not isinstance(k, str) or not isinstance(val, str):
            raise TypeError(f"{name} must map str -> str; got {k!r}: {val!r}")


class DistributedInfo(NamedTuple):
    """Which process this is: ``process_id`` in ``[0, num_processes)``; coordinator address."""

    process_id: int
    num_processes: int
    coordinator_address: str | None


class ProcessResult(NamedTuple):
    """One finished process of a :class:`LocalCluster`.

    Attributes:
        process_id: its rank.
        returncode: exit status (negative: killed by that signal).
        stdout: everything it printed to stdout.
        stderr: everything it printed to stderr.
        seconds: wall time from start to exit.
        killed_by_launcher: True when the launcher killed it (after a peer failed, or timeout).
    """

    process_id: int
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    killed_by_launcher: bool


class DistributedRunError(RuntimeError):
    """A multi-process run failed; ``results`` holds every process's :class:`ProcessResult`."""

    def __init__(self, message: str, results: Sequence[ProcessResult]):
        super().__init__(message)
        self.results = list(results)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (bound and released)."""
    v.check_str(host, "host")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def host_device_flags(num_devices: int, flags: str | None = None) -> str:
    """``flags`` (default ``$XLA_FLAGS``) with the simulated CPU device count ``num_devices``.

    Any existing ``--xla_force_host_platform_device_count`` is replaced; other flags are kept.
    """
    v.check_int(num_devices, "num_devices", minimum=1)
    flags = (
        os.environ.get("XLA_FLAGS", "")
        if flags is None
        else v.check_str(flags, "flags", nonempty=False)
    )
    kept = [f for f in flags.split() if not f.startswith(_DEVICE_FLAG)]
    return " ".join([*kept, f"{_DEVICE_FLAG}={num_devices}"])


def requested_host_devices(flags: str | None = None) -> int | None:
    """The device count that ``flags`` (default ``$XLA_FLAGS``) asks XLA to simulate, or None."""
    flags = (
        os.environ.get("XLA_FLAGS", "")
        if flags is None
        else v.check_str(flags, "flags", nonempty=False)
    )
    m = re.search(rf"{_DEVICE_FLAG}=(\d+)", flags)
    return int(m.group(1)) if m else None


def initialize_distributed(
    coordinator_address: str,
    num_processes: int,
    process_id: int,
    *,
    heartbeat_timeout_s: int = 10,
    initialization_timeout_s: int = 60,
    shutdown_timeout_s: int = 5,
    cpu_collectives: str = "gloo",
) -> DistributedInfo:
    """``jax.distributed.initialize`` with CPU collectives and short, bounded timeouts.

    Must run before any other JAX computation in the process. With ``num_processes == 1`` it does
    nothing (a single process needs no coordinator).

    Args:
        coordinator_address: ``"host:port"`` of process 0's coordinator (``127.0.0.1:PORT``
            locally; process 0 binds it).
        num_processes: ``N >= 1``.
        process_id: this process's rank in ``[0, N)``.
        heartbeat_timeout_s: a process silent this long is declared dead and the others abort.
        initialization_timeout_s: give up connecting to the coordinator after this long.
        shutdown_timeout_s: how long exiting waits for the other processes at the final barrier.
        cpu_collectives: ``jax_cpu_collectives_implementation`` (``"gloo"``; ``"mpi"`` needs MPI).

    Raises:
        ValueError: bad ranks, counts, address or timeouts (naming the argument).
    """
    process_id, num_processes = _check_ranks(process_id, num_processes)
    _check_seconds(
        heartbeat_timeout_s=heartbeat_timeout_s,
        initialization_timeout_s=initialization_timeout_s,
        shutdown_timeout_s=shutdown_timeout_s,
    )
    v.check_choice(cpu_collectives, "cpu_collectives", ("gloo", "mpi"))
    if num_processes == 1:
        return DistributedInfo(0, 1, None)
    _check_address(coordinator_address)
    import jax

    jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        initialization_timeout=initialization_timeout_s,
        heartbeat_timeout_seconds=heartbeat_timeout_s,
        shutdown_timeout_seconds=shutdown_timeout_s,
    )
    return DistributedInfo(process_id, num_processes, coordinator_address)


def initialize_from_env(
    *, initialization_timeout_s: int = 60, shutdown_timeout_s: int = 5
) -> DistributedInfo:
    """:func:`initialize_distributed` configured by the ``JAXML_*`` environment variables.

    Reads ``JAXML_COORDINATOR``, ``JAXML_NUM_PROCESSES`` and ``JAXML_PROCESS_ID``.

    Without those variables this is a single process and nothing is initialized. The heartbeat
    timeout comes from ``JAXML_HEARTBEAT_TIMEOUT_S`` (default 10 s).
    """
    _check_seconds(
        initialization_timeout_s=initialization_timeout_s, shutdown_timeout_s=shutdown_timeout_s
    )
    if ENV_NUM_PROCESSES not in os.environ:
        return DistributedInfo(0, 1, None)
    try:
        num = int(os.environ[ENV_NUM_PROCESSES])
        pid = int(os.environ[ENV_PROCESS_ID])
        heartbeat = int(os.environ.get(ENV_HEARTBEAT, "10"))
    except (KeyError, ValueError) as e:
        raise ValueError(
            f"{ENV_NUM_PROCESSES}, {ENV_PROCESS_ID} (and {ENV_HEARTBEAT}) must be integers: {e}"
        ) from e
    return initialize_distributed(
        os.environ.get(ENV_COORDINATOR, ""),
        num,
        pid,
        heartbeat_timeout_s=heartbeat,
        initialization_timeout_s=initialization_timeout_s,
        shutdown_timeout_s=shutdown_timeout_s,
    )


def worker_env(
    process_id: int,
    num_processes: int,
    coordinator_address: str,
    devices_per_process: int,
    *,
    heartbeat_timeout_s: int = 10,
    base_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one worker: rank variables and the simulated device count.

    Raises:
        ValueError / TypeError: ``process_id`` outside ``[0, num_processes)``,
            ``num_processes < 1``, an address that is not ``'host:port'``, a non-positive
            device count or heartbeat, a ``base_env`` that is not a str -> str mapping.
    """
    process_id, num_processes = _check_ranks(process_id, num_processes)
    _check_address(coordinator_address)
    v.check_int(devices_per_process, "devices_per_process", minimum=1)
    _check_seconds(heartbeat_timeout_s=heartbeat_timeout_s)
    _check_env(base_env, "base_env")
    env = dict(os.environ if base_env is None else base_env)
    env[ENV_COORDINATOR] = coordinator_address
    env[ENV_NUM_PROCESSES] = str(num_processes)
    env[ENV_PROCESS_ID] = str(process_id)
    env[ENV_HEARTBEAT] = str(heartbeat_timeout_s)
    env["XLA_FLAGS"] = host_device_flags(devices_per_process, env.get("XLA_FLAGS", ""))
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Watchdog:
    """Exits the process (``os._exit``) when :meth:`kick` is not called for ``timeout_s`` seconds.

    Use it around a training loop whose collectives could block on a dead peer::

        with Watchdog(60, what="training step") as dog:
            for step in range(n):
                state = train_step(state)
                jax.block_until_ready(state)
                dog.kick(f"step {step}")

    On expiry it writes ``[jaxml watchdog] no training step finished for 60 s ...`` to stderr and
    exits with :data:`WATCHDOG_EXIT_CODE` (no cleanup: a blocked collective cannot be unwound).
    """

    def __init__(
        self, timeout_s: float, *, what: str = "step", exit_code: int = WATCHDOG_EXIT_CODE
    ):
        v.check_positive(timeout_s, "timeout_s")
        v.check_str(what, "what")
        v.check_int(exit_code, "exit_code", minimum=1, maximum=255)
        self.timeout_s = float(timeout_s)
        self.what = what
        self.exit_code = exit_code
        self._last = time.monotonic()
        self._label = "start"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def kick(self, label: str | None = None) -> None:
        """Records progress (resets the timer)."""
        self._last = time.monotonic()
        if label is not None:
            self._label = label

    def _watch(self) -> None:
        poll = min(0.25, self.timeout_s / 4)
        while not self._stop.wait(poll):
            idle = time.monotonic() - self._last
            if idle > self.timeout_s:
                sys.stderr.write(
                    f"[jaxml watchdog] no {self.what} finished for {idle:.1f} s (timeout "
                    f"{self.timeout_s:g} s; last progress: {self._label}). A peer process "
                    f"probably died or hung; exiting with code {self.exit_code}.\n"
                )
                sys.stderr.flush()
                os._exit(self.exit_code)

    def start(self) -> "Watchdog":
        self.kick()
        self._thread = threading.Thread(target=self._watch, name="jaxml-watchdog", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> "Watchdog":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _describe_rc(rc: int) -> str:
    if rc < 0:
        try:
            return f"{rc} ({signal.Signals(-rc).name})"
        except ValueError:
            return str(rc)
    if rc == WATCHDOG_EXIT_CODE:
        return f"{rc} (watchdog)"
    return str(rc)


class LocalCluster:
    """``num_processes`` workers ``python *argv`` on this machine, wired by environment variables.

    Every worker gets :func:`worker_env` (loopback coordinator on a free port, its rank, and
    ``devices_per_process`` simulated CPU devices) plus ``extra_env``. Output goes to temporary
    files (no pipe can fill up). Use :meth:`wait` to collect the results.

    Args:
        argv: the worker command after the interpreter, e.g. ``["-m", "my.worker", "--n", "5"]``.
        num_processes: ``N >= 1``.
        devices_per_process: simulated CPU devices per worker.
        heartbeat_timeout_s: passed to the workers (see :func:`initialize_from_env`).
        extra_env: more environment variables for every worker.
        cwd: working directory of the workers.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        num_processes: int,
        devices_per_process: int,
        heartbeat_timeout_s: int = 10,
        extra_env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike | None = None,
    ):
        _check_argv(argv)
        num_processes = v.check_int(num_processes, "num_processes", minimum=1)
        v.check_int(devices_per_process, "devices_per_process", minimum=1)
        _check_seconds(heartbeat_timeout_s=heartbeat_timeout_s)
        _check_env(extra_env, "extra_env")
        if cwd is not None:
            v.check_path(cwd, "cwd", exists="dir")
        self.num_processes = num_processes
        self.coordinator_address = f"127.0.0.1:{free_port()}"
        self._dir = tempfile.TemporaryDirectory(prefix="jaxml-cluster-")
        self._files = []
        self.processes: list[subprocess.Popen] = []
        self._start = time.monotonic()
        self._end: list[float | None] = [None] * num_processes
        self._killed = [False] * num_processes
        try:
            for pid in range(num_processes):
                self._start_worker(
                    pid, argv, devices_per_process, heartbeat_timeout_s, extra_env, cwd
                )
        except BaseException:
            self.close()  # no orphans if starting one of them failed
            raise

    def _start_worker(self, pid, argv, devices_per_process, heartbeat_timeout_s, extra_env, cwd):
        env = worker_env(
            pid,
            self.num_processes,
            self.coordinator_address,
            devices_per_process,
            heartbeat_timeout_s=heartbeat_timeout_s,
        )
        env.update(extra_env or {})
        out = open(Path(self._dir.name) / f"{pid}.out", "w+b")  # noqa: SIM115
        err = open(Path(self._dir.name) / f"{pid}.err", "w+b")  # noqa: SIM115
        self._files.append((out, err))
        self.processes.append(
            subprocess.Popen(
                [sys.executable, *argv],
                stdout=out,
                stderr=err,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        )

    def read_stdout(self, process_id: int) -> str:
        """What worker ``process_id`` has printed to stdout so far."""
        v.check_int(process_id, "process_id", minimum=0, maximum=self.num_processes - 1)
        return (Path(self._dir.name) / f"{process_id}.out").read_text(errors="replace")

    def kill(self, process_id: int, sig: int = signal.SIGKILL) -> None:
        """Sends ``sig`` to one worker (to test failure handling)."""
        v.check_int(process_id, "process_id", minimum=0, maximum=self.num_processes - 1)
        proc = self.processes[process_id]
        if proc.poll() is None:
            proc.send_signal(sig)

    def _poll(self) -> list[int | None]:
        codes = []
        for i, proc in enumerate(self.processes):
            rc = proc.poll()
            if rc is not None and self._end[i] is None:
                self._end[i] = time.monotonic()
            codes.append(rc)
        return codes

    def _kill_running(self) -> None:
        for i, proc in enumerate(self.processes):
            if proc.poll() is None:
                self._killed[i] = True
                proc.kill()
        for proc in self.processes:
            proc.wait()
        self._poll()

    def wait(
        self, *, timeout_s: float = 300.0, peer_exit_grace_s: float = 30.0, check: bool = True
    ) -> list[ProcessResult]:
        """Waits for every worker; bounded in time.

        Args:
            timeout_s: kill everything still running after this long (from the start).
            peer_exit_grace_s: after the first worker fails, the others get this long to exit
                on their own (they should, through the heartbeat or their watchdog), then are
                killed.
            check: raise :class:`DistributedRunError` if any worker did not exit with 0.

        Returns:
            One :class:`ProcessResult` per worker, by rank.
        """
        _check_wait(timeout_s, peer_exit_grace_s)
        v.check_bool(check, "check")
        first_failure: tuple[int, float] | None = None
        timed_out = False
        while True:
            codes = self._poll()
            if all(c is not None for c in codes):
                break
            now = time.monotonic()
            if first_failure is None:
                failed = [i for i, c in enumerate(codes) if c not in (None, 0)]
                if failed:
                    first = min(failed, key=lambda i: self._end[i])
                    first_failure = (first, self._end[first])
            if first_failure is not None and now - first_failure[1] > peer_exit_grace_s:
                self._kill_running()
                break
            if now - self._start > timeout_s:
                timed_out = True
                self._kill_running()
                break
            time.sleep(0.05)
        results = []
        for i, proc in enumerate(self.processes):
            out, err = self._files[i]
            out.flush()
            err.flush()
            results.append(
                ProcessResult(
                    process_id=i,
                    returncode=proc.returncode,
                    stdout=(Path(self._dir.name) / f"{i}.out").read_text(errors="replace"),
                    stderr=(Path(self._dir.name) / f"{i}.err").read_text(errors="replace"),
                    seconds=(self._end[i] or time.monotonic()) - self._start,
                    killed_by_launcher=self._killed[i],
                )
            )
        self.close()
        if check and (timed_out or any(r.returncode != 0 for r in results)):
            raise DistributedRunError(_failure_message(results, timed_out, timeout_s), results)
        return results

    def close(self) -> None:
        """Kills what still runs and removes the temporary output files."""
        if any(p.poll() is None for p in self.processes):
            self._kill_running()
        for out, err in self._files:
            out.close()
            err.close()
        self._dir.cleanup()

    def __enter__(self) -> "LocalCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_argv(argv: Any) -> None:
    if isinstance(argv, str | bytes) or not isinstance(argv, Sequence) or not argv:
        raise TypeError(
            f"argv must be a non-empty list of str (e.g. ['-m', 'my.worker']); got {argv!r}"
        )
    for a in argv:
        if not isinstance(a, str | os.PathLike):
            raise TypeError(f"argv must hold str arguments; got {a!r} in {argv!r}")


def _check_wait(timeout_s: Any, peer_exit_grace_s: Any) -> None:
    v.check_positive(timeout_s, "timeout_s")
    v.check_nonnegative(peer_exit_grace_s, "peer_exit_grace_s")


def _failure_message(results: Sequence[ProcessResult], timed_out: bool, timeout_s: float) -> str:
    failed = sorted((r for r in results if r.returncode != 0), key=lambda r: r.seconds)
    if timed_out:
        head = f"the multi-process run did not finish within {timeout_s:g} s"
    else:
        f0 = failed[0]
        head = (
            f"process {f0.process_id} of {len(results)} failed first: exit code "
            f"{_describe_rc(f0.returncode)} after {f0.seconds:.1f} s"
        )
    lines = [head]
    for r in results:
        how = "killed by the launcher" if r.killed_by_launcher else "exited"
        lines.append(
            f"  process {r.process_id}: {how} with code {_describe_rc(r.returncode)} at "
            f"{r.seconds:.1f} s"
        )
        tail = [ln for ln in r.stderr.strip().splitlines() if ln.strip()][-6:]
        lines += [f"    | {ln[:300]}" for ln in tail]
    return "\n".join(lines)


def launch_local(
    argv: Sequence[str],
    *,
    num_processes: int,
    devices_per_process: int,
    timeout_s: float = 300.0,
    peer_exit_grace_s: float = 30.0,
    heartbeat_timeout_s: int = 10,
    extra_env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
) -> list[ProcessResult]:
    """Runs ``python *argv`` as ``num_processes`` workers on this machine and waits for them.

    See :class:`LocalCluster` (arguments) and :meth:`LocalCluster.wait` (timeouts). Every
    argument is checked before any process starts.

    Raises:
        DistributedRunError: a worker failed or the run timed out; the message names the
            process that failed first and shows the end of every worker's stderr.
    """
    _check_wait(timeout_s, peer_exit_grace_s)
    cluster = LocalCluster(
        argv,
        num_processes=num_processes,
        devices_per_process=devices_per_process,
        heartbeat_timeout_s=heartbeat_timeout_s,
        extra_env=extra_env,
        cwd=cwd,
    )
    return cluster.wait(timeout_s=timeout_s, peer_exit_grace_s=peer_exit_grace_s)
