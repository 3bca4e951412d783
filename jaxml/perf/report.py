"""One JSON and one markdown table from a directory of benchmark JSON files (scripts/gpu_bench.sh).

Every benchmark in ``experiments/benchmarks`` writes one JSON; this module gathers them without
knowing their layouts: it keeps each run's exit status and wall time (from ``runs.tsv``, written by
the script), every roofline it finds (a dict holding ``flop_fraction`` and ``bound``, named by its
path in the JSON) and every number whose key names a ratio or a speedup.

    python -m jaxml.perf.report results/gpu_bench      # writes gpu_bench.json and gpu_bench.md
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from jaxml._validation import check_path

__all__ = ["collect", "markdown", "write_report"]

_RATIO_WORDS = ("ratio", "speedup", "over_")


def _walk(node: Any, path: str, rooflines: list, ratios: list) -> None:
    if isinstance(node, dict):
        if "flop_fraction" in node and "bound" in node:
            rooflines.append({"where": path, **{k: node[k] for k in _ROOFLINE_KEYS if k in node}})
            return
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if any(w in str(key) for w in _RATIO_WORDS) and math.isfinite(value):
                    ratios.append({"where": child, "value": float(value)})
            else:
                _walk(value, child, rooflines, ratios)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk(value, f"{path}[{i}]", rooflines, ratios)


_ROOFLINE_KEYS = ("seconds", "flop_fraction", "bandwidth_fraction", "bound", "fraction_of_roofline")


def collect(directory: str | Path) -> dict[str, Any]:
    """Gathers ``<name>.json`` and ``runs.tsv`` (``name<TAB>exit code<TAB>seconds``) under
    ``directory`` into ``{"benchmarks": {name: {...}}}``.

    Raises:
        FileNotFoundError: ``directory`` does not exist.
    """
    directory = check_path(directory, "directory", exists="dir")
    runs = {}
    tsv = directory / "runs.tsv"
    if tsv.exists():
        for line in tsv.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) == 3:
                runs[parts[0]] = {"exit_code": int(parts[1]), "wall_seconds": float(parts[2])}
    names = sorted(set(runs) | {p.stem for p in directory.glob("*.json") if p.stem != "gpu_bench"})
    out: dict[str, Any] = {"benchmarks": {}}
    for name in names:
        entry: dict[str, Any] = dict(runs.get(name, {}))
        path = directory / f"{name}.json"
        rooflines: list = []
        ratios: list = []
        if path.exists():
            data = json.loads(path.read_text())
            entry["device"] = data.get("device")
            _walk(data, "", rooflines, ratios)
        else:
            entry["missing"] = "no JSON written"
        entry["rooflines"], entry["ratios"] = rooflines, ratios
        out["benchmarks"][name] = entry
    return out


def markdown(summary: dict[str, Any]) -> str:
    """A markdown page: one status table, then per benchmark its ratios and rooflines."""
    lines = ["| benchmark | exit | wall s | rooflines | ratios |", "|---|---|---|---|---|"]
    for name, b in summary["benchmarks"].items():
        wall = b.get("wall_seconds")
        lines.append(
            f"| {name} | {b.get('exit_code', '?')} | {'' if wall is None else f'{wall:.0f}'} | "
            f"{len(b['rooflines'])} | {len(b['ratios'])} |"
        )
    for name, b in summary["benchmarks"].items():
        lines += ["", f"## {name}", ""]
        if b.get("missing"):
            lines.append(f"{b['missing']}")
            continue
        if b["rooflines"]:
            lines += [
                "| program | ms | % matmul peak | % copy bw | bound | % of roofline |",
                "|---|---|---|---|---|---|",
            ]
            for r in b["rooflines"]:
                lines.append(
                    f"| {r['where']} | {1e3 * r['seconds']:.2f} | {100 * r['flop_fraction']:.1f} | "
                    f"{100 * r['bandwidth_fraction']:.1f} | {r['bound']} | "
                    f"{100 * r['fraction_of_roofline']:.1f} |"
                )
        if b["ratios"]:
            lines += ["", "| ratio | value |", "|---|---|"]
            lines += [f"| {r['where']} | {r['value']:.3f} |" for r in b["ratios"]]
    return "\n".join(lines) + "\n"


def write_report(directory: str | Path) -> dict[str, Any]:
    """Writes ``gpu_bench.json`` and ``gpu_bench.md`` into ``directory``; returns the summary."""
    summary = collect(directory)
    directory = Path(directory)
    (directory / "gpu_bench.json").write_text(json.dumps(summary, indent=1))
    (directory / "gpu_bench.md").write_text(markdown(summary))
    return summary


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m jaxml.perf.report RESULTS_DIR")
    s = write_report(sys.argv[1])
    print(f"wrote {sys.argv[1]}/gpu_bench.json and .md ({len(s['benchmarks'])} benchmarks)")
