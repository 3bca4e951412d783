"""What a run measured about the machine: device, step timing, memory."""

import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import jax


def device_info() -> dict[str, Any]:
    """The JAX backend and devices this process runs on, and library versions."""
    import flax
    import optax

    dev = jax.devices()[0]
    return {
        "backend": jax.default_backend(),
        "device_kind": dev.device_kind,
        "num_devices": jax.device_count(),
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "x64": bool(jax.config.jax_enable_x64),
    }


def max_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def device_peak_bytes() -> int | None:
    """Peak bytes in use on the first device where the backend reports it (GPU/TPU), else None."""
    stats = jax.devices()[0].memory_stats()
    if not stats:
        return None
    return int(stats.get("peak_bytes_in_use", stats.get("bytes_in_use", 0)))


def compiled_memory_bytes(jitted: Callable, *args: Any, **kwargs: Any) -> dict[str, int] | None:
    """XLA's memory analysis of ``jitted(*args)``: argument, output, temp and peak-estimate bytes.

    The estimate (arguments + outputs + temporaries - aliased/donated) is what one call needs on
    the device, independent of what else the process holds. None if the backend gives nothing.
    """
    compiled = jitted.lower(*args, **kwargs).compile()
    m = compiled.memory_analysis()
    if m is None:
        return None
    out = {
        "argument_bytes": int(m.argument_size_in_bytes),
        "output_bytes": int(m.output_size_in_bytes),
        "temp_bytes": int(m.temp_size_in_bytes),
        "alias_bytes": int(m.alias_size_in_bytes),
    }
    out["peak_estimate_bytes"] = (
        out["argument_bytes"] + out["output_bytes"] + out["temp_bytes"] - out["alias_bytes"]
    )
    return out


def time_calls(
    fn: Callable[[Any], Any], carry: Any, *, calls: int, repeats: int = 5, warmup: int = 2
) -> dict[str, float]:
    """Times ``carry = fn(carry)`` chained ``calls`` times; median over ``repeats``.

    ``fn`` must return a new carry of the same structure (e.g. a train step on a fixed batch), so
    that the chain has real data dependence. Compilation happens in the warm-up calls.

    Returns:
        ``{"seconds_per_call", "calls_per_s", "min_seconds_per_call"}``.
    """
    if calls < 1 or repeats < 1:
        raise ValueError(f"calls and repeats must be >= 1, got {calls}, {repeats}")
    for _ in range(warmup):
        carry = fn(carry)
    jax.block_until_ready(carry)
    per_call = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            carry = fn(carry)
        jax.block_until_ready(carry)
        per_call.append((time.perf_counter() - t0) / calls)
    med = statistics.median(per_call)
    return {
        "seconds_per_call": med,
        "calls_per_s": 1.0 / med,
        "min_seconds_per_call": min(per_call),
    }
