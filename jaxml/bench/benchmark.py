"""One benchmark end to end: model -> QSL -> SUT -> calibration -> LoadGen run -> ``summary.json``.

This is what ``python -m experiments.mlperf.run`` calls. Host-side driver (it owns the jit via
:class:`JaxSUT`). Every argument is checked before a model is built or LoadGen starts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxml import _validation as v
from jaxml.bench.models import BenchModel, build_model, model_names
from jaxml.bench.qsl import SampleLibrary
from jaxml.bench.raw import measure_raw
from jaxml.bench.runner import TestResult, run_test, score_accuracy_log
from jaxml.bench.search import find_peak_server_qps
from jaxml.bench.settings import MODES, SCENARIOS, make_test_settings, settings_dict
from jaxml.bench.sut import DEFAULT_BUCKETS, JaxSUT

__all__ = ["calibrate", "calibrated_overrides", "run_benchmark"]


def calibrate(sut: JaxSUT, *, samples_per_query: int = 8, calls: int = 30) -> dict[str, Any]:
    """Raw (outside LoadGen) latency and throughput of the SUT's own compiled function.

    Returns ``{"single": measure_raw at batch 1, "multi": at the bucket holding
    samples_per_query, "offline": at the largest bucket}``.
    """
    if not isinstance(sut, JaxSUT):
        raise TypeError(f"sut must be a JaxSUT; got {type(sut).__name__}")
    samples_per_query = v.check_int(samples_per_query, "samples_per_query", minimum=1)
    calls = v.check_int(calls, "calls", minimum=1)
    if sut.output_shape is None:
        sut.warmup()
    x = sut.library.x
    multi = next((b for b in sut.buckets if b >= samples_per_query), sut.buckets[-1])
    return {
        "single": measure_raw(sut.jitted, sut.params, x, batch_size=sut.buckets[0], calls=calls),
        "multi": measure_raw(sut.jitted, sut.params, x, batch_size=multi, calls=calls),
        "offline": measure_raw(
            sut.jitted, sut.params, x, batch_size=sut.buckets[-1], calls=max(5, calls // 3)
        ),
    }


def calibrated_overrides(calibration: dict[str, Any], scenario: str) -> dict[str, Any]:
    """Expected latency / QPS settings from :func:`calibrate`, so LoadGen pre-generates enough
    queries for the minimum duration (it ends a run INVALID when it runs out of them).

    SingleStream/MultiStream expect half the raw latency, Offline 2.5x the raw throughput;
    Server's target QPS is a tenth of the raw single-sample throughput (search it with
    ``find_peak_qps`` for the real peak).
    """
    v.check_choice(scenario, "scenario", SCENARIOS)
    if not isinstance(calibration, dict):
        raise TypeError(f"calibration must be calibrate()'s dict; got {type(calibration).__name__}")
    missing = {"single", "multi", "offline"} - set(calibration)
    if missing:
        raise ValueError(f"calibration must be calibrate()'s dict; it lacks {sorted(missing)}")
    single, multi, offline = calibration["single"], calibration["multi"], calibration["offline"]
    if scenario == "SingleStream":
        return {"single_stream_expected_latency_ms": 0.5e3 * single["latency_p50_s"]}
    if scenario == "MultiStream":
        return {"multi_stream_expected_latency_ms": 0.5e3 * multi["latency_p50_s"]}
    if scenario == "Offline":
        return {"offline_expected_qps": 2.5 * offline["samples_per_s"]}
    return {"server_target_qps": single["samples_per_s"] / 10.0}


def run_benchmark(
    model: str | BenchModel,
    scenario: str,
    mode: str,
    workdir,
    *,
    min_duration_ms: int | None = None,
    user_conf=None,
    overrides: dict[str, Any] | None = None,
    buckets=DEFAULT_BUCKETS,
    train_steps: int = 300,
    seed: int = 0,
    find_peak_qps: bool = False,
    search_iterations: int = 4,
    final_fraction: float = 0.9,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """Runs ``model`` in ``scenario``/``mode`` under LoadGen; writes LoadGen's logs and
    ``summary.json`` into ``workdir``; returns the summary.

    Args:
        model: a name from :func:`jaxml.bench.model_names` or a built :class:`BenchModel`.
        scenario: SingleStream, MultiStream, Server or Offline.
        mode: "performance" or "accuracy".
        workdir: output folder (LoadGen logs, ``summary.json``, cached model params).
        min_duration_ms: development override of LoadGen's ``min_duration`` (official: 600000).
        user_conf: a LoadGen ``user.conf``.
        overrides: more :data:`jaxml.bench.OVERRIDES`; they win over the calibrated expected
            latency/QPS values.
        buckets: the SUT's compiled batch sizes.
        train_steps, seed: model training (cached in ``workdir/models``).
        find_peak_qps: Server only: search the highest VALID target QPS first (each probe a
            LoadGen run in ``workdir/server_search/``); the final run uses the peak.
        search_iterations: bisection steps of that search.
        final_fraction: the final Server run's target QPS as a fraction of the searched peak.
        timeout_s: per LoadGen run.

    Returns:
        The ``summary.json`` dict: scenario, mode, metric name/value, ``result_valid``,
        ``invalid_reasons``, latency percentiles (ns), the raw throughput/latency measured outside
        LoadGen, exactly-once counts, settings, and (accuracy mode) the accuracy on LoadGen's
        samples next to the same samples' accuracy computed outside LoadGen.
    """
    if isinstance(model, str):
        v.check_choice(model, "model", model_names())
    elif not isinstance(model, BenchModel):
        raise TypeError(f"model must be a model name or a BenchModel; got {type(model).__name__}")
    v.check_choice(scenario, "scenario", SCENARIOS)
    v.check_choice(mode, "mode", tuple(MODES))
    workdir = v.check_path(workdir, "workdir")
    over = dict(overrides or {})
    if min_duration_ms is not None:
        over["min_duration_ms"] = v.check_int(min_duration_ms, "min_duration_ms", minimum=1)
    v.check_bool(find_peak_qps, "find_peak_qps")
    v.check_scalar(final_fraction, "final_fraction", minimum=0.0, maximum=1.0, min_open=True)
    if find_peak_qps and scenario != "Server":
        raise ValueError(f"find_peak_qps applies to the Server scenario only; got {scenario}")
    # Settings are built (and so validated) once before any model work.
    make_test_settings(scenario, mode, user_conf=user_conf, overrides=over)
    workdir.mkdir(parents=True, exist_ok=True)

    bm = (
        model
        if isinstance(model, BenchModel)
        else build_model(model, workdir, train_steps=train_steps, seed=seed)
    )
    library = SampleLibrary(bm.x, bm.labels)

    def new_sut() -> JaxSUT:
        sut = JaxSUT(bm.apply, bm.params, library, buckets=buckets, name=bm.name)
        sut.warmup()
        return sut

    sut = new_sut()
    spq = int(over.get("samples_per_query", 8))
    calibration = calibrate(sut, samples_per_query=spq)
    tuned = {**calibrated_overrides(calibration, scenario), **over}

    search = None
    if find_peak_qps:
        single_qps = calibration["single"]["samples_per_s"]

        def run_at(qps: float) -> TestResult:
            settings = make_test_settings(
                scenario, mode, user_conf=user_conf, overrides={**tuned, "server_target_qps": qps}
            )
            return run_test(
                new_sut(),
                settings,
                workdir / "server_search" / f"qps_{qps:.0f}",
                timeout_s=timeout_s,
            )

        search = find_peak_server_qps(
            run_at,
            low_qps=single_qps / 4,
            high_qps=single_qps * 2,
            iterations=search_iterations,
        )
        # The final run sits at final_fraction of the peak: a probe at the edge can flip to
        # INVALID on a rerun (the search's own VALID probe at the peak stays in its log dir).
        peak = search["peak_qps"]
        tuned["server_target_qps"] = final_fraction * peak if peak else single_qps / 4

    settings = make_test_settings(scenario, mode, user_conf=user_conf, overrides=tuned)
    result = run_test(sut, settings, workdir, timeout_s=timeout_s)
    raw = calibration["offline" if scenario == "Offline" else "single"]
    summary = {
        "model": bm.name,
        "scenario": result.scenario,
        "mode": result.mode,
        "metric_name": result.metric_name,
        "metric_value": result.metric_value,
        "result_valid": result.result_valid,
        "invalid_reasons": result.invalid_reasons,
        "latency_ns": result.latency_ns,
        "raw_outside_loadgen": {
            "samples_per_s": raw["samples_per_s"],
            "batch_size": raw["batch_size"],
            "latency_p50_ns": 1e9 * raw["latency_p50_s"],
            "latency_p90_ns": 1e9 * raw["latency_p90_s"],
        },
        "calibration": calibration,
        "completion": result.completion,
        "loadgen": result.extras,
        "settings": {k: tuned[k] for k in sorted(tuned)},
        "loadgen_settings": settings_dict(settings),
        "model_info": bm.info,
        "device": str(jax.devices()[0]),
        "server_search": search,
    }
    if mode == "accuracy":
        acc = score_accuracy_log(workdir / "mlperf_log_accuracy.json", sut.decode, bm.score)
        idx = np.asarray(acc.pop("indices"))
        direct = bm.score(np.asarray(jax.jit(bm.apply)(bm.params, bm.x[idx])), idx)
        summary["accuracy"] = {
            "metric": bm.metric,
            "loadgen": acc,
            "outside_loadgen": direct,
            "equal": bool(np.isclose(acc[bm.metric], direct[bm.metric], rtol=1e-5, atol=0)),
        }
    _write_json(workdir / "summary.json", summary)
    return summary


def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_jsonable))
    os.replace(tmp, path)


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)
