"""Bad calls to jaxml.perf (see tests/bad_inputs/audit.py)."""

import jax.numpy as jnp

from jaxml import perf
from jaxml.testing import bad_calls

F = "jaxml.perf."
_cost = perf.ProgramCost(1e9, 1e8, 0.0, 0.0, 1e9, (), 0, "crafted")
_peaks = perf.MachinePeaks(1e10, 1e9, 2048, 256, "cpu")
_r = perf.roofline(_cost, 1.0, _peaks)
_times = {"a": {"per_repeat": [1.0]}, "b": {"per_repeat": [2.0]}}
_step = (lambda c: c, jnp.ones(2))


def _cases(name, arg, items):
    return bad_calls(F + name, arg, items)


CASES = [
    *_cases("measure_peaks", "matmul_n", [("2.0", lambda: perf.measure_peaks(matmul_n=2.0))]),
    *_cases("measure_peaks", "copy_mib", [("0", lambda: perf.measure_peaks(copy_mib=0))]),
    *_cases("measure_peaks", "repeats", [("0", lambda: perf.measure_peaks(repeats=0))]),
    *_cases("peak_programs", "matmul_n", [("4", lambda: perf.peak_programs(matmul_n=4))]),
    *_cases("peak_programs", "copy_mib", [("'1'", lambda: perf.peak_programs(copy_mib="1"))]),
    *_cases("peaks_from_times", "times", [("no peaks", lambda: perf.peaks_from_times(_times))]),
    *_cases("program_cost", "fn", [("not callable", lambda: perf.program_cost(3, jnp.ones(2)))]),
    *_cases(
        "program_cost",
        "while_trip_count",
        [("0", lambda: perf.program_cost(jnp.sin, jnp.ones(2), while_trip_count=0))],
    ),
    *_cases("roofline", "cost", [("a dict", lambda: perf.roofline({"flops": 1}, 1.0, _peaks))]),
    *_cases("roofline", "seconds", [("0", lambda: perf.roofline(_cost, 0.0, _peaks))]),
    *_cases("roofline", "seconds", [("'1'", lambda: perf.roofline(_cost, "1", _peaks))]),
    *_cases("roofline", "peaks", [("a tuple", lambda: perf.roofline(_cost, 1.0, (1, 2)))]),
    *_cases("format_roofline", "name", [("3", lambda: perf.format_roofline(3, _r))]),
    *_cases("format_roofline", "r", [("a dict", lambda: perf.format_roofline("x", {}))]),
    *_cases("interleaved_times", "programs", [("{}", lambda: perf.interleaved_times({}))]),
    *_cases(
        "interleaved_times",
        "programs",
        [("a bare fn", lambda: perf.interleaved_times({"a": _step[0]}))],
    ),
    *_cases(
        "interleaved_times", "calls", [("0", lambda: perf.interleaved_times({"a": _step}, calls=0))]
    ),
    *_cases(
        "interleaved_times",
        "repeats",
        [("-1", lambda: perf.interleaved_times({"a": _step}, repeats=-1))],
    ),
    *_cases(
        "interleaved_times",
        "warmup",
        [("1.5", lambda: perf.interleaved_times({"a": _step}, warmup=1.5))],
    ),
    *_cases("paired_ratio", "times", [("a list", lambda: perf.paired_ratio([1], "a", "b"))]),
    *_cases("paired_ratio", "num", [("unknown", lambda: perf.paired_ratio(_times, "c", "b"))]),
    *_cases("paired_ratio", "den", [("unknown", lambda: perf.paired_ratio(_times, "a", "z"))]),
]

EXEMPT = {
    F + "MachinePeaks": "a NamedTuple of measured numbers; roofline checks its type",
    F + "ProgramCost": "a NamedTuple of counts; roofline checks its type",
    F + "Roofline": "a NamedTuple of results; format_roofline checks its type",
}
