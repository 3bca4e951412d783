"""jaxml.perf: trip-count-corrected program costs, roofline arithmetic, interleaved timing."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.perf import (
    MachinePeaks,
    ProgramCost,
    format_roofline,
    interleaved_times,
    measure_peaks,
    paired_ratio,
    program_cost,
    roofline,
)

N = 32


def _nested(x):
    def outer(c, _):
        def inner(d, _):
            return jnp.tanh(d @ d), None

        return jax.lax.scan(inner, c, None, length=3)[0], None

    return jax.lax.scan(outer, x, None, length=4)[0]


def test_scan_bodies_are_multiplied_by_their_trip_counts():
    x = jnp.ones((N, N)) * 0.01
    cost = program_cost(_nested, x)
    matmuls = 2.0 * N**3 * 12  # 4 x 3 products
    assert cost.loops == (("scan", 4), ("scan", 3))
    assert cost.matmul_flops == matmuls
    # XLA alone counts each body once: one matmul (+ the tanh).
    assert cost.xla_flops_once < 1.2 * 2.0 * N**3
    # Corrected: the 12 matmuls plus 12 tanh of N^2 (XLA counts a few flops per element).
    assert matmuls <= cost.flops <= matmuls + 12 * 40 * N * N
    # Bytes: each of the 12 bodies reads and writes at least one N x N float32 matrix.
    assert cost.bytes_accessed >= 12 * 2 * 4 * N * N


def test_while_loops_use_the_given_trip_count_or_are_reported():
    x = jnp.ones((N, N)) * 0.01

    def f(x, n):
        return jax.lax.while_loop(lambda c: c[1] < n, lambda c: (c[0] @ c[0], c[1] + 1), (x, 0))[0]

    n = jnp.int32(5)
    unknown = program_cost(f, x, n)
    assert unknown.uncounted_loops == 1 and unknown.loops == (("while", 0),)
    known = program_cost(f, x, n, while_trip_count=5)
    assert known.uncounted_loops == 0
    np.testing.assert_allclose(known.matmul_flops, 5 * 2.0 * N**3)
    np.testing.assert_allclose(known.flops, 5 * 2.0 * N**3, rtol=0.05)


def test_roofline_arithmetic_on_crafted_numbers():
    peaks = MachinePeaks(100e9, 10e9, 2048, 256, "cpu")
    assert peaks.ridge_intensity == 10.0
    cost = ProgramCost(50e9, 1e9, 0.0, 0.0, 50e9, (), 0, "crafted")
    r = roofline(cost, 1.0, peaks)  # compute floor 0.5 s, memory floor 0.1 s
    assert r.bound == "compute" and r.intensity == 50.0
    np.testing.assert_allclose([r.floor_seconds, r.fraction_of_roofline], [0.5, 0.5])
    np.testing.assert_allclose([r.flop_fraction, r.bandwidth_fraction], [0.5, 0.1])
    mem = roofline(cost._replace(flops=1e9, bytes_accessed=5e9), 1.0, peaks)
    assert mem.bound == "memory" and mem.floor_seconds == 0.5
    # Bytes moved faster than DRAM: cache-resident, judged by the compute floor alone.
    cached = roofline(cost._replace(flops=1e9, bytes_accessed=50e9), 1.0, peaks)
    assert cached.bound == "compute (cache-resident)" and cached.floor_seconds == 0.01
    assert "compute-bound" in format_roofline("x", r)
    with pytest.raises(ValueError, match="seconds"):
        roofline(cost, 0.0, peaks)
    with pytest.raises(TypeError, match="cost"):
        roofline({"flops": 1}, 1.0, peaks)
    with pytest.raises(TypeError, match="peaks"):
        roofline(cost, 1.0, (1, 2))


def test_measured_peaks_and_interleaved_times():
    peaks = measure_peaks(matmul_n=64, copy_mib=1, repeats=2)
    assert peaks.matmul_flops_per_s > 1e6 and peaks.copy_bytes_per_s > 1e6
    step = jax.jit(lambda x: x @ x * 0.5)
    x = jnp.eye(16)
    times = interleaved_times({"a": (step, x), "b": (step, x)}, calls=2, repeats=3)
    assert set(times) == {"a", "b"} and len(times["a"]["per_repeat"]) == 3
    assert times["a"]["min_seconds_per_call"] <= times["a"]["seconds_per_call"]
    assert paired_ratio(times, "a", "a") == 1.0
    # external programs (e.g. a reference in another process) are timed once per round
    rounds = []
    ext = interleaved_times(
        {"a": (step, x)}, calls=1, repeats=3, external={"ref": lambda: rounds.append(1) or 0.25}
    )
    assert ext["ref"]["per_repeat"] == [0.25] * 3 and len(rounds) == 3
    with pytest.raises(TypeError, match="external"):
        interleaved_times({"a": (step, x)}, external={"a": lambda: 1.0})
    with pytest.raises(TypeError, match="programs"):
        interleaved_times({"a": step})
    with pytest.raises(ValueError, match="repeats"):
        interleaved_times({"a": (step, x)}, repeats=0)
    with pytest.raises(ValueError, match="matmul_n"):
        measure_peaks(matmul_n=2)
    with pytest.raises(TypeError, match="fn"):
        program_cost(3, x)
