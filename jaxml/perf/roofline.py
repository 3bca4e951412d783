"""Rooflines for jitted programs: the machine's attainable peaks and a program's FLOPs and bytes.

A roofline (Williams, Waterman & Patterson, CACM 2009) bounds a program's time from below by
``max(flops / peak_flops, bytes / peak_bandwidth)``; the larger term names the bound (compute or
memory) and ``floor / measured time`` says how close the program is to the machine.

- :func:`measure_peaks` measures, in this process, the attainable float32 matmul FLOP/s
  (``n x n @ n x n``) and the copy bandwidth (``y = x + 1`` over a buffer larger than the caches:
  one read and one write per element). Both are the fastest of several repeats (attainable = the
  best the machine gave this process); on a shared machine measure them next to the program and
  compare with the program's fastest repeats too.
- :func:`program_cost` counts a program's FLOPs and bytes from XLA's own cost analysis of the
  compiled program. XLA counts a ``while`` body ONCE, whatever the trip count; here every
  ``scan`` body (and every ``while`` body whose trip count is given) is compiled on its own and
  added ``trip_count - 1`` more times, recursively for nested loops:
  ``cost(J) = xla(J) + sum_loops [n_L * cost(body_L) - xla(body_L)]``. (A body compiled alone
  may fuse slightly differently than inside the loop; the difference is a few elementwise ops.)
  Alongside, the dot/convolution FLOPs are counted analytically from the jaxpr (``2 M N K`` per
  matmul, times every enclosing trip count) as an independent check.
- :func:`roofline` combines the two with a measured time.

These are host-side measurement drivers: they call ``jax.jit`` and block on results.

Usage::

    peaks = measure_peaks()
    cost = program_cost(step, state, batch)
    r = roofline(cost, seconds_per_call, peaks)
    print(format_roofline("train step", r))
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.extend as jex
import jax.numpy as jnp

from jaxml._validation import check_callable, check_int, check_positive, check_str

__all__ = [
    "MachinePeaks",
    "peak_programs",
    "peaks_from_times",
    "ProgramCost",
    "Roofline",
    "format_roofline",
    "measure_peaks",
    "program_cost",
    "roofline",
]


class MachinePeaks(NamedTuple):
    """Attainable peaks measured in this process.

    Attributes:
        matmul_flops_per_s: float32 ``n x n`` matmul FLOP/s (``2 n^3`` per product), best repeat.
        copy_bytes_per_s: bytes read + written per second by ``x + 1`` over ``copy_mib`` MiB.
        matmul_n: the matmul size.
        copy_mib: the copy buffer size in MiB.
        backend: ``jax.default_backend()``.
    """

    matmul_flops_per_s: float
    copy_bytes_per_s: float
    matmul_n: int
    copy_mib: int
    backend: str

    @property
    def ridge_intensity(self) -> float:
        """FLOPs per byte at which the compute and memory floors meet."""
        return self.matmul_flops_per_s / self.copy_bytes_per_s


class ProgramCost(NamedTuple):
    """FLOPs and bytes of one call of a compiled program.

    Attributes:
        flops: XLA's FLOP count with loop bodies multiplied by their trip counts.
        bytes_accessed: XLA's bytes accessed, multiplied the same way.
        xla_flops_once: XLA's raw count (every loop body once).
        xla_bytes_once: XLA's raw bytes (every loop body once).
        matmul_flops: analytic dot_general + convolution FLOPs from the jaxpr (trip counts
            applied): an independent check of ``flops``, which also counts elementwise work.
        loops: ``(primitive, trip_count)`` of every loop found (nested ones included).
        uncounted_loops: ``while`` loops with an unknown trip count, counted once.
        method: how the counts were obtained (text).
    """

    flops: float
    bytes_accessed: float
    xla_flops_once: float
    xla_bytes_once: float
    matmul_flops: float
    loops: tuple[tuple[str, int], ...]
    uncounted_loops: int
    method: str


class Roofline(NamedTuple):
    """A program's place under the machine's roofline.

    Attributes:
        seconds: measured time per call.
        achieved_flops_per_s: ``flops / seconds``.
        achieved_bytes_per_s: ``bytes_accessed / seconds``.
        flop_fraction: achieved FLOP/s over the matmul peak.
        bandwidth_fraction: achieved bytes/s over the copy bandwidth.
        intensity: ``flops / bytes_accessed`` (FLOP per byte).
        bound: ``"compute"`` if ``intensity`` is above the ridge point, else ``"memory"``;
            ``"compute (cache-resident)"`` when the program moved its bytes faster than the
            copy bandwidth (its working set lives in the caches, so the DRAM floor does not
            apply and the compute floor is the one left).
        floor_seconds: ``max(flops / peak_flops, bytes / bandwidth)`` (the compute floor alone
            when cache-resident).
        fraction_of_roofline: ``floor_seconds / seconds`` (1 = at the machine's limit).
    """

    seconds: float
    achieved_flops_per_s: float
    achieved_bytes_per_s: float
    flop_fraction: float
    bandwidth_fraction: float
    intensity: float
    bound: str
    floor_seconds: float
    fraction_of_roofline: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self._asdict())


def _best_seconds(fn: Callable[[], Any], repeats: int) -> float:
    jax.block_until_ready(fn())  # compile + warm
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return min(times)


def measure_peaks(matmul_n: int = 2048, copy_mib: int = 256, repeats: int = 5) -> MachinePeaks:
    """Measures the attainable float32 matmul FLOP/s and copy bandwidth on the default device.

    Args:
        matmul_n: side of the square matmul (2048: large enough for any BLAS to reach its peak).
        copy_mib: MiB of float32 read (and as many written) by the copy kernel; keep it well
            above the last-level cache.
        repeats: timed repetitions; the fastest is kept.

    Returns:
        :class:`MachinePeaks`.
    """
    matmul_n = check_int(matmul_n, "matmul_n", minimum=8)
    copy_mib = check_int(copy_mib, "copy_mib", minimum=1)
    repeats = check_int(repeats, "repeats", minimum=1)
    a = jax.random.normal(jax.random.key(0), (matmul_n, matmul_n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (matmul_n, matmul_n), jnp.float32)
    mm = jax.jit(jnp.matmul)
    t_mm = _best_seconds(lambda: mm(a, b), repeats)
    x = jnp.zeros((copy_mib * 2**18,), jnp.float32)
    cp = jax.jit(lambda v: v + 1.0)
    t_cp = _best_seconds(lambda: cp(x), repeats)
    return MachinePeaks(
        matmul_flops_per_s=2.0 * matmul_n**3 / t_mm,
        copy_bytes_per_s=2.0 * x.nbytes / t_cp,
        matmul_n=matmul_n,
        copy_mib=copy_mib,
        backend=jax.default_backend(),
    )


def peak_programs(matmul_n: int = 2048, copy_mib: int = 256) -> dict[str, tuple[Callable, Any]]:
    """The two peak kernels of :func:`measure_peaks` as ``carry -> carry`` programs for
    :func:`jaxml.perf.interleaved_times`, so the peaks are timed in the same rounds as the
    programs they judge (on a shared machine each round then carries the same load).

    Returns:
        ``{"peak_matmul": (fn, carry), "peak_copy": (fn, carry)}``; the matmul multiplies by an
        orthogonal matrix, so chained calls keep the values bounded.
    """
    matmul_n = check_int(matmul_n, "matmul_n", minimum=8)
    copy_mib = check_int(copy_mib, "copy_mib", minimum=1)
    q = jnp.linalg.qr(jax.random.normal(jax.random.key(0), (matmul_n, matmul_n), jnp.float32))[0]
    b = jax.random.normal(jax.random.key(1), (matmul_n, matmul_n), jnp.float32)
    mm = jax.jit(lambda c: (c[0], c[0] @ c[1]))
    cp = jax.jit(lambda v: v + 1.0)
    return {
        "peak_matmul": (mm, (q, b)),
        "peak_copy": (cp, jnp.zeros((copy_mib * 2**18,), jnp.float32)),
    }


def peaks_from_times(
    times: dict[str, dict[str, Any]], matmul_n: int = 2048, copy_mib: int = 256
) -> MachinePeaks:
    """:class:`MachinePeaks` from the fastest rounds of :func:`peak_programs` in ``times``.

    Raises:
        ValueError: ``times`` lacks the ``peak_matmul`` / ``peak_copy`` programs.
    """
    if not isinstance(times, dict) or not {"peak_matmul", "peak_copy"} <= set(times):
        raise ValueError(
            "times must come from interleaved_times over programs that include peak_programs() "
            "(keys 'peak_matmul' and 'peak_copy')"
        )
    matmul_n = check_int(matmul_n, "matmul_n", minimum=8)
    copy_mib = check_int(copy_mib, "copy_mib", minimum=1)
    mm = times["peak_matmul"]["min_seconds_per_call"]
    cp = times["peak_copy"]["min_seconds_per_call"]
    return MachinePeaks(
        matmul_flops_per_s=2.0 * matmul_n**3 / mm,
        copy_bytes_per_s=2.0 * 4 * copy_mib * 2**18 / cp,
        matmul_n=matmul_n,
        copy_mib=copy_mib,
        backend=jax.default_backend(),
    )


def _xla_cost(compiled) -> tuple[float, float]:
    cost = compiled.cost_analysis()
    if isinstance(cost, (list, tuple)):  # older jax: one dict per partition
        cost = cost[0] if cost else {}
    cost = cost or {}
    return float(cost.get("flops", 0.0)), float(cost.get("bytes accessed", 0.0))


_BODY_COSTS: dict[str, tuple[float, float]] = {}


def _closed_cost(closed) -> tuple[float, float]:
    # The cost depends on the body's ops and shapes only (its printed jaxpr): a body that occurs
    # again (the same loop in several programs, or a program costed twice) is compiled once.
    key = str(closed.jaxpr)
    if key not in _BODY_COSTS:
        avals = [jax.ShapeDtypeStruct(v.aval.shape, v.aval.dtype) for v in closed.jaxpr.invars]
        fn = jex.core.jaxpr_as_fun(closed)
        _BODY_COSTS[key] = _xla_cost(jax.jit(fn).lower(*avals).compile())
    return _BODY_COSTS[key]


def _as_closed(j):
    if isinstance(j, jex.core.ClosedJaxpr):
        return j
    return jex.core.ClosedJaxpr(j, [])


def _sub_jaxprs(eqn):
    for value in eqn.params.values():
        items = value if isinstance(value, (tuple, list)) else (value,)
        for item in items:
            if isinstance(item, (jex.core.Jaxpr, jex.core.ClosedJaxpr)):
                yield _as_closed(item)


def _loops(jaxpr, while_trip_count):
    """``(primitive, body, trip)`` for loops directly in ``jaxpr`` (through non-loop calls)."""
    out = []
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "scan":
            out.append(("scan", _as_closed(eqn.params["jaxpr"]), int(eqn.params["length"])))
        elif name == "while":
            out.append(("while", _as_closed(eqn.params["body_jaxpr"]), while_trip_count))
        else:
            for sub in _sub_jaxprs(eqn):
                out.extend(_loops(sub.jaxpr, while_trip_count))
    return out


def _analytic_matmul_flops(jaxpr, while_trip_count) -> float:
    total = 0.0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "dot_general":
            (lc, _), _ = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            out = eqn.outvars[0].aval.shape
            total += 2.0 * math.prod(out) * math.prod(lhs[d] for d in lc)
        elif name == "conv_general_dilated":
            rhs = eqn.invars[1].aval.shape
            out = eqn.outvars[0].aval.shape
            spec = eqn.params["dimension_numbers"].rhs_spec
            total += 2.0 * math.prod(out) * math.prod(rhs) / rhs[spec[0]]
        else:
            mult = 1
            if name == "scan":
                mult = int(eqn.params["length"])
            elif name == "while":
                mult = while_trip_count or 1
            subs = list(_sub_jaxprs(eqn))
            if name == "while":
                subs = [_as_closed(eqn.params["body_jaxpr"])]
            if name == "cond":
                total += max(
                    (_analytic_matmul_flops(s.jaxpr, while_trip_count) for s in subs), default=0
                )
                continue
            total += mult * sum(_analytic_matmul_flops(s.jaxpr, while_trip_count) for s in subs)
    return total


def _corrected(closed, entry_cost, while_trip_count, found):
    flops, nbytes = entry_cost
    for prim, body, trip in _loops(closed.jaxpr, while_trip_count):
        found.append((prim, trip if trip is not None else 0))
        if trip is None or trip <= 1:
            continue
        once = _closed_cost(body)
        inner = _corrected(body, once, while_trip_count, found)
        flops += trip * inner[0] - once[0]
        nbytes += trip * inner[1] - once[1]
    return flops, nbytes


def program_cost(
    fn: Callable, *args: Any, while_trip_count: int | None = None, **kwargs: Any
) -> ProgramCost:
    """FLOPs and bytes of one call ``fn(*args, **kwargs)``, loop bodies times their trip counts.

    Args:
        fn: the function (jitted or not; it is traced and compiled here, not run).
        *args: example arguments (arrays or ``jax.ShapeDtypeStruct``).
        while_trip_count: the trip count to assume for every ``lax.while_loop`` (e.g. a fixed
            number of solver iterations); None counts their bodies once and reports them in
            ``uncounted_loops``. ``scan`` (and ``fori_loop`` with static bounds) trip counts are
            read from the program.
        **kwargs: forwarded to ``fn``.

    Returns:
        :class:`ProgramCost`.
    """
    check_callable(fn, "fn")
    if while_trip_count is not None:
        while_trip_count = check_int(while_trip_count, "while_trip_count", minimum=1)
    jitted = fn if hasattr(fn, "lower") else jax.jit(fn)
    compiled = jitted.lower(*args, **kwargs).compile()
    once = _xla_cost(compiled)
    closed = jax.make_jaxpr(fn)(*args, **kwargs)
    found: list[tuple[str, int]] = []
    flops, nbytes = _corrected(closed, once, while_trip_count, found)
    uncounted = sum(1 for prim, trip in found if prim == "while" and trip == 0)
    return ProgramCost(
        flops=flops,
        bytes_accessed=nbytes,
        xla_flops_once=once[0],
        xla_bytes_once=once[1],
        matmul_flops=_analytic_matmul_flops(closed.jaxpr, while_trip_count),
        loops=tuple(found),
        uncounted_loops=uncounted,
        method="XLA cost analysis, loop bodies compiled alone and multiplied by trip counts",
    )


def roofline(cost: ProgramCost, seconds: float, peaks: MachinePeaks) -> Roofline:
    """Places a program with ``cost`` that took ``seconds`` per call under ``peaks``.

    Raises:
        TypeError: ``cost`` or ``peaks`` of the wrong type.
        ValueError: ``seconds`` not positive.
    """
    if not isinstance(cost, ProgramCost):
        raise TypeError(
            f"cost must be a ProgramCost (from program_cost); got {type(cost).__name__}"
        )
    if not isinstance(peaks, MachinePeaks):
        raise TypeError(
            f"peaks must be a MachinePeaks (from measure_peaks); got {type(peaks).__name__}"
        )
    seconds = float(check_positive(seconds, "seconds"))
    t_flop = cost.flops / peaks.matmul_flops_per_s
    t_mem = cost.bytes_accessed / peaks.copy_bytes_per_s
    intensity = cost.flops / cost.bytes_accessed if cost.bytes_accessed > 0 else math.inf
    floor = max(t_flop, t_mem)
    bound = "compute" if t_flop >= t_mem else "memory"
    if t_mem > seconds:  # faster than DRAM allows: the bytes came from the caches
        floor, bound = t_flop, "compute (cache-resident)"
    return Roofline(
        seconds=seconds,
        achieved_flops_per_s=cost.flops / seconds,
        achieved_bytes_per_s=cost.bytes_accessed / seconds,
        flop_fraction=cost.flops / seconds / peaks.matmul_flops_per_s,
        bandwidth_fraction=cost.bytes_accessed / seconds / peaks.copy_bytes_per_s,
        intensity=intensity,
        bound=bound,
        floor_seconds=floor,
        fraction_of_roofline=floor / seconds,
    )


def format_roofline(name: str, r: Roofline) -> str:
    """One line: time, GFLOP/s and GB/s with their fractions of peak, the bound and the floor."""
    check_str(name, "name")
    if not isinstance(r, Roofline):
        raise TypeError(f"r must be a Roofline (from roofline); got {type(r).__name__}")
    return (
        f"{name}: {1e3 * r.seconds:.2f} ms, {r.achieved_flops_per_s / 1e9:.2f} GFLOP/s "
        f"({100 * r.flop_fraction:.1f}% of matmul peak), {r.achieved_bytes_per_s / 1e9:.2f} GB/s "
        f"({100 * r.bandwidth_fraction:.1f}% of copy bw), {r.intensity:.2f} FLOP/B -> "
        f"{r.bound}-bound, floor {1e3 * r.floor_seconds:.2f} ms "
        f"({100 * r.fraction_of_roofline:.1f}% of roofline)"
    )
