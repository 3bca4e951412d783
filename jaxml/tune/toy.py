"""Trivial jobs (no JAX) for checking the bookkeeping: they start instantly in a fresh process.

``quadratic_job`` is a stand-in for training: it "trains" for ``num_steps`` steps, reporting a
decreasing score each step, so pruners, retries, kills and parallel workers can be tested in
fractions of a second. Its options fail on purpose (an exception on the first attempt, a NaN
score) so the failure bookkeeping can be checked.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path
from typing import Any

from jaxml import _validation as chk
from jaxml.tune.job import Reporter


def quadratic_job(
    config: dict[str, Any],
    reporter: Reporter,
    *,
    num_steps: int = 4,
    sleep_s: float = 0.0,
    fail_first_attempt_dir: str | None = None,
    nan_if_above: float | None = None,
    hold_dir: str | None = None,
) -> float:
    """Score ``sum_k (x_k - 0.3)^2`` over the float/int params, reached over ``num_steps``.

    Args:
        config: the proposed values (non-numeric ones are ignored).
        reporter: reports ``score * (1 + 1/(s+1))`` at step s and counts one step each.
        num_steps: steps (intermediate reports).
        sleep_s: seconds to sleep per step (to hold a trial RUNNING in kill tests).
        fail_first_attempt_dir: if given, the first attempt of each distinct config raises
            RuntimeError (a marker file under this folder remembers the attempt).
        nan_if_above: return NaN when the score exceeds this (a diverging job).
        hold_dir: if given, after its first report the job checks for ``<hold_dir>/hold``; if
            it exists, the job announces itself with a file ``held-<pid>-<id>`` there and waits
            until ``hold`` is removed or ``release-held-<pid>-<id>`` appears (kill tests use it to
            land a kill inside a trial whatever the machine's load). Waits at most 600 s.
    """
    num_steps = chk.check_int(num_steps, "num_steps", minimum=1)
    chk.check_nonnegative(sleep_s, "sleep_s")
    score = sum((float(v) - 0.3) ** 2 for v in config.values() if isinstance(v, int | float))
    if fail_first_attempt_dir is not None:
        key = "_".join(f"{k}={v!r}" for k, v in sorted(config.items()))
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        marker = Path(fail_first_attempt_dir) / f"attempt-{digest}"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            raise RuntimeError(f"first attempt of {key} fails on purpose")
    for s in range(num_steps):
        if sleep_s:
            time.sleep(sleep_s)
        reporter.add_steps(1)
        reporter.report(score * (1.0 + 1.0 / (s + 1)), s)
        if hold_dir is not None and s == 0:
            _hold(Path(hold_dir))
    if nan_if_above is not None and score > nan_if_above:
        return float("nan")
    return score


def _hold(folder: Path, timeout_s: float = 600.0) -> None:
    """Waits while ``folder/hold`` exists, announcing it with a file ``folder/held-<pid>-<id>``
    (holding the pid), until ``hold`` is removed or ``folder/release-<that file's name>`` exists.
    """
    if not (folder / "hold").exists():
        return
    name = f"held-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = folder / f".{name}.tmp"
    tmp.write_text(str(os.getpid()))
    tmp.replace(folder / name)  # atomic: a reader never sees a half-written file
    deadline = time.monotonic() + timeout_s
    while (folder / "hold").exists() and not (folder / f"release-{name}").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{folder / 'hold'} was not removed within {timeout_s} s")
        time.sleep(0.02)
