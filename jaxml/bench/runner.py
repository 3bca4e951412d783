"""Runs one LoadGen test on a :class:`JaxSUT` and reads LoadGen's verdict from its own logs.

Host-side driver: warm-up (compilation) happens before ``StartTestWithLogSettings``; LoadGen runs
on a helper thread so that a failed SUT can be detected while the test runs. LoadGen writes
``mlperf_log_summary.txt``, ``mlperf_log_detail.txt`` and ``mlperf_log_accuracy.json`` into
``outdir``; the returned :class:`TestResult` is parsed from those files.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

import mlperf_loadgen as lg
import numpy as np

from jaxml import _validation as v
from jaxml.bench.logs import parse_detail, parse_summary, read_accuracy_log
from jaxml.bench.sut import JaxSUT, SUTError

__all__ = ["TestResult", "run_test", "score_accuracy_log"]

_ABANDONED: list = []  # handles of a LoadGen test that never returned (kept alive, never freed)

PERCENTILES = ("50.00", "90.00", "95.00", "97.00", "99.00", "99.90")


class TestResult(NamedTuple):
    """LoadGen's result of one test, read from its logs.

    Attributes:
        scenario, mode: as LoadGen reports them.
        metric_name, metric_value: the summary's headline metric (e.g. "90.0th percentile latency
            (ns)", "Samples per second").
        result_valid: LoadGen's VALID/INVALID verdict (None in AccuracyOnly mode, which LoadGen
            does not judge).
        invalid_reasons: the constraints LoadGen marked NO and its recommendations.
        latency_ns: ``{"50.00": ns, ..., "mean", "min", "max"}`` per-sample latencies.
        completion: the SUT's exactly-once accounting (see ``JaxSUT.completion_report``).
        outdir: where LoadGen wrote its logs.
        extras: detail-log values (query count, QPS, early stopping), SUT batch sizes, the
            wall time and the process CPU time (all threads) while LoadGen ran.
    """

    scenario: str
    mode: str
    metric_name: str | None
    metric_value: float | None
    result_valid: bool | None
    invalid_reasons: list[str]
    latency_ns: dict[str, float]
    completion: dict[str, int]
    outdir: str
    extras: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return self._asdict()


def run_test(
    sut: JaxSUT,
    settings: lg.TestSettings,
    outdir,
    *,
    timeout_s: float | None = None,
    abort_grace_s: float = 10.0,
) -> TestResult:
    """Runs LoadGen on ``sut`` with ``settings``; returns its result.

    Args:
        sut: a :class:`JaxSUT` (warmed up here if it was not).
        settings: from :func:`jaxml.bench.make_test_settings`.
        outdir: LoadGen's log folder (created).
        timeout_s: fail with ``TimeoutError`` if LoadGen has not returned by then (None: no limit).
        abort_grace_s: after the SUT fails, how long LoadGen may take to drain the remaining
            queries (completed at once with empty responses) before the error is raised anyway
            and the LoadGen thread is abandoned (a SingleStream/MultiStream run drains at about
            20 us a query; a Server run ends early only with ``server_max_async_queries`` > 0).

    Raises:
        SUTError: the model raised or recompiled during the run (the cause is chained); all
            outstanding samples were completed first, so LoadGen is never left waiting.
        TimeoutError: ``timeout_s`` passed.
    """
    if not isinstance(sut, JaxSUT):
        raise TypeError(f"sut must be a JaxSUT; got {type(sut).__name__}")
    if not isinstance(settings, lg.TestSettings):
        raise TypeError(f"settings must be a mlperf_loadgen.TestSettings; got {type(settings)}")
    outdir = v.check_path(outdir, "outdir")
    if timeout_s is not None:
        v.check_scalar(timeout_s, "timeout_s", minimum=0.0, min_open=True)
    v.check_scalar(abort_grace_s, "abort_grace_s", minimum=0.0)
    outdir.mkdir(parents=True, exist_ok=True)
    if sut.output_shape is None:
        sut.warmup()
    lib = sut.library
    log = lg.LogSettings()
    log.log_output.outdir = str(outdir)
    log.log_output.copy_summary_to_stdout = False
    log.enable_trace = False
    handles = (
        lg.ConstructFastSUT(sut.issue_fast, sut.flush_queries),
        lg.ConstructQSL(
            lib.total_sample_count,
            lib.performance_sample_count,
            lib.load_samples,
            lib.unload_samples,
        ),
    )
    raised: list[BaseException] = []

    def target():
        try:
            lg.StartTestWithLogSettings(
                handles[0], handles[1], settings, log, str(outdir / "no-audit.config")
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            raised.append(exc)

    # After a failure a Server run can only end early through LoadGen's own outstanding-query
    # limit: hold new queries (uncompleted) until LoadGen flushes, then complete them.
    sut.hold_after_error = bool(
        settings.scenario == lg.TestScenario.Server and settings.server_max_async_queries > 0
    )
    sut.start()
    t0, cpu0 = time.perf_counter(), time.process_time()
    thread = threading.Thread(target=target, name="loadgen", daemon=True)
    thread.start()
    failed_at = None
    while thread.is_alive():
        thread.join(0.02)
        now = time.perf_counter()
        if sut.failed.is_set() and failed_at is None:
            failed_at = now
        if failed_at is not None and now - failed_at > abort_grace_s:
            break
        if timeout_s is not None and now - t0 > timeout_s:
            break
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if thread.is_alive():  # LoadGen still running: never free what it may still call
        _ABANDONED.append((handles, sut, lib, thread))
        if sut.error is not None:
            raise SUTError(
                f"the SUT failed ({type(sut.error).__name__}: {sut.error}); LoadGen did not "
                f"return within abort_grace_s={abort_grace_s} s and was abandoned"
            ) from sut.error
        raise TimeoutError(f"LoadGen did not finish within timeout_s={timeout_s} s")
    sut.stop()
    lg.DestroyQSL(handles[1])
    lg.DestroyFastSUT(handles[0])
    if sut.error is not None:
        raise SUTError(
            f"the SUT failed during the {_scenario(settings)} run: "
            f"{type(sut.error).__name__}: {sut.error} (all outstanding samples were completed "
            f"with empty responses; LoadGen returned after {wall:.2f} s)"
        ) from sut.error
    if raised:
        raise raised[0]
    return _result(outdir, sut, wall, cpu)


def _scenario(settings) -> str:
    return settings.scenario.name


def _result(outdir: Path, sut: JaxSUT, wall: float, cpu: float) -> TestResult:
    summary = parse_summary(outdir / "mlperf_log_summary.txt")
    detail = parse_detail(outdir / "mlperf_log_detail.txt")
    latency = {p: detail.get(f"result_{p}_percentile_latency_ns") for p in PERCENTILES}
    for k in ("mean", "min", "max"):
        latency[k] = detail.get(f"result_{k}_latency_ns")
    reasons = list(summary["invalid_reasons"])
    extra_reason = (detail.get("result_invalid_reason") or "").strip()
    if summary["result_valid"] is False and extra_reason and extra_reason not in reasons:
        reasons.append(extra_reason)
    if summary["result_valid"] is False:
        reasons += [f"LoadGen error: {e}" for e in detail["errors"]]
    extras = {
        k: detail.get(k)
        for k in (
            "result_query_count",
            "result_samples_per_second",
            "result_scheduled_samples_per_sec",
            "result_completed_samples_per_sec",
            "result_overlatency_query_count",
            "early_stopping_met",
            "early_stopping_result",
            "effective_target_qps",
            "effective_target_latency_ns",
            "effective_min_duration_ms",
            "effective_samples_per_query",
        )
        if k in detail
    }
    extras["loadgen_errors"] = detail["errors"]
    extras["sut_batches"] = {str(b): c for b, c in sorted(sut.batch_sizes.items())}
    extras["wall_s"] = wall
    extras["process_cpu_s"] = cpu  # every thread of the process, while LoadGen ran
    extras["qsl_load_calls"] = sut.library.load_calls
    extras["qsl_unload_calls"] = sut.library.unload_calls
    return TestResult(
        summary.get("scenario") or detail.get("effective_scenario"),
        summary.get("mode") or detail.get("effective_test_mode"),
        summary.get("metric_name"),
        summary.get("metric_value"),
        summary["result_valid"],
        reasons,
        latency,
        sut.completion_report(),
        str(outdir),
        extras,
    )


def score_accuracy_log(path, decode, score) -> dict[str, Any]:
    """The model's metric on exactly the samples LoadGen logged in AccuracyOnly mode.

    Args:
        path: ``mlperf_log_accuracy.json``.
        decode: ``decode(bytes) -> output row`` (``JaxSUT.decode``).
        score: ``score(outputs[m, ...], indices[m]) -> {metric: value}`` (``BenchModel.score``).

    Returns:
        ``score``'s dict plus ``"num_samples"`` and ``"indices"`` (sorted unique QSL indices; a
        sample logged twice is scored once, by its first response).

    Raises:
        ValueError: the log is empty or holds an empty (error) response.
    """
    v.check_callable(decode, "decode")
    v.check_callable(score, "score")
    entries = read_accuracy_log(path)
    if not entries:
        raise ValueError(f"{path} holds no responses (was the run in accuracy mode?)")
    first = {}
    for e in entries:
        if not e["data"]:
            raise ValueError(f"sample {e['qsl_idx']} has an empty (error) response in {path}")
        first.setdefault(e["qsl_idx"], e["data"])
    indices = np.array(sorted(first), np.int64)
    outputs = np.stack([decode(first[i]) for i in indices])
    out = dict(score(outputs, indices))
    out["num_samples"] = int(indices.size)
    out["indices"] = indices.tolist()
    return out
