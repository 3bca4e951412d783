"""Interleaved timing: several programs timed in turn, repeat after repeat, in one process.

On a shared machine the load drifts between measurements; timing every candidate once per
repeat (A, B, C, A, B, C, ...) exposes all of them to the same drift, and the median over repeats
of per-repeat ratios is a robust comparison. Host-side driver: it runs and blocks on the programs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import jax

from jaxml._validation import check_int

__all__ = ["interleaved_times", "paired_ratio"]


def interleaved_times(
    programs: dict[str, tuple[Callable[[Any], Any], Any]],
    *,
    calls: int = 3,
    repeats: int = 5,
    warmup: int = 1,
    external: dict[str, Callable[[], float]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Times ``carry = fn(carry)`` chained ``calls`` times for every program, interleaved.

    Args:
        programs: ``name -> (fn, carry)``; ``fn`` returns a carry of the same structure (so that
            calls chain with real data dependence; donate it if you like).
        calls: chained calls per timed repeat.
        repeats: rounds; each round times every program once, in the given order.
        warmup: untimed chained calls per program before the first round (compilation).
        external: ``name -> round()``: programs that time themselves (e.g. a round of a
            reference run in another process, driven through a pipe); ``round()`` returns the
            seconds per call of one round and is called once per round after the programs, so
            it sees the same load drift (called before the programs of each round). Not
            warmed up here.

    Returns:
        ``name -> {"seconds_per_call": median, "min_seconds_per_call": min, "per_repeat": [...]}``.

    Raises:
        TypeError/ValueError: bad counts or a program that is not ``(callable, carry)``.
    """
    calls = check_int(calls, "calls", minimum=1)
    repeats = check_int(repeats, "repeats", minimum=1)
    warmup = check_int(warmup, "warmup", minimum=0)
    if not isinstance(programs, dict) or not programs:
        raise TypeError("programs must be a non-empty dict name -> (fn, carry)")
    carries = {}
    for name, entry in programs.items():
        if not (isinstance(entry, tuple) and len(entry) == 2 and callable(entry[0])):
            raise TypeError(f"programs[{name!r}] must be a (fn, carry) tuple")
        fn, carry = entry
        for _ in range(warmup):
            carry = fn(carry)
        carries[name] = jax.block_until_ready(carry)
    external = dict(external or {})
    for name, fn in external.items():
        if name in programs or not callable(fn):
            raise TypeError(f"external[{name!r}] must be a callable not named like a program")
    per = {name: [] for name in [*programs, *external]}
    for _ in range(repeats):
        for name, fn in external.items():
            per[name].append(float(fn()))
        for name, (fn, _) in programs.items():
            carry = carries[name]
            t0 = time.perf_counter()
            for _ in range(calls):
                carry = fn(carry)
            carries[name] = jax.block_until_ready(carry)
            per[name].append((time.perf_counter() - t0) / calls)
    return {
        name: {
            "seconds_per_call": statistics.median(ts),
            "min_seconds_per_call": min(ts),
            "per_repeat": ts,
        }
        for name, ts in per.items()
    }


def paired_ratio(times: dict[str, dict[str, Any]], num: str, den: str) -> float:
    """Median over repeats of ``num``'s time over ``den``'s time in the same round.

    Raises:
        TypeError: ``times`` is not the dict :func:`interleaved_times` returns.
        ValueError: ``num`` or ``den`` is not one of its programs.
    """
    if not isinstance(times, dict) or not all(
        isinstance(v, dict) and "per_repeat" in v for v in times.values()
    ):
        raise TypeError("times must be the dict interleaved_times returns")
    for arg, name in (("num", num), ("den", den)):
        if name not in times:
            raise ValueError(f"{arg} must be one of the timed programs {sorted(times)}: {name!r}")
    a, b = times[num]["per_repeat"], times[den]["per_repeat"]
    return statistics.median(x / y for x, y in zip(a, b, strict=True))
