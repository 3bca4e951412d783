"""experiments.harness.cache: keyed result caches and per-seed statistics."""

import numpy as np
import pytest

from experiments.harness import (
    cache_key,
    cached_record,
    format_stats,
    load_cached,
    save_cached,
    seed_stats,
)


def test_cache_round_trip_and_stale_key(tmp_path):
    key = cache_key(config={"a": 1}, name="x")
    assert cache_key(name="x", config={"a": 1}) == key  # field order does not matter
    save_cached(tmp_path, "piece", key, emb=np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(
        load_cached(tmp_path, "piece", key)["emb"], np.arange(6.0).reshape(2, 3)
    )
    assert load_cached(tmp_path, "piece", cache_key(config={"a": 2}, name="x")) is None
    assert load_cached(tmp_path, "missing", key) is None


def test_seed_stats_against_numpy():
    v = [0.1, 0.4, 0.25]
    s = seed_stats(v)
    assert s == pytest.approx(
        {"mean": np.mean(v), "std": np.std(v), "min": 0.1, "max": 0.4, "n": 3}
    )
    assert format_stats(v, 2) == f"{np.mean(v):.2f} +- {np.std(v):.2f} [0.10, 0.40]"
    with pytest.raises(ValueError, match="at least one"):
        seed_stats([])


def test_cached_record_computes_once_per_key(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"acc": 0.5, "n": len(calls)}

    first = cached_record(tmp_path, "runs/a", "k1", compute)
    assert cached_record(tmp_path, "runs/a", "k1", compute) == first == {"acc": 0.5, "n": 1}
    assert cached_record(tmp_path, "runs/a", "k2", compute)["n"] == 2  # another key recomputes
    assert len(calls) == 2
