"""A Query Sample Library over in-memory dataset arrays, honouring LoadGen's load/unload calls."""

from __future__ import annotations

import threading

import numpy as np

from jaxml import _validation as v

__all__ = ["SampleLibrary"]


class SampleLibrary:
    """The QSL LoadGen samples from: ``x`` ``[n, ...]`` inputs (and optional ``labels`` ``[n]``).

    LoadGen calls :meth:`load_samples` with the indices of the performance set before it issues
    queries and :meth:`unload_samples` after. Loading copies those rows into a host staging area
    (the "RAM" of the MLPerf rules); :meth:`gather` serves only loaded rows and raises
    ``KeyError`` for any other, so a SUT that touches an unloaded sample fails loudly.

    Args:
        x: ``[n, ...]`` float inputs, one row per sample.
        labels: optional ``[n]`` integer labels (kept for accuracy checks, never sent to the SUT).
        performance_sample_count: how many samples fit in "RAM" (LoadGen's performance set size);
            default ``n``.
    """

    def __init__(self, x, labels=None, *, performance_sample_count: int | None = None):
        shape = v.check_array(x, "x", min_ndim=1, dtype="float", min_size=1)
        self.x = np.asarray(x)
        self.labels = None
        if labels is not None:
            v.check_array(labels, "labels", shape=(shape[0],), dtype="int", minimum=0)
            self.labels = np.asarray(labels)
        n = shape[0]
        if performance_sample_count is None:
            performance_sample_count = n
        self.performance_sample_count = v.check_int(
            performance_sample_count, "performance_sample_count", minimum=1, maximum=n
        )
        self._lock = threading.Lock()
        self._rows = np.full(n, -1, np.int64)  # sample index -> row of the staging area
        self._staged = self.x[:0]
        self.load_calls = 0
        self.unload_calls = 0

    @property
    def total_sample_count(self) -> int:
        """``n``: every sample in the library."""
        return int(self.x.shape[0])

    @property
    def loaded(self) -> np.ndarray:
        """Sorted indices of the samples loaded now."""
        return np.flatnonzero(self._rows >= 0)

    def load_samples(self, indices) -> None:
        """LoadGen callback: stage ``indices`` (a list of sample indices) in host memory."""
        idx = self._check_indices(indices)
        with self._lock:
            keep = self.loaded
            new = np.union1d(keep, idx)
            self._staged = np.ascontiguousarray(self.x[new])
            self._rows[:] = -1
            self._rows[new] = np.arange(new.size)
            self.load_calls += 1

    def unload_samples(self, indices) -> None:
        """LoadGen callback: drop ``indices`` from the staging area."""
        idx = self._check_indices(indices)
        with self._lock:
            keep = np.setdiff1d(self.loaded, idx)
            self._staged = np.ascontiguousarray(self.x[keep])
            self._rows[:] = -1
            self._rows[keep] = np.arange(keep.size)
            self.unload_calls += 1

    def gather(self, indices) -> np.ndarray:
        """Rows ``[len(indices), ...]`` of loaded samples (``KeyError`` if one is not loaded)."""
        idx = np.asarray(indices, np.int64)
        with self._lock:  # take(): the cheapest gather (on the SUT's per-batch path)
            rows = self._rows.take(idx)
            if rows.size and rows.min() < 0:
                missing = idx[rows < 0][:5].tolist()
                raise KeyError(f"samples {missing} were not loaded by LoadGen (load_samples)")
            return self._staged.take(rows, axis=0)

    def _check_indices(self, indices) -> np.ndarray:
        idx = np.asarray(list(indices), np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.total_sample_count):
            raise ValueError(
                f"indices must lie in [0, {self.total_sample_count}); got {idx.min()}..{idx.max()}"
            )
        return idx
