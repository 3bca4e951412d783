"""LoadGen ``TestSettings`` from LoadGen's own ``mlperf.conf`` / ``user.conf`` mechanism.

The official ``mlperf.conf`` is compiled into the ``mlperf_loadgen`` binary (6.0.17); it is
applied by ``TestSettings.FromConfig(user_conf, model, scenario)``, which then reads the
``user.conf`` given (keys ``model.scenario.key = value``, ``*`` a wildcard). Command-line overrides
are applied last, on the ``TestSettings`` fields themselves. Nothing here decides validity: LoadGen
does, and :mod:`jaxml.bench.logs` reads its verdict.

Official rules (MLPerf Inference, as in the compiled ``mlperf.conf``): every scenario needs
``min_duration = 600000`` ms (10 minutes); SingleStream reports the 90th-percentile latency,
MultiStream the 99th percentile of 8-sample queries with ``min_query_count = 662``, Server the
throughput at a 99th-percentile latency bound (``target_latency`` per model, 10 ms by default),
Offline the samples/s of one query with at least ``min_query_count`` samples. Short runs with a
smaller ``min_duration_ms`` are for development and are INVALID under the official rules.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import mlperf_loadgen as lg

from jaxml import _validation as v

__all__ = [
    "MODES",
    "OFFICIAL_RULES",
    "OVERRIDES",
    "SCENARIOS",
    "make_test_settings",
    "settings_dict",
]

SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")
"""The four MLPerf Inference scenarios, spelled as LoadGen spells them."""

MODES = {"performance": "PerformanceOnly", "accuracy": "AccuracyOnly"}
"""CLI mode name -> LoadGen ``TestMode`` name."""

OFFICIAL_RULES = {
    "min_duration_ms": 600_000,
    "SingleStream": {"metric": "90th percentile latency", "target_latency_percentile": 90},
    "MultiStream": {
        "metric": "99th percentile latency of 8-sample queries",
        "samples_per_query": 8,
        "min_query_count": 662,
        "target_latency_percentile": 99,
    },
    "Server": {
        "metric": "scheduled samples/s with the 99th percentile latency under the bound",
        "target_latency_percentile": 99,
        "default_target_latency_ms": 10,
    },
    "Offline": {"metric": "samples/s of one query holding every sample"},
}
"""What the official ``mlperf.conf`` compiled into LoadGen 6.0.17 requires (for the docs)."""

# CLI/user override name -> (TestSettings attribute, scale to LoadGen's unit, kind).
OVERRIDES = {
    "min_duration_ms": ("min_duration_ms", 1, int),
    "max_duration_ms": ("max_duration_ms", 1, int),
    "min_query_count": ("min_query_count", 1, int),
    "max_query_count": ("max_query_count", 1, int),
    "performance_sample_count": ("performance_sample_count_override", 1, int),
    "samples_per_query": ("multi_stream_samples_per_query", 1, int),
    "server_target_qps": ("server_target_qps", 1, float),
    "offline_expected_qps": ("offline_expected_qps", 1, float),
    "server_target_latency_ms": ("server_target_latency_ns", 1_000_000, int),
    "single_stream_expected_latency_ms": ("single_stream_expected_latency_ns", 1_000_000, int),
    "multi_stream_expected_latency_ms": ("multi_stream_expected_latency_ns", 1_000_000, int),
    "server_max_async_queries": ("server_max_async_queries", 1, int),
    "accuracy_log_probability": ("accuracy_log_probability", 1, float),
}
"""Overrides :func:`make_test_settings` accepts, with the ``TestSettings`` field each sets."""


def make_test_settings(
    scenario: str,
    mode: str = "performance",
    *,
    model_name: str = "jaxml",
    user_conf: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> lg.TestSettings:
    """LoadGen ``TestSettings``: official ``mlperf.conf``, then ``user_conf``, then overrides.

    Args:
        scenario: one of :data:`SCENARIOS`.
        mode: ``"performance"`` (PerformanceOnly) or ``"accuracy"`` (AccuracyOnly).
        model_name: the model key looked up in the conf files (``*`` lines apply to every name).
        user_conf: a ``user.conf`` file; None uses an empty one (official values only).
        overrides: ``{name: value}`` with names from :data:`OVERRIDES` (durations in ms), applied
            after the conf files, e.g. ``{"min_duration_ms": 1000}`` for a development run.

    Returns:
        A ``mlperf_loadgen.TestSettings`` with ``scenario`` and ``mode`` set.

    Raises:
        ValueError: unknown scenario, mode or override name, a non-positive duration or count, or
            a conf file LoadGen rejects.
    """
    v.check_choice(scenario, "scenario", SCENARIOS)
    v.check_choice(mode, "mode", tuple(MODES))
    v.check_str(model_name, "model_name")
    if user_conf is not None:
        user_conf = v.check_path(user_conf, "user_conf", exists="file")
    if overrides is not None and not isinstance(overrides, Mapping):
        raise TypeError(f"overrides must be a mapping {{name: value}}; got {overrides!r}")
    overrides = dict(overrides or {})
    checked = {name: _check_override(name, value) for name, value in overrides.items()}

    settings = lg.TestSettings()
    # conf_type 1 (the default) loads the compiled mlperf.conf and then user.conf, but only on
    # the first call in a process (a static counter; later calls log "Multiple conf files").
    # The same two steps done explicitly (0: compiled mlperf.conf, 2: the user file) behave the
    # same on every call.
    status = settings.FromConfig("", model_name, scenario, 0)
    if status == 0 and user_conf is not None:
        status = settings.FromConfig(str(user_conf), model_name, scenario, 2)
    if status != 0:
        raise ValueError(
            f"LoadGen rejected user_conf {str(user_conf)!r} (FromConfig returned {status})"
        )
    settings.scenario = getattr(lg.TestScenario, scenario)
    settings.mode = getattr(lg.TestMode, MODES[mode])
    for name, value in checked.items():
        attr, scale, kind = OVERRIDES[name]
        setattr(settings, attr, kind(value * scale))
    return settings


def _check_override(name: str, value: Any) -> Any:
    if name not in OVERRIDES:
        raise ValueError(f"overrides has unknown name {name!r}; known: {sorted(OVERRIDES)}")
    kind = OVERRIDES[name][2]
    if name == "accuracy_log_probability":
        return v.check_scalar(value, name, minimum=0.0, maximum=1.0)
    if name in ("max_duration_ms", "max_query_count", "server_max_async_queries"):
        return v.check_int(value, name, minimum=0)
    if kind is int and (name == "min_duration_ms" or not name.endswith("_ms")):
        return v.check_int(value, name, minimum=1)
    return v.check_scalar(value, name, minimum=0.0, min_open=True)


def settings_dict(settings: lg.TestSettings) -> dict[str, Any]:
    """The fields of ``settings`` as a JSON-ready dict (enums by name)."""
    if not isinstance(settings, lg.TestSettings):
        raise TypeError(f"settings must be a mlperf_loadgen.TestSettings; got {type(settings)}")
    out = {}
    for attr in dir(settings):
        if attr.startswith("_") or attr == "FromConfig":
            continue
        value = getattr(settings, attr)
        out[attr] = value.name if hasattr(value, "name") else value
    return out
