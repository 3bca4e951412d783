"""Paired, interleaved step timing and an order-statistic confidence interval for a time ratio.

Timing two step functions on a shared, noisy machine (other jobs, frequency changes) is made
robust in two ways: (1) :func:`time_interleaved` runs the methods one after the other inside every
repeat, so a burst of load hits neighbouring measurements of both methods alike, and each repeat
gives one *paired* ratio; (2) :func:`ratio_interval` summarizes the ``n`` paired ratios by their
median with a distribution-free confidence interval from order statistics: for the sorted ratios
``r_(1) <= ... <= r_(n)``, ``[r_(j), r_(n+1-j)]`` covers the true median ratio with probability
``1 - 2 P(Binomial(n, 1/2) < j)`` whatever the noise distribution (only independence of the
repeats is assumed). The largest ``j`` whose coverage is at least ``confidence`` is used; with
``n = 9`` and 95 % that is ``[r_(2), r_(8)]`` (coverage 96.1 %); ``n >= 6`` is needed for 95 %.
A claim "ratio <= goal" is then supported only if the whole interval is at or below the goal.
"""

import math
import statistics
import time
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxml import _validation as v

__all__ = ["RatioInterval", "ratio_interval", "time_interleaved"]


class RatioInterval(NamedTuple):
    """The median of paired ratios and its order-statistic confidence interval.

    Attributes:
        median: median of the ``n`` paired ratios.
        low, high: the interval ``[r_(j), r_(n+1-j)]``.
        coverage: its exact coverage probability for the median (>= the requested confidence).
        n: the number of pairs.
    """

    median: float
    low: float
    high: float
    coverage: float
    n: int


def ratio_interval(numerator: Any, denominator: Any, *, confidence: float = 0.95) -> RatioInterval:
    """Median of ``numerator[i] / denominator[i]`` with a distribution-free confidence interval.

    Args:
        numerator: ``[n]`` positive times (e.g. DC-S3GD's per-repeat step times).
        denominator: ``[n]`` positive times paired with them (sync's, measured just before).
        confidence: the least coverage wanted, in ``(0, 1)``.

    Returns:
        A :class:`RatioInterval`.

    Raises:
        ValueError: unequal lengths, non-positive or non-finite times, ``confidence`` outside
            ``(0, 1)``, or too few pairs to reach ``confidence`` (e.g. fewer than 6 for 95 %).
    """
    v.check_array(numerator, "numerator", ndim=1, min_size=1)
    v.check_array(denominator, "denominator", ndim=1, min_size=1)
    num, den = np.asarray(numerator), np.asarray(denominator)
    v.check_same_size({"numerator": num.size, "denominator": den.size})
    for name, a in (("numerator", num), ("denominator", den)):
        if not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError(f"{name} must hold finite times > 0; got {a.tolist()}")
    v.check_scalar(confidence, "confidence", minimum=0.0, maximum=1.0, min_open=True, max_open=True)
    ratios = np.sort(num.astype(float) / den.astype(float))
    n = ratios.size

    def coverage(j: int) -> float:  # P(r_(j) <= median <= r_(n+1-j)) = 1 - 2 P(B < j)
        return 1.0 - 2.0 * sum(math.comb(n, i) for i in range(j)) / 2.0**n

    j = max((j for j in range(1, (n + 1) // 2 + 1) if coverage(j) >= confidence), default=None)
    if j is None:
        raise ValueError(
            f"numerator has {n} pairs: too few for a {confidence:.0%} interval from order "
            f"statistics (the widest, [min, max], covers {coverage(1):.1%}); time more repeats"
        )
    return RatioInterval(
        float(np.median(ratios)), float(ratios[j - 1]), float(ratios[n - j]), coverage(j), n
    )


def time_interleaved(
    steps: dict[str, tuple], *, calls: int, repeats: int, warmup: int = 2
) -> dict[str, dict[str, Any]]:
    """Times each ``step(state, *args) -> (state, out)`` chained ``calls`` times, interleaved.

    In every one of ``repeats`` rounds each method runs ``calls`` chained steps, the methods one
    right after the other, so load drift on a shared machine hits both alike; the per-round
    times of two methods are paired samples (:func:`ratio_interval`).

    Args:
        steps: ``{name: (step_fn, state, *args)}``; ``step_fn`` returns ``(state, anything)``.
        calls: chained steps per round (>= 1).
        repeats: rounds (>= 1).
        warmup: untimed calls first (compilation).

    Returns:
        ``{name: {"median_s", "min_s", "samples_s" [repeats]}}``: seconds per step.
    """
    if not isinstance(steps, dict) or not steps:
        raise TypeError(
            f"steps must be a non-empty dict of name -> (step_fn, state, ...); got {steps!r}"
        )
    for name, entry in steps.items():
        if not isinstance(entry, tuple) or len(entry) < 2:
            raise TypeError(f"steps[{name!r}] must be a tuple (step_fn, state, *args)")
        v.check_callable(entry[0], f"steps[{name!r}] step_fn")
    calls = v.check_int(calls, "calls", minimum=1)
    repeats = v.check_int(repeats, "repeats", minimum=1)
    warmup = v.check_int(warmup, "warmup", minimum=0)
    states = {}
    for name, (fn, state, *args) in steps.items():
        for _ in range(warmup):
            state, _ = fn(state, *args)
        jax.block_until_ready(state)
        states[name] = state
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, (fn, _, *args) in steps.items():
            state = states[name]
            t0 = time.perf_counter()
            for _ in range(calls):
                state, _ = fn(state, *args)
            jax.block_until_ready(state)
            samples[name].append((time.perf_counter() - t0) / calls)
            states[name] = state
    return {
        name: {"median_s": statistics.median(s), "min_s": min(s), "samples_s": s}
        for name, s in samples.items()
    }
