"""Fixtures of the tuning tests: toy specs (no JAX in the jobs) and a throwaway PostgreSQL."""

import itertools

import pytest

from jaxml.tune import LocalPostgres, Param, TuneSpec

TOY_JOB = "jaxml.tune.toy:quadratic_job"
TOY_SPACE = (Param("x", low=0.0, high=1.0), Param("y", "int", low=0, high=2))


def toy_spec(workdir, name="s", proposer="random", n_trials=4, **kw) -> TuneSpec:
    """A fast spec on the toy job; heartbeat 1 s, grace 2 s so dead workers show up quickly."""
    kw.setdefault("heartbeat_interval", 1)
    kw.setdefault("grace_period", 2)
    return TuneSpec(
        proposer=proposer,
        n_trials=n_trials,
        params=kw.pop("params", TOY_SPACE),
        job=kw.pop("job", TOY_JOB),
        workdir=str(workdir),
        study_name=name,
        **kw,
    )


@pytest.fixture(scope="module")
def server_storage(tmp_path_factory):
    """``(url, reason)``: a throwaway local PostgreSQL server (loopback, free port, stopped at
    the end of the module), or, when none can start here, an SQLite URL and the reason."""
    pg = LocalPostgres()
    reason = pg.available()
    if reason:
        yield f"sqlite:///{tmp_path_factory.mktemp('no-pg') / 'tune.db'}", reason
        return
    url = pg.start()
    yield url, ""
    pg.stop()


@pytest.fixture(scope="session")
def shared_db(tmp_path_factory):
    """One SQLite file for the session's studies (creating the tables costs ~0.8 s CPU each)."""
    return f"sqlite:///{tmp_path_factory.mktemp('tune-db') / 'tune.db'}"


@pytest.fixture
def make_spec(tmp_path, shared_db, request):
    """``make_spec(**kw)``: :func:`toy_spec` in ``tmp_path``, a fresh study in ``shared_db``."""
    count = itertools.count()

    def make(**kw):
        kw.setdefault("storage", shared_db)
        return toy_spec(tmp_path, name=f"{request.node.name}-{next(count)}", **kw)

    return make
