"""openml's cache goes to a fresh temporary directory before openml is imported, so these tests
never read or write ~/.cache/openml (or ~/.openml); every test also points the cache at its own
module's temporary directory with jaxml.openml.use_cache."""

import os
import tempfile

os.environ.setdefault("OPENML_CACHE_DIR", tempfile.mkdtemp(prefix="jaxml-test-openml-"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# Small shared settings: every JaxmlClassifier in these tests has this structure, so the fit and
# predict programs compile once for the whole directory.
SMALL = dict(hidden=(8,), num_steps=40, batch_size=16, learning_rate=0.05, seed=0)


def blobs(n=90, d=5, k=3, seed=0):
    """``k`` Gaussian blobs: float32 ``[n, d]`` features, int labels ``[n]`` (balanced)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    centers = rng.normal(scale=3.0, size=(k, d))
    x = (centers[y] + rng.normal(size=(n, d))).astype(np.float32)
    return x, y


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    from jaxml import openml as jo

    path = tmp_path_factory.mktemp("openml_cache")
    jo.use_cache(path)
    return path


@pytest.fixture(autouse=True)
def _openml_points_at_test_cache(request):
    """Every test starts (and ends) with openml configured for the session's temporary cache,
    whatever an earlier test set; tests that need none of it do not create the cache."""
    if "cache_dir" in request.fixturenames or request.module.__name__.endswith(("runs", "cache")):
        from jaxml import openml as jo

        cache = request.getfixturevalue("cache_dir")
        jo.use_cache(cache)
        yield
        jo.use_cache(cache)
    else:
        yield


@pytest.fixture(scope="session")
def data():
    return blobs()


@pytest.fixture(scope="session")
def task(cache_dir, data):
    from jaxml import openml as jo

    x, y = data
    tid = jo.cache_local_task(x, y, "blobs", n_folds=3, cache_dir=cache_dir)
    return jo.get_task(tid, cache_dir=cache_dir)


@pytest.fixture(scope="session")
def jaxml_run(task):
    """``(model, run, trace counts before, after)`` of a JaxmlClassifier run on ``task``."""
    from jaxml import openml as jo

    model = jo.JaxmlClassifier(**SMALL)
    before = jo.trace_counts()
    run = jo.run_on_task(model, task)
    return model, run, before, jo.trace_counts()
