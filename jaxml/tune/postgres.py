"""A throwaway local PostgreSQL server (for tests and single-machine trials of the multi-machine
path): ``initdb`` in a temporary folder, loopback only, a free port, stopped by :meth:`stop`.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user (or
``nobody``) through ``runuser``, in a folder owned by that user. :func:`find_pg_bin` says why the
server cannot be started here (no ``initdb``, no usable user) so callers can skip cleanly.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def find_pg_bin() -> tuple[Path | None, str]:
    """``(folder holding initdb and pg_ctl, "")`` or ``(None, reason)``."""
    found = shutil.which("initdb")
    candidates = [found] if found else sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    for c in candidates:
        folder = Path(os.path.realpath(c)).parent
        if (folder / "pg_ctl").exists():
            return folder, ""
    return None, "PostgreSQL's initdb/pg_ctl not found (run scripts/ensure_postgres.sh)"


def _run_as() -> tuple[list[str], pwd.struct_passwd | None, str]:
    if os.geteuid() != 0:
        return [], None, ""
    runuser = shutil.which("runuser")
    if runuser is None:
        return [], None, "running as root and runuser is missing (initdb refuses root)"
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        return [runuser, "-u", name, "--"], user, ""
    return [], None, "running as root and neither user 'postgres' nor 'nobody' exists"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """``with LocalPostgres() as pg: pg.url`` (or :meth:`start` / :meth:`stop`)."""

    def __init__(self, *, timeout_s: int = 60):
        from jaxml import _validation as chk

        self.timeout_s = chk.check_int(timeout_s, "timeout_s", minimum=1)
        self.url: str | None = None
        self._dir: str | None = None
        self._prefix: list[str] = []

    def available(self) -> str:
        """Empty if a server can be started here; otherwise the reason it cannot."""
        folder, reason = find_pg_bin()
        if folder is None:
            return reason
        return _run_as()[2]

    def start(self) -> str:
        """Starts the server; returns its SQLAlchemy URL. Raises RuntimeError with the log."""
        reason = self.available()
        if reason:
            raise RuntimeError(reason)
        folder, _ = find_pg_bin()
        self._prefix, user, _ = _run_as()
        self._dir = tempfile.mkdtemp(prefix="jaxml-pg-")
        os.chmod(self._dir, 0o700)
        if user is not None:
            os.chown(self._dir, user.pw_uid, user.pw_gid)
        data, log = f"{self._dir}/data", f"{self._dir}/server.log"
        port = _free_port()
        self._pg_ctl = str(folder / "pg_ctl")
        self._data = data
        self._call([str(folder / "initdb"), "-D", data, "-A", "trust", "-U", "tune", "-N"])
        opts = (
            f"-p {port} -k {self._dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off"
        )
        try:
            self._call([self._pg_ctl, "-D", data, "-l", log, "-o", opts, "-w", "-t", "30", "start"])
        except RuntimeError as e:
            text = Path(log).read_text() if Path(log).exists() else ""
            self.stop()
            raise RuntimeError(f"{e}\n{text[-2000:]}") from None
        self.url = f"postgresql+psycopg2://tune@127.0.0.1:{port}/postgres"
        return self.url

    def _call(self, cmd: list[str]) -> None:
        proc = subprocess.run(
            self._prefix + cmd, capture_output=True, text=True, timeout=self.timeout_s, cwd="/"
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:2])} failed: {proc.stderr.strip()[-2000:]}")

    def stop(self) -> None:
        """Stops the server (immediate shutdown) and deletes its folder; safe to call twice."""
        if self._dir is None:
            return
        if self.url is not None:
            try:
                self._call([self._pg_ctl, "-D", self._data, "-m", "immediate", "-w", "stop"])
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir, self.url = None, None

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
