"""The figure-module contract and its CLI entry point.

A figure module ``experiments/<paper>/<figure>.py`` defines

- ``Config``: a frozen dataclass (see :mod:`experiments.harness.config`);
- ``run(config, workdir) -> dict``: trains/evaluates, writes ``config.json``, ``metrics.json`` and
  its PNG figure(s) under ``workdir`` (use :func:`write_outputs`), resumes from ``workdir/ckpt``;
- ``PAPER`` (which paper and figure), ``CLAIM`` (the paper's claim, one or two sentences) and
  ``summarize(metrics) -> Summary``: the numbers to report and whether the claim holds;
- ``main = experiment_main(__name__, Config, run)`` and ``if __name__ == "__main__": main()``.

The reproduce driver (:mod:`experiments.reproduce`) finds every module that has all of these.
"""

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from experiments.harness.config import parse_config
from experiments.harness.io import write_json_atomic

RESULTS_DIR = Path("results")


SMOKE_SCALE = "tiny"
SMOKE_VERDICT = "smoke run, no verdict"


class Summary(NamedTuple):
    """A figure's entry in results/REPORT.md.

    Attributes:
        numbers: name -> measured value, in the order to show.
        matches: whether our result supports the paper's claim.
        verdict: one sentence saying why (which numbers decide it).
        thresholds: name -> value of every threshold the rule used (a tolerance, a margin, a
            minimum number of seeds); printed next to the verdict so a reader can see how strict
            the rule was. Every figure's ``summarize`` must fill it.
    """

    numbers: dict[str, Any]
    matches: bool
    verdict: str
    thresholds: dict[str, Any] | None = None


def judge(failures: Sequence[str], detail: str) -> tuple[bool, str]:
    """``(matches, verdict)`` of a rule from the list of its failed conditions.

    The verdict reads ``"holds: every condition met (<detail>)"`` or
    ``"fails N condition(s): <failure>; <failure> (<detail>)"``, so a reader sees every broken
    condition, and the numbers behind all of them, in one sentence.
    """
    ok = not failures
    head = (
        "holds: every condition met"
        if ok
        else f"fails {len(failures)} condition(s): " + "; ".join(failures)
    )
    return ok, f"{head} ({detail})"


def is_smoke_run(metrics: dict[str, Any]) -> bool:
    """Whether ``metrics`` came from a ``--scale tiny`` run, which never gets a verdict.

    A tiny run checks that the code runs end to end; its numbers say nothing about the paper's
    claim, so the report and the CLI print :data:`SMOKE_VERDICT` instead of yes/no.
    """
    return metrics.get("scale") == SMOKE_SCALE


def verdict_label(summary: "Summary", metrics: dict[str, Any]) -> str:
    """``"yes"``, ``"no"`` or :data:`SMOKE_VERDICT` for a figure's summary of ``metrics``."""
    if is_smoke_run(metrics):
        return SMOKE_VERDICT
    return "yes" if summary.matches else "no"


def format_thresholds(summary: "Summary") -> str:
    """``"tol = 0.02, seeds >= 3"``-style text of ``summary.thresholds`` (empty if none)."""
    items = (summary.thresholds or {}).items()
    return ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in items)


def figure_id(module_name: str) -> str:
    """``experiments.baselines.train_classifier`` -> ``baselines/train_classifier``."""
    parts = module_name.split(".")
    if parts[0] == "experiments":
        parts = parts[1:]
    return "/".join(parts)


def default_workdir(module_name: str) -> Path:
    """Where a figure writes when no ``--workdir`` is given: ``results/<paper>/<figure>``."""
    return RESULTS_DIR / figure_id(module_name)


def write_outputs(
    workdir: str | Path, config: Any, metrics: dict[str, Any], *, figures: Sequence[str] = ()
) -> dict[str, Any]:
    """Writes ``config.json`` and ``metrics.json`` (atomically) and returns the metrics.

    ``figures`` are PNG file names relative to ``workdir``; they are recorded in the metrics under
    ``"figures"`` so the report can embed them. The common tail is added here unless the run
    set it itself: ``max_rss_mb`` (peak resident memory), ``device`` (backend, devices, library
    versions) and ``scale``.
    """
    workdir = Path(workdir)
    cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    write_json_atomic(workdir / "config.json", cfg)
    from experiments.harness.runtime import device_info, max_rss_mb

    metrics = dict(metrics)
    metrics["figures"] = list(figures)
    # The common tail every figure reports, written once here.
    metrics.setdefault("max_rss_mb", max_rss_mb())
    metrics.setdefault("device", device_info())
    if "scale" in cfg:
        metrics["scale"] = cfg["scale"]
    for name in figures:
        if not (workdir / name).is_file():
            raise FileNotFoundError(f"figure {name} was listed but not written under {workdir}")
    write_json_atomic(workdir / "metrics.json", metrics)
    return metrics


def experiment_main(
    module_name: str, config_cls: type, run: Callable[[Any, Path], dict[str, Any]]
) -> Callable[[Sequence[str] | None], dict[str, Any]]:
    """Builds the ``main(argv=None)`` CLI of a figure module."""
    module = sys.modules[module_name]
    if module_name == "__main__" and getattr(module, "__spec__", None) is not None:
        module_name = module.__spec__.name  # run as python -m experiments.<paper>.<figure>
    doc = (module.__doc__ or "").strip().splitlines()
    description = doc[0] if doc else None

    def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
        config, workdir = parse_config(config_cls, argv, description=description)
        workdir = workdir or default_workdir(module_name)
        print(f"[{figure_id(module_name)}] {config}", flush=True)
        t0 = time.perf_counter()
        metrics = run(config, Path(workdir))
        elapsed = time.perf_counter() - t0
        summarize = getattr(module, "summarize", None)
        if summarize is not None:
            summary = summarize(metrics)
            for key, value in summary.numbers.items():
                print(f"  {key}: {value}")
            label = verdict_label(summary, metrics)
            print(f"  conclusion matches: {label} ({summary.verdict})")
            if summary.thresholds:
                print(f"  thresholds: {format_thresholds(summary)}")
        print(f"[{figure_id(module_name)}] done in {elapsed:.1f} s; outputs in {workdir}")
        return metrics

    return main
