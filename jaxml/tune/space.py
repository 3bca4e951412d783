"""The search space: one :class:`Param` per hyperparameter (float, int or categorical).

A space is a tuple of :class:`Param`; :func:`suggest` draws a configuration through an Optuna trial
(so whatever sampler the study uses proposes it), :func:`distributions` gives Optuna's own
distribution objects, and :func:`grid_values` the finite grid that ``GridSampler`` walks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna

from jaxml import _validation as chk

KINDS = ("float", "int", "categorical")


@dataclasses.dataclass(frozen=True)
class Param:
    """One hyperparameter.

    Attributes:
        name: the key under which the job receives the value.
        kind: "float", "int" or "categorical".
        low, high: the range for float/int (``low < high``; ``low > 0`` when ``log``).
        log: sample on a log scale (float/int).
        choices: the values of a categorical parameter (JSON scalars, at least one).
        grid: explicit grid values for ``GridSampler`` (default: ``grid_size`` points spread over
            the range, on the log scale when ``log``; every choice for categoricals).
    """

    name: str
    kind: str = "float"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple | None = None
    grid: tuple | None = None

    def __post_init__(self):
        chk.check_str(self.name, "name")
        chk.check_choice(self.kind, "kind", KINDS)
        chk.check_bool(self.log, "log")
        if self.kind == "categorical":
            if self.choices is None or isinstance(self.choices, str):
                raise TypeError(f"choices must be a sequence for categorical {self.name!r}")
            choices = tuple(self.choices)
            if not choices:
                raise ValueError(f"choices must hold at least one value for {self.name!r}; got ()")
            for c in choices:
                if c is not None and not isinstance(c, str | int | float | bool):
                    raise TypeError(f"choices of {self.name!r} must be JSON scalars; got {c!r}")
            object.__setattr__(self, "choices", choices)
            return
        if self.choices is not None:
            raise ValueError(f"choices is only for categorical parameters ({self.name!r})")
        check = chk.check_int if self.kind == "int" else chk.check_scalar
        low, high = check(self.low, "low"), check(self.high, "high")
        if not low < high:
            what = "empty" if low == high else "inverted"
            raise ValueError(
                f"low must be < high for {self.name!r}; got an {what} range [{low}, {high}]"
            )
        if self.log and low <= 0:
            raise ValueError(f"low must be > 0 for log-scale {self.name!r}; got {low}")
        if self.grid is not None:
            grid = tuple(self.grid)
            if not grid:
                raise ValueError(f"grid must hold at least one value for {self.name!r}")
            for g in grid:
                check(g, "grid")
                if not low <= g <= high:
                    raise ValueError(f"grid value {g} of {self.name!r} is outside [{low}, {high}]")
            object.__setattr__(self, "grid", grid)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``Param(**d)`` rebuilds it)."""
        d = {"name": self.name, "kind": self.kind}
        if self.kind == "categorical":
            d["choices"] = list(self.choices)
        else:
            d.update(low=self.low, high=self.high, log=self.log)
        if self.grid is not None:
            d["grid"] = list(self.grid)
        return d


def param_from_dict(d: Any) -> Param:
    """A :class:`Param` from its JSON form (``"type"`` is accepted as an alias of ``"kind"``)."""
    if not isinstance(d, dict):
        raise TypeError(f"params entries must be objects (dicts); got {type(d).__name__}")
    d = dict(d)
    if "type" in d:
        d["kind"] = d.pop("type")
    unknown = sorted(set(d) - {f.name for f in dataclasses.fields(Param)})
    if unknown:
        raise ValueError(f"params entry {d.get('name')!r} has unknown field(s) {unknown}")
    for key in ("choices", "grid"):
        if isinstance(d.get(key), list):
            d[key] = tuple(d[key])
    return Param(**d)


def check_space(params: Any, name: str = "params") -> tuple[Param, ...]:
    """A non-empty sequence of :class:`Param` (or their dicts) with distinct names."""
    if isinstance(params, str | dict) or not hasattr(params, "__iter__"):
        raise TypeError(f"{name} must be a sequence of Param; got {type(params).__name__}")
    out = []
    for i, p in enumerate(params):
        try:
            out.append(p if isinstance(p, Param) else param_from_dict(p))
        except (TypeError, ValueError) as e:
            raise type(e)(f"{name}[{i}]: {e}") from None
    out = tuple(out)
    if not out:
        raise ValueError(f"{name} must hold at least one Param; got an empty space")
    names = [p.name for p in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{name} has duplicate parameter names {dup}")
    return out


def distributions(params: Sequence[Param]) -> dict[str, optuna.distributions.BaseDistribution]:
    """Optuna's distribution for each parameter, by name."""
    params = check_space(params, "params")
    out = {}
    for p in params:
        if p.kind == "float":
            out[p.name] = optuna.distributions.FloatDistribution(p.low, p.high, log=p.log)
        elif p.kind == "int":
            out[p.name] = optuna.distributions.IntDistribution(p.low, p.high, log=p.log)
        else:
            out[p.name] = optuna.distributions.CategoricalDistribution(p.choices)
    return out


def suggest(trial: optuna.trial.BaseTrial, params: Sequence[Param]) -> dict[str, Any]:
    """The configuration ``{name: value}`` proposed by ``trial``'s sampler."""
    if not isinstance(trial, optuna.trial.BaseTrial):
        raise TypeError(f"trial must be an optuna trial; got {type(trial).__name__}")
    return {name: _suggest_one(trial, name, d) for name, d in distributions(params).items()}


def _suggest_one(trial, name, dist):
    if isinstance(dist, optuna.distributions.FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log)
    if isinstance(dist, optuna.distributions.IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log)
    return trial.suggest_categorical(name, dist.choices)


def grid_values(params: Sequence[Param], grid_size: int = 3) -> dict[str, list]:
    """The grid ``GridSampler`` walks: each parameter's ``grid`` or ``grid_size`` spread values."""
    params = check_space(params, "params")
    grid_size = chk.check_int(grid_size, "grid_size", minimum=1)
    out = {}
    for p in params:
        if p.grid is not None:
            out[p.name] = list(p.grid)
        elif p.kind == "categorical":
            out[p.name] = list(p.choices)
        else:
            pts = (
                np.geomspace(p.low, p.high, grid_size)
                if p.log
                else np.linspace(p.low, p.high, grid_size)
            )
            if p.kind == "int":
                out[p.name] = sorted({int(round(v)) for v in pts})
            else:
                out[p.name] = [float(v) for v in pts]
    return out


def grid_size_of(params: Sequence[Param], grid_size: int = 3) -> int:
    """The number of grid points (the product of the per-parameter grid lengths)."""
    return math.prod(len(v) for v in grid_values(params, grid_size).values())
