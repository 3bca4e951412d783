"""Throughput and latency of a jitted model outside LoadGen: the reference for SUT overhead."""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import numpy as np

from jaxml import _validation as v

__all__ = ["measure_raw"]


def measure_raw(
    fn: Callable,
    params,
    x,
    *,
    batch_size: int,
    calls: int = 50,
    repeats: int = 3,
    pipelined: bool = False,
) -> dict[str, float]:
    """Times ``fn(params, batch)`` on host batches of ``batch_size`` rows of ``x``, synchronously.

    Each call is what the SUT does per batch minus LoadGen: host batch in, ``block_until_ready``,
    outputs copied to host. ``fn`` should be the SUT's own jitted function (already compiled for
    ``batch_size``); one untimed call warms it.

    Args:
        fn: a jitted ``fn(params, x[b, ...])``.
        params: its parameters.
        x: ``[n, ...]`` host samples (cycled to fill the batches).
        batch_size: rows per call.
        calls: timed calls per repeat.
        repeats: repeats; the best repeat's throughput is reported.
        pipelined: dispatch call ``c + 1`` before waiting for call ``c`` and copying its
            outputs (two calls in flight, as the SUT runs Offline): the best throughput a host
            loop gets from asynchronous dispatch. The latencies are then per-iteration times.

    Returns:
        ``{"batch_size", "samples_per_s" (best repeat), "seconds_per_batch",
        "mean_samples_per_s" (every timed sample over the total time: the statistic LoadGen's
        Offline metric is), "latency_p50_s", "latency_p90_s", "latency_p99_s"}`` (per-call
        latency percentiles over every timed call).
    """
    v.check_callable(fn, "fn")
    shape = v.check_array(x, "x", min_ndim=1, min_size=1)
    batch_size = v.check_int(batch_size, "batch_size", minimum=1)
    calls = v.check_int(calls, "calls", minimum=1)
    repeats = v.check_int(repeats, "repeats", minimum=1)
    if not isinstance(pipelined, bool):
        raise TypeError(f"pipelined must be a bool; got {type(pipelined).__name__}")
    x = np.asarray(x)
    batches = [
        np.ascontiguousarray(x[np.arange(i, i + batch_size) % shape[0]])
        for i in range(0, 4 * batch_size, batch_size)
    ]
    np.asarray(jax.block_until_ready(fn(params, batches[0])))
    lat, best, total = [], np.inf, 0.0
    for _ in range(repeats):
        t_start = time.perf_counter()
        prev = None
        for c in range(calls):
            t0 = time.perf_counter()
            if pipelined:
                nxt = fn(params, batches[c % len(batches)])
                if prev is not None:
                    np.asarray(jax.block_until_ready(prev))
                prev = nxt
            else:
                np.asarray(jax.block_until_ready(fn(params, batches[c % len(batches)])))
            lat.append(time.perf_counter() - t0)
        if prev is not None:
            np.asarray(jax.block_until_ready(prev))
        dt = time.perf_counter() - t_start  # one reading: the best repeat is never above the mean
        total += dt
        best = min(best, dt / calls)
    lat = np.asarray(lat)
    return {
        "batch_size": batch_size,
        "samples_per_s": batch_size / best,
        "seconds_per_batch": float(best),
        "mean_samples_per_s": batch_size * calls * repeats / total,
        "latency_p50_s": float(np.percentile(lat, 50)),
        "latency_p90_s": float(np.percentile(lat, 90)),
        "latency_p99_s": float(np.percentile(lat, 99)),
    }
