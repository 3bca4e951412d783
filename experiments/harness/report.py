"""Finds every figure module and renders results/REPORT.md from their metrics.json files."""

import datetime
import importlib
import pkgutil
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import experiments
from experiments.harness.experiment import (
    SMOKE_VERDICT,
    Summary,
    figure_id,
    format_thresholds,
    is_smoke_run,
)
from experiments.harness.io import read_json

# Sub-packages of experiments/ that hold no figures.
NOT_FIGURES = ("experiments.harness", "experiments.benchmarks", "experiments.reproduce")
REQUIRED = ("Config", "run", "summarize", "CLAIM", "PAPER")


class FigureOutcome(NamedTuple):
    """One figure's row in the report.

    Attributes:
        figure: ``<paper>/<figure>``.
        module: the module (for its PAPER, CLAIM and summarize).
        workdir: where its outputs are.
        metrics: the loaded metrics.json, or None if the run failed.
        seconds: wall time of the run, if it ran in this invocation.
        error: the failure's last lines, if it failed.
    """

    figure: str
    module: ModuleType
    workdir: Path
    metrics: dict[str, Any] | None
    seconds: float | None
    error: str | None


def is_figure_module(module: ModuleType) -> bool:
    return all(hasattr(module, name) for name in REQUIRED)


def discover_figures(only: tuple[str, ...] = ()) -> list[ModuleType]:
    """Imports and returns every figure module under ``experiments/``, sorted by name.

    Args:
        only: keep modules whose ``<paper>/<figure>`` id contains one of these substrings
            (``("ift",)`` keeps every IFT figure); empty keeps all.
    """
    found = []
    for info in pkgutil.walk_packages(experiments.__path__, prefix="experiments."):
        name = info.name
        if info.ispkg or any(name == p or name.startswith(p + ".") for p in NOT_FIGURES):
            continue
        if name.rsplit(".", 1)[-1].startswith("_"):
            continue
        if only and not any(key in figure_id(name) for key in only):
            continue
        module = importlib.import_module(name)
        if is_figure_module(module):
            found.append(module)
    if only and not found:
        raise ValueError(f"--only {list(only)} matches no figure module")
    return sorted(found, key=lambda m: m.__name__)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_report(outcomes: list[FigureOutcome], *, results_dir: Path, scale: str) -> str:
    """The Markdown text of REPORT.md; image links are relative to ``results_dir``."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# jaxml: reproduced figures",
        "",
        f"Generated {now} by `scripts/reproduce.sh --scale {scale}`.",
        "",
        "| figure | paper | conclusion matches | time (s) |",
        "|---|---|---|---|",
    ]
    summaries: dict[str, Summary | None] = {}
    outcomes = check_summaries(outcomes)
    for o in outcomes:
        summary = o.module.summarize(o.metrics) if o.metrics is not None else None
        summaries[o.figure] = summary
        if summary is None:
            status = "FAILED"
        elif is_smoke_run(o.metrics):
            status = SMOKE_VERDICT
        else:
            status = "yes" if summary.matches else "**no**"
        secs = "" if o.seconds is None else f"{o.seconds:.0f}"
        lines.append(
            f"| [{o.figure}](#{o.figure.replace('/', '')}) | {o.module.PAPER} | {status} | {secs} |"
        )
    for o in outcomes:
        summary = summaries[o.figure]
        lines += [
            "",
            f"## {o.figure}",
            "",
            f"**Paper.** {o.module.PAPER}",
            "",
            f"**Claim.** {o.module.CLAIM}",
            "",
        ]
        cmd = f"python -m {o.module.__name__} --scale {scale} --workdir {o.workdir}"
        lines += [f"**Command.** `{cmd}`", ""]
        if summary is None:
            lines += ["**Result: the run failed.**", "", "```", (o.error or "").strip(), "```"]
            continue
        lines += ["| measured | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in summary.numbers.items()]
        if is_smoke_run(o.metrics):
            head = f"**Conclusion: {SMOKE_VERDICT}** (scale tiny checks that the code runs)."
        else:
            head = f"**Conclusion matches: {'yes' if summary.matches else 'no'}.**"
        lines += ["", f"{head} {summary.verdict}", ""]
        if summary.thresholds:
            lines += [f"**Thresholds used.** {format_thresholds(summary)}", ""]
        for name in o.metrics.get("figures", []):
            rel = (o.workdir / name).resolve().relative_to(results_dir.resolve())
            lines.append(f"![{o.figure} {name}]({rel.as_posix()})")
    return "\n".join(lines) + "\n"


def check_summaries(outcomes: list[FigureOutcome]) -> list[FigureOutcome]:
    """The outcomes, with each figure whose ``summarize`` raises on its metrics marked failed.

    The report judges every figure from its metrics.json; one broken ``summarize`` must cost
    that figure its verdict (shown as FAILED, with the traceback), not the whole report.
    """
    checked = []
    for o in outcomes:
        if o.metrics is not None:
            try:
                o.module.summarize(o.metrics)
            except Exception:
                error = "summarize(metrics.json) raised:\n" + traceback.format_exc(limit=3)
                o = o._replace(metrics=None, error=error)
        checked.append(o)
    return checked


def load_outcome(
    module: ModuleType, workdir: Path, seconds: float | None, error: str | None
) -> FigureOutcome:
    """Reads ``workdir/metrics.json`` into a :class:`FigureOutcome` (metrics None on failure)."""
    metrics = None
    if error is None:
        try:
            metrics = read_json(workdir / "metrics.json")
        except (FileNotFoundError, ValueError) as e:
            error = str(e)
    return FigureOutcome(figure_id(module.__name__), module, workdir, metrics, seconds, error)
