"""The experiment spec: what to tune, with which proposer, how many trials, where to store them.

A :class:`TuneSpec` is a frozen dataclass that round-trips through JSON (:func:`load_spec`,
:meth:`TuneSpec.to_dict`), so the same file drives one process, ``n_parallel`` processes on one
machine, or one driver per machine against a shared PostgreSQL URL. Every field is checked when
the spec is built, before any job runs.

Example spec file::

    {"proposer": "tpe", "n_trials": 20, "study_name": "mlp", "workdir": "runs/mlp",
     "job": "jaxml.tune.digits:mlp_job", "job_kwargs": {"num_steps": 300},
     "params": [{"name": "lr_head", "type": "float", "low": 1e-4, "high": 0.3, "log": true}]}
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from pathlib import Path
from typing import Any

from jaxml import _validation as chk
from jaxml.tune.space import Param, check_space, grid_size_of

PROPOSERS = ("random", "grid", "tpe", "hyperband", "cmaes", "ift")
DIRECTIONS = ("minimize", "maximize")
STORAGE_SCHEMES = ("sqlite", "postgresql", "mysql")


@dataclasses.dataclass(frozen=True)
class TuneSpec:
    """One tuning run.

    Attributes:
        proposer: "random", "grid", "tpe", "hyperband" (random proposals + Optuna's
            ``HyperbandPruner``), "cmaes" (needs the ``cmaes`` package) or "ift" (the job's
            gradient-based twin ``ift_job``, see :mod:`jaxml.tune.digits`).
        n_trials: the budget: trials that end COMPLETE or PRUNED (failed ones do not count).
        params: the search space (:class:`~jaxml.tune.space.Param` or their dicts).
        job: ``"package.module:function"``; called ``job(config, reporter, **job_kwargs)``.
        workdir: where the default SQLite file, the spec copy and worker logs go.
        direction: "minimize" or "maximize" the job's score.
        n_parallel: worker processes on this machine sharing the storage.
        retries: times a failed job (an exception, or a worker that died) is run again.
        storage: an SQLAlchemy URL (``sqlite:///...``, ``postgresql://user@host:port/db``);
            None means ``sqlite:///<workdir>/tune.db``.
        study_name: the study inside the storage (one per method/seed to compare them).
        ift_job: the gradient-based job the "ift" proposer runs (same signature as ``job``).
        job_kwargs: fixed keyword arguments of the job (JSON values).
        seed: the sampler's seed.
        n_startup_trials: random trials before TPE models the results (None: Optuna's 10).
        grid_size: points per float/int parameter for "grid" (unless the Param has ``grid``).
        min_resource, reduction_factor, max_resource: ``HyperbandPruner``'s arguments
            (resource = reported steps; ``max_resource=None`` is Optuna's "auto").
        heartbeat_interval, grace_period: seconds; a RUNNING trial whose heartbeat is older
            than ``grace_period`` (default ``2 * heartbeat_interval``) belongs to a dead worker
            and is marked FAIL, then retried.
        max_failures: stop with an error after this many failed trials (default
            ``n_trials * (retries + 1)``), so a job that always crashes cannot loop forever.
    """

    proposer: str
    n_trials: int
    params: tuple[Param, ...]
    job: str
    workdir: str
    direction: str = "minimize"
    n_parallel: int = 1
    retries: int = 1
    storage: str | None = None
    study_name: str = "tune"
    ift_job: str | None = None
    job_kwargs: dict = dataclasses.field(default_factory=dict)
    seed: int = 0
    n_startup_trials: int | None = None
    grid_size: int = 3
    min_resource: int = 1
    reduction_factor: int = 3
    max_resource: int | None = None
    heartbeat_interval: int = 5
    grace_period: int | None = None
    max_failures: int | None = None

    def __post_init__(self):
        chk.check_choice(self.proposer, "proposer", PROPOSERS)
        chk.check_int(self.n_trials, "n_trials", minimum=1)
        object.__setattr__(self, "params", check_space(self.params, "params"))
        check_job_ref(self.job, "job")
        chk.check_path(self.workdir, "workdir")
        object.__setattr__(self, "workdir", os.fspath(self.workdir))
        chk.check_choice(self.direction, "direction", DIRECTIONS)
        chk.check_int(self.n_parallel, "n_parallel", minimum=1)
        chk.check_int(self.retries, "retries", minimum=0)
        if self.storage is not None:
            check_storage_url(self.storage, "storage")
        chk.check_str(self.study_name, "study_name")
        if self.ift_job is not None:
            check_job_ref(self.ift_job, "ift_job")
        if self.proposer == "ift" and self.ift_job is None:
            raise ValueError("ift_job must name the gradient-based job when proposer is 'ift'")
        if not isinstance(self.job_kwargs, dict):
            raise TypeError(f"job_kwargs must be a dict; got {type(self.job_kwargs).__name__}")
        try:
            json.dumps(self.job_kwargs)
        except TypeError as e:
            raise TypeError(f"job_kwargs must hold JSON values only: {e}") from None
        chk.check_int(self.seed, "seed", minimum=0)
        if self.n_startup_trials is not None:
            chk.check_int(self.n_startup_trials, "n_startup_trials", minimum=1)
        chk.check_int(self.grid_size, "grid_size", minimum=1)
        chk.check_int(self.min_resource, "min_resource", minimum=1)
        chk.check_int(self.reduction_factor, "reduction_factor", minimum=2)
        if self.max_resource is not None:
            chk.check_int(self.max_resource, "max_resource", minimum=self.min_resource)
        chk.check_int(self.heartbeat_interval, "heartbeat_interval", minimum=1)
        if self.grace_period is not None:
            chk.check_int(self.grace_period, "grace_period", minimum=self.heartbeat_interval + 1)
        if self.max_failures is not None:
            chk.check_int(self.max_failures, "max_failures", minimum=0)
        if self.proposer == "grid":
            size = grid_size_of(self.params, self.grid_size)
            if self.n_trials > size:
                raise ValueError(
                    f"n_trials must be <= the grid's {size} points for proposer 'grid'; "
                    f"got {self.n_trials} (raise grid_size or give Param.grid)"
                )

    @property
    def storage_url(self) -> str:
        """``storage``, or ``sqlite:///<absolute workdir>/tune.db``."""
        if self.storage is not None:
            return self.storage
        return f"sqlite:///{Path(self.workdir).absolute() / 'tune.db'}"

    @property
    def failure_limit(self) -> int:
        """``max_failures`` or its default ``n_trials * (retries + 1)``."""
        if self.max_failures is not None:
            return self.max_failures
        return self.n_trials * (self.retries + 1)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; :func:`spec_from_dict` rebuilds an equal spec."""
        d = dataclasses.asdict(self)
        d["params"] = [p.to_dict() for p in self.params]
        return d


def spec_from_dict(d: Any) -> TuneSpec:
    """A :class:`TuneSpec` from its JSON form (unknown keys are an error)."""
    if not isinstance(d, dict):
        raise TypeError(f"d must be a dict (a JSON object); got {type(d).__name__}")
    names = {f.name for f in dataclasses.fields(TuneSpec)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"d has unknown spec field(s) {unknown}; fields are {sorted(names)}")
    missing = sorted(n for n in ("proposer", "n_trials", "params", "job", "workdir") if n not in d)
    if missing:
        raise ValueError(f"d is missing required spec field(s) {missing}")
    return TuneSpec(**d)


def load_spec(path: str | os.PathLike) -> TuneSpec:
    """Reads a spec from a JSON file (see the module docstring for an example)."""
    path = chk.check_path(path, "path", exists="file")
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"path {path} is not valid JSON: {e}") from None
    return spec_from_dict(d)


def check_job_ref(ref: Any, name: str) -> str:
    """``"package.module:attribute"`` (the job is imported later, in each worker)."""
    chk.check_str(ref, name)
    module, sep, attr = ref.partition(":")
    if (
        not sep
        or not module
        or not attr
        or not all(part.isidentifier() for part in module.split(".") + attr.split("."))
    ):
        raise ValueError(f"{name} must look like 'package.module:function'; got {ref!r}")
    return ref


def check_storage_url(url: Any, name: str = "storage") -> str:
    """An SQLAlchemy URL whose scheme is sqlite, postgresql or mysql (with a driver suffix)."""
    chk.check_str(url, name)
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if "://" not in url or scheme not in STORAGE_SCHEMES:
        raise ValueError(
            f"{name} must be an SQLAlchemy URL like sqlite:///path/tune.db or "
            f"postgresql://user@host:port/db; got {url!r}"
        )
    return url


def check_workdir(workdir: str | os.PathLike, name: str = "workdir") -> Path:
    """Creates ``workdir`` if needed and proves it writable by writing a file there.

    Raises:
        ValueError: it cannot be created or written (also as root, where permission bits do not
            stop writes: the probe is a real write).
    """
    path = chk.check_path(workdir, name)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{uuid.uuid4().hex}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise ValueError(f"{name} {path} is not a writable folder: {e.strerror or e}") from None
    return path
