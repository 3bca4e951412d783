"""Experiment configs: frozen dataclasses with named scales, and a CLI built from their fields.

A figure module declares

    @dataclasses.dataclass(frozen=True)
    class Config:
        scale: str = "quick"          # defaults ARE the quick scale
        seed: int = 0
        num_steps: int = 2000
        SCALES: ClassVar[dict] = {"full": {"num_steps": 50_000}, "tiny": {"num_steps": 5}}

and gets ``make_config(Config, "full", seed=3)``: quick defaults, then the scale's overrides, then
the caller's. "tiny" is the size the smoke tests run. The CLI is
``python -m experiments.<paper>.<figure> --scale full --workdir DIR --num_steps 100``.
"""

import argparse
import dataclasses
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

C = TypeVar("C")

BASE_SCALES = ("quick", "full", "tiny")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def scales_of(config_cls: type) -> tuple[str, ...]:
    """The scale names ``config_cls`` accepts: quick, plus the keys of its ``SCALES``."""
    extra = tuple(getattr(config_cls, "SCALES", {}).keys())
    return ("quick",) + tuple(s for s in extra if s != "quick")


def make_config(config_cls: type[C], scale: str = "quick", **overrides: Any) -> C:
    """Builds ``config_cls`` at ``scale`` with ``overrides`` on top.

    Raises:
        ValueError: unknown scale, or an override that names no field of ``config_cls``.
    """
    if not dataclasses.is_dataclass(config_cls):
        raise TypeError(f"config_cls must be a dataclass, got {config_cls!r}")
    allowed = scales_of(config_cls)
    if scale not in allowed:
        raise ValueError(f"scale must be one of {allowed}, got {scale!r}")
    names = {f.name for f in dataclasses.fields(config_cls)}
    values = dict(getattr(config_cls, "SCALES", {}).get(scale, {}))
    values.update(overrides)
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(
            f"{config_cls.__module__}.{config_cls.__qualname__} has no field(s) {unknown}; "
            f"fields are {sorted(names)}"
        )
    if "scale" in names:
        values["scale"] = scale
    return config_cls(**values)


def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false), got {text!r}")


def _converter(tp: Any):
    """Returns ``str -> value`` for a field annotation (int, float, str, bool, tuples, Optional)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = _converter(args[0])
        return lambda s: None if s.lower() == "none" else inner(s)
    if origin is tuple:
        args = typing.get_args(tp)
        elem = _converter(args[0]) if args else str
        return lambda s: tuple(elem(p) for p in s.split(",") if p.strip() != "")
    if tp is bool:
        return _parse_bool
    if tp in (int, float, str):
        return tp
    return str


def build_parser(config_cls: type, *, description: str | None = None) -> argparse.ArgumentParser:
    """An argparse parser with ``--scale``, ``--workdir`` and one ``--<field>`` per config field."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--scale", default="quick", choices=scales_of(config_cls))
    parser.add_argument("--workdir", default=None, help="output folder (default: results/...)")
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        if f.name == "scale":
            continue
        parser.add_argument(
            f"--{f.name}",
            type=_converter(hints[f.name]),
            default=argparse.SUPPRESS,
            help=f"(default at quick scale: {f.default!r})",
        )
    return parser


def parse_config(
    config_cls: type[C], argv: Sequence[str] | None = None, *, description: str | None = None
) -> tuple[C, Path | None]:
    """Parses ``argv`` into ``(config, workdir)``; fields not given keep the scale's value."""
    args = vars(build_parser(config_cls, description=description).parse_args(argv))
    scale = args.pop("scale")
    workdir = args.pop("workdir")
    return make_config(config_cls, scale, **args), (Path(workdir) if workdir else None)


def require_at_least(config: Any, minimum: float, *names: str) -> None:
    """Raises ValueError naming the first field of ``config`` among ``names`` below ``minimum``.

    For ``__post_init__`` checks: ``require_at_least(self, 1, "num_steps", "batch_size")``.
    """
    for name in names:
        value = getattr(config, name)
        if value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
