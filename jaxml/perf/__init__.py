"""Performance measurement: rooflines (attainable peaks, program FLOPs/bytes, achieved fraction)."""

from jaxml.perf.roofline import (
    MachinePeaks,
    ProgramCost,
    Roofline,
    format_roofline,
    measure_peaks,
    peak_programs,
    peaks_from_times,
    program_cost,
    roofline,
)
from jaxml.perf.timing import interleaved_times, paired_ratio

__all__ = [
    "MachinePeaks",
    "ProgramCost",
    "Roofline",
    "format_roofline",
    "interleaved_times",
    "measure_peaks",
    "paired_ratio",
    "peak_programs",
    "peaks_from_times",
    "program_cost",
    "roofline",
]
