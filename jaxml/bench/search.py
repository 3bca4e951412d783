"""Server scenario: the highest target QPS that LoadGen still calls VALID under a latency bound."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from jaxml import _validation as v

__all__ = ["find_peak_server_qps"]


def find_peak_server_qps(
    run_at: Callable[[float], Any],
    *,
    low_qps: float,
    high_qps: float,
    iterations: int = 4,
    max_growth: int = 3,
) -> dict[str, Any]:
    """Bisects (in log QPS) for the highest ``server_target_qps`` whose run LoadGen marks VALID.

    Every probe is a full LoadGen Server run: ``run_at(qps)`` must return a
    :class:`jaxml.bench.TestResult` (validity, p99, achieved QPS all come from LoadGen's logs).

    Args:
        run_at: ``run_at(target_qps) -> TestResult``.
        low_qps: a rate expected to be VALID (> 0).
        high_qps: a rate expected to be INVALID (> ``low_qps``); while it is VALID the bracket
            moves up (``high_qps *= 4``, at most ``max_growth`` times).
        iterations: bisection steps after the bracket is found.
        max_growth: how many times the bracket may move up.

    Returns:
        ``{"peak_qps" (None if ``low_qps`` is INVALID), "lower_bound_only" (True when even the
        last grown ``high_qps`` was VALID), "curve": [{"target_qps", "valid", "p99_ns",
        "achieved_qps", "invalid_reasons"}, ...] in probe order}``.
    """
    v.check_callable(run_at, "run_at")
    v.check_scalar(low_qps, "low_qps", minimum=0.0, min_open=True)
    v.check_scalar(high_qps, "high_qps", minimum=0.0, min_open=True)
    if not high_qps > low_qps:
        raise ValueError(f"high_qps must be > low_qps; got {high_qps} <= {low_qps}")
    iterations = v.check_int(iterations, "iterations", minimum=0)
    max_growth = v.check_int(max_growth, "max_growth", minimum=0)
    curve = []

    def probe(qps: float) -> bool:
        r = run_at(float(qps))
        curve.append(
            {
                "target_qps": float(qps),
                "valid": bool(r.result_valid),
                "p99_ns": r.latency_ns.get("99.00"),
                "achieved_qps": r.extras.get("result_completed_samples_per_sec"),
                "invalid_reasons": list(r.invalid_reasons),
            }
        )
        return r.result_valid

    lo, hi = float(low_qps), float(high_qps)
    grown = 0
    while probe(hi):
        if grown == max_growth:
            return {"peak_qps": hi, "lower_bound_only": True, "curve": curve}
        lo, hi, grown = hi, 4.0 * hi, grown + 1
    if grown == 0 and not probe(lo):
        return {"peak_qps": None, "lower_bound_only": False, "curve": curve}
    for _ in range(iterations):
        mid = math.sqrt(lo * hi)
        if probe(mid):
            lo = mid
        else:
            hi = mid
    return {"peak_qps": lo, "lower_bound_only": False, "curve": curve}
