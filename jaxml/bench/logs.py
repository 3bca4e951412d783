"""Readers for LoadGen's own logs: ``mlperf_log_summary.txt``, ``mlperf_log_detail.txt`` and
``mlperf_log_accuracy.json``. LoadGen decides validity; these functions only read its verdict."""

from __future__ import annotations

import json
import re
from typing import Any

from jaxml import _validation as v

__all__ = ["parse_detail", "parse_summary", "read_accuracy_log"]

_MLLOG = ":::MLLOG "
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


def _value(text: str) -> Any:
    text = text.strip()
    if _NUMBER.match(text):
        return float(text) if any(c in text for c in ".eE") else int(text)
    return text


def parse_summary(path) -> dict[str, Any]:
    """Parses ``mlperf_log_summary.txt``.

    Returns:
        ``{"scenario", "mode", "metric_name", "metric_value", "result_valid" (bool; None for an
        AccuracyOnly run, which has no performance verdict),
        "constraints" {name: bool}, "invalid_reasons" [str], "recommendations" [str],
        "early_stopping" [str], "stats" {name: number}, "parameters" {name: value}}``.
        ``invalid_reasons`` lists each constraint LoadGen marked ``NO`` plus its recommendations.

    Raises:
        FileNotFoundError: no such file. ValueError: not a LoadGen summary.
    """
    path = v.check_path(path, "path", exists="file")
    lines = path.read_text().splitlines()
    out: dict[str, Any] = {
        "constraints": {},
        "recommendations": [],
        "early_stopping": [],
        "stats": {},
        "parameters": {},
    }
    section = "head"
    for line in lines:
        s = line.strip()
        if not s or set(s) == {"="}:
            continue
        if s == "Additional Stats":
            section = "stats"
            continue
        if s == "Test Parameters Used":
            section = "params"
            continue
        if s.startswith("Recommendations:"):
            section = "recommendations"
            continue
        if s.startswith("Early Stopping Result:"):
            section = "early"
            continue
        if section in ("recommendations", "early") and (s.startswith("*") or line[:1] == " "):
            key = "recommendations" if section == "recommendations" else "early_stopping"
            if s.startswith("*"):
                out[key].append(s.lstrip("* ").strip())
            elif out[key]:
                out[key][-1] += " " + s
            continue
        if ":" not in s:
            continue
        name, _, value = (part.strip() for part in s.partition(":"))
        if section == "stats":
            out["stats"][name] = _value(value)
        elif section == "params":
            out["parameters"][name] = _value(value)
        elif name == "Scenario":
            out["scenario"] = value
        elif name == "Mode":
            out["mode"] = value
        elif name == "SUT name":
            out["sut_name"] = value
        elif name == "Result is":
            out["result_valid"] = value == "VALID"
        elif name.endswith("satisfied"):
            out["constraints"][name] = value.lower() == "yes"
            section = "head"
        elif "metric_name" not in out and section == "head":
            out["metric_name"], out["metric_value"] = name, _value(value)
    text = "\n".join(lines)
    if "result_valid" not in out and "encountered" not in text:
        raise ValueError(f"{path} is not a LoadGen mlperf_log_summary.txt")
    # AccuracyOnly runs have no performance section: LoadGen gives no VALID/INVALID verdict.
    out.setdefault("result_valid", None)
    out["invalid_reasons"] = [f"{k}: NO" for k, ok in out["constraints"].items() if not ok]
    if out["result_valid"] is False:
        out["invalid_reasons"] += out["recommendations"]
    return out


def parse_detail(path) -> dict[str, Any]:
    """``{key: value}`` of every ``:::MLLOG`` record in ``mlperf_log_detail.txt`` (last wins),
    plus ``"errors"`` and ``"warnings"``: the values of records LoadGen flagged as such."""
    path = v.check_path(path, "path", exists="file")
    out: dict[str, Any] = {"errors": [], "warnings": []}
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith(_MLLOG):
            continue
        try:
            record = json.loads(line[len(_MLLOG) :])
        except json.JSONDecodeError:
            continue
        key, value = record.get("key"), record.get("value")
        meta = record.get("metadata") or {}
        if meta.get("is_error"):
            out["errors"].append(f"{key}: {value}")
        elif meta.get("is_warning"):
            out["warnings"].append(f"{key}: {value}")
        else:
            out[key] = value
    return out


def read_accuracy_log(path) -> list[dict[str, Any]]:
    """Entries of ``mlperf_log_accuracy.json``: ``{"seq_id", "qsl_idx", "data" (bytes)}``."""
    path = v.check_path(path, "path", exists="file")
    text = path.read_text().strip()
    entries = json.loads(text) if text else []
    if not isinstance(entries, list):
        raise ValueError(f"{path} is not a LoadGen accuracy log (a JSON list)")
    return [
        {"seq_id": e["seq_id"], "qsl_idx": e["qsl_idx"], "data": bytes.fromhex(e["data"])}
        for e in entries
    ]
