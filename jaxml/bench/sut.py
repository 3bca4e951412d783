"""A LoadGen System Under Test for any jit-compiled ``apply(params, batch) -> outputs``.

Host-side by nature: the SUT owns a ``jax.jit`` of ``apply`` (this is the jit boundary), a worker
thread and LoadGen callbacks. ``issue_query`` only enqueues ``(id, index)`` pairs; the worker
forms batches padded to a fixed set of bucket sizes (so no shape is new after warm-up), runs them,
waits for the device (``block_until_ready``), copies the outputs to one host array and completes
every sample with a pointer into it; the array stays alive until ``QuerySamplesComplete``
returns (LoadGen copies what it logs inside that call). Offline's single query of every sample is
split into chunks of the largest bucket. The next batch is dispatched before the previous one is
completed (two batches in flight), so completion overlaps device work.

Failure is fail-fast: if ``apply`` raises, or anything compiles after :meth:`JaxSUT.warmup`, the
error is kept, every outstanding sample is completed with an empty (size 0) response, later
queries are completed at once (or held until LoadGen's ``flush_queries`` when ``hold_after_error``
is set, which with ``server_max_async_queries`` ends a Server run early), and
:func:`jaxml.bench.run_test` raises the error after LoadGen returns.
"""

from __future__ import annotations

import bisect
import collections
import threading
import time
from collections.abc import Callable, Sequence

import jax
import mlperf_loadgen as lg
import numpy as np

from jaxml import _validation as v
from jaxml._validation import PyTree
from jaxml.bench.qsl import SampleLibrary

__all__ = ["JaxSUT", "RecompilationError", "SUTError", "compile_events"]

_SET_ID = lg.QuerySampleResponse.id.fset  # the id setter: map()-able, no attribute lookup
_drain = collections.deque(maxlen=0).extend  # runs an iterator to its end in C

_BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
_compile_counts: collections.Counter = collections.Counter()
_listener_lock = threading.Lock()
_listener_on = False


def _on_event(event: str, duration: float, **kwargs) -> None:
    if event == _BACKEND_COMPILE_EVENT:
        _compile_counts[threading.get_ident()] += 1


def compile_events(thread_id: int | None = None) -> int:
    """XLA backend compilations seen so far on ``thread_id`` (default: this thread).

    Counted through ``jax.monitoring`` (the listener is registered on first use).
    """
    global _listener_on
    if thread_id is not None:
        v.check_int(thread_id, "thread_id", minimum=0)
    with _listener_lock:
        if not _listener_on:
            jax.monitoring.register_event_duration_secs_listener(_on_event)
            _listener_on = True
    return _compile_counts[threading.get_ident() if thread_id is None else thread_id]


class SUTError(RuntimeError):
    """The benchmark failed because the System Under Test failed (the cause is chained)."""


class RecompilationError(RuntimeError):
    """Something compiled after warm-up, during the timed run."""


# The batch sizes a SUT compiles by default. Offline runs at the largest: 512 amortizes the
# per-batch host work (gather, dispatch, completing the responses) over 4x the samples of 128,
# which the CNN needed to stay within 0.9x of its raw throughput (0.894 at 128; 1.046 at 512,
# `python -m experiments.benchmarks.mlperf_overhead --models cnn`).
DEFAULT_BUCKETS = (1, 8, 32, 128, 512)


class JaxSUT:
    """System Under Test running ``apply(params, x[b, ...])`` in padded batches.

    Args:
        apply_fn: ``apply_fn(params, x) -> y`` with ``x`` ``[b, ...]`` and ``y`` ``[b, ...]`` one
            array (its rows are the responses). Jitted here (host-side driver).
        params: the parameter pytree (moved to the device once).
        library: the :class:`SampleLibrary` LoadGen loads samples into.
        buckets: the batch sizes compiled at warm-up (sorted; the largest is the biggest batch,
            the one Offline runs at). Default :data:`DEFAULT_BUCKETS`.
        name: the SUT name.
        spin_s: how long the idle worker polls for a new query (``sleep(0)`` loops) before it
            blocks. Default 0: the poll re-takes the GIL at every turn, so LoadGen's thread,
            whose callback needs the GIL to hand the query over, waits behind it (measured on
            SingleStream: hand-off p90 62 us with a 2 ms poll, 18 us without, and 1.75x the
            CPU per query).

    Attributes:
        hold_after_error: after a failure, hold new queries until ``flush_queries`` instead of
            completing them at once; :func:`jaxml.bench.run_test` sets it for Server runs with
            ``server_max_async_queries`` > 0, which LoadGen then ends early.
    """

    def __init__(
        self,
        apply_fn: Callable[[PyTree, jax.Array], jax.Array],
        params: PyTree,
        library: SampleLibrary,
        *,
        buckets: Sequence[int] = DEFAULT_BUCKETS,
        name: str = "jaxml",
        spin_s: float = 0.0,
    ):
        v.check_callable(apply_fn, "apply_fn")
        if not isinstance(library, SampleLibrary):
            raise TypeError(f"library must be a SampleLibrary; got {type(library).__name__}")
        if isinstance(buckets, str) or not hasattr(buckets, "__iter__"):
            raise TypeError(f"buckets must be a sequence of ints; got {buckets!r}")
        buckets = tuple(buckets)
        if not buckets:
            raise ValueError("buckets must hold at least one batch size; got ()")
        for b in buckets:
            v.check_int(b, "buckets", minimum=1)
        if len(set(buckets)) != len(buckets):
            raise ValueError(f"buckets must be distinct; got {buckets}")
        self.buckets = tuple(sorted(buckets))
        self.name = v.check_str(name, "name")
        self.hold_after_error = False
        self.spin_s = float(v.check_scalar(spin_s, "spin_s", minimum=0.0))
        if not jax.tree.leaves(params):
            raise ValueError("params must hold at least one array; got an empty pytree")
        self.library = library
        self.params = jax.device_put(params)
        self._fn = jax.jit(apply_fn)
        # The queue's lock; the idle worker blocks on _wake (a bare lock, held whenever no
        # wake-up is due), which the producer releases once per sleep: the cheapest hand-off
        # CPython has (no per-wait lock allocation as in Condition.wait).
        self._lock = threading.Lock()
        self._wake = threading.Lock()
        self._wake.acquire()
        self._sleeping = False
        self._pending: collections.deque = collections.deque()
        self._held: list = []
        self._stop = False
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.failed = threading.Event()
        self.issued = 0
        self._done: list[np.ndarray] = []  # ids of completed samples, one array per batch
        self.error_responses = 0
        self.batch_sizes: collections.Counter = collections.Counter()
        self.output_shape: tuple[int, ...] | None = None
        self.output_dtype = None
        self._warm_cache = None
        self._warm_compiles = None
        self.flushes = 0

    # ----------------------------------------------------------------- warm-up and lifecycle
    def warmup(self, repeats: int = 2) -> dict[str, float]:
        """Compiles and runs every bucket ``repeats`` times; returns seconds per bucket.

        Must be called before the test starts (compilation is never timed by LoadGen).
        """
        repeats = v.check_int(repeats, "repeats", minimum=1)
        row = self.library.x[:1]
        times = {}
        for b in self.buckets:
            x = np.zeros((b, *row.shape[1:]), row.dtype)
            t0 = time.perf_counter()
            for _ in range(repeats):
                out = np.asarray(jax.block_until_ready(self._fn(self.params, x)))
            times[str(b)] = time.perf_counter() - t0
            if out.ndim < 1 or out.shape[0] != b:
                raise ValueError(
                    f"apply_fn must return one array [b, ...] per batch; got shape {out.shape} "
                    f"for a batch of {b}"
                )
            self.output_shape, self.output_dtype = tuple(out.shape[1:]), out.dtype
        self._warm_cache = self._cache_size()
        # One host output buffer and one response per row of the largest batch, built once: a
        # batch copies its outputs into the buffer and only rewrites the responses' ids (building
        # a QuerySampleResponse costs ~1 us of Python; setting its id ~0.2 us).
        self._out_host = np.zeros((self.buckets[-1], *self.output_shape), self.output_dtype)
        stride = self._out_host[0].nbytes
        base = self._out_host.ctypes.data
        self._pool = [
            lg.QuerySampleResponse(0, base + i * stride, stride) for i in range(len(self._out_host))
        ]
        return times

    @property
    def jitted(self):
        """The SUT's ``jax.jit(apply_fn)`` (for raw measurements of the same compiled code)."""
        return self._fn

    def _cache_size(self) -> int | None:
        size = getattr(self._fn, "_cache_size", None)
        return size() if callable(size) else None

    def start(self) -> None:
        """Starts the worker thread (after :meth:`warmup`).

        A SUT may run several tests one after another (its compiled buckets are reused); each
        start resets the per-test accounting (issued, completed, batch sizes). A SUT that failed
        cannot be started again.
        """
        if self._warm_cache is None and self.output_shape is None:
            raise RuntimeError("call warmup() before start(): compilation must precede the test")
        if self._thread is not None:
            raise RuntimeError("the SUT is already started")
        if self.failed.is_set():
            raise RuntimeError(f"the SUT failed ({self.error!r}); build a new one")
        self._stop = False
        self.issued, self.error_responses, self.flushes = 0, 0, 0
        self._done = []
        self.batch_sizes.clear()
        self._thread = threading.Thread(target=self._worker, name=f"{self.name}-sut", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the worker thread (after LoadGen returned)."""
        with self._lock:
            self._stop = True
            self._wake_worker()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    # ----------------------------------------------------------------- LoadGen callbacks
    # Samples travel as (ids uint64 [k], indices int64 [k]) chunks: an Offline query of
    # millions of samples is two array conversions, not millions of Python tuples.
    def issue_query(self, query_samples) -> None:
        """LoadGen callback (``ConstructSUT``): enqueue the samples (never runs the model)."""
        self.issue_fast([q.id for q in query_samples], [q.index for q in query_samples])

    def issue_fast(self, ids, indices) -> None:
        """LoadGen callback (``ConstructFastSUT``): the same with plain id and index lists."""
        chunk = (np.asarray(ids, np.uint64), np.asarray(indices, np.int64))
        with self._lock:
            self.issued += chunk[0].size
            if self.failed.is_set():
                if self.hold_after_error:
                    self._held.append(chunk)
                    return
            else:
                self._pending.append(chunk)
                self._wake_worker()
                return
        self._complete_empty([chunk])

    def _wake_worker(self) -> None:  # with self._lock held
        if self._sleeping:
            self._sleeping = False
            self._wake.release()

    def flush_queries(self) -> None:
        """LoadGen callback: no more queries will come; release any held after an error."""
        with self._lock:
            held, self._held = self._held, []
            self.flushes += 1
        self._complete_empty(held)

    # ----------------------------------------------------------------- the worker
    def _take(self):
        if self.spin_s and not self._pending:  # poll briefly (GIL released) before sleeping
            deadline = time.perf_counter() + self.spin_s
            while not self._pending and not self._stop and time.perf_counter() < deadline:
                time.sleep(0)
        while True:
            with self._lock:
                if self._pending:
                    return self._pop_batch()
                if self._stop:
                    return None
                self._sleeping = True
            self._wake.acquire()  # released by issue_fast or stop (GIL released while blocked)

    def _pop_batch(self):  # with self._lock held and self._pending non-empty
        a, b = self._pending[0]
        need = self.buckets[-1]
        if a.size == need:  # the common cases first: one whole query or one full batch
            self._pending.popleft()
            return a, b
        if a.size > need:
            self._pending[0] = (a[need:], b[need:])
            return a[:need], b[:need]
        ids, idx = [], []
        while need and self._pending:
            a, b = self._pending[0]
            if a.size <= need:
                self._pending.popleft()
            else:
                self._pending[0] = (a[need:], b[need:])
                a, b = a[:need], b[:need]
            ids.append(a)
            idx.append(b)
            need -= a.size
        if len(ids) == 1:
            return ids[0], idx[0]
        return np.concatenate(ids), np.concatenate(idx)

    def _bucket(self, n: int) -> int:
        return self.buckets[bisect.bisect_left(self.buckets, n)]

    def _dispatch(self, chunk):
        ids, idx = chunk
        x = self.library.gather(idx)
        b = self._bucket(ids.size)
        if b > ids.size:
            x = np.concatenate([x, np.zeros((b - ids.size, *x.shape[1:]), x.dtype)])
        out = self._fn(self.params, x)
        size = self._cache_size()
        if self._warm_cache is not None and size is not None and size != self._warm_cache:
            raise RecompilationError(
                f"apply_fn compiled again during the run (jit cache {self._warm_cache} -> "
                f"{size} entries) for a batch of shape {x.shape}; buckets {self.buckets}"
            )
        if _compile_counts[self._tid] != self._warm_compiles:
            raise RecompilationError(
                f"an XLA compilation happened on the SUT thread during the run (batch shape "
                f"{x.shape}); everything must compile in warmup()"
            )
        self.batch_sizes[b] += 1
        return chunk, out

    def _finish(self, inflight) -> None:
        (ids, _), out = inflight
        n = ids.size
        host = np.asarray(out.block_until_ready())
        self._out_host[:n] = host[:n]  # the responses point into this buffer
        pool = self._pool if n == len(self._pool) else self._pool[:n]
        _drain(map(_SET_ID, pool, ids.tolist()))  # only the ids change between batches
        lg.QuerySamplesComplete(pool)  # LoadGen copies what it logs before this returns
        self._done.append(ids)

    def _worker(self) -> None:
        self._warm_compiles = compile_events()  # registers the listener
        self._tid = threading.get_ident()
        inflight = None
        while True:
            chunk = None
            try:
                if inflight is not None and not self._pending:
                    self._finish(inflight)  # nothing else to overlap with: complete now
                    inflight = None
                chunk = self._take()
                if chunk is None:
                    break
                nxt = self._dispatch(chunk)
                if inflight is not None:
                    self._finish(inflight)
                inflight, chunk = nxt, None
            except BaseException as exc:  # noqa: BLE001 - re-raised by run_test
                self._fail(exc, [inflight[0] if inflight else None, chunk])
                inflight = None
        if inflight is not None:
            try:
                self._finish(inflight)
            except BaseException as exc:  # noqa: BLE001
                self._fail(exc, [inflight[0]])

    def _fail(self, exc: BaseException, outstanding: list) -> None:
        with self._lock:
            if self.error is None:
                self.error = exc
            self.failed.set()
            rest = list(self._pending)
            self._pending.clear()
        todo = [c for c in outstanding if c is not None] + rest
        self._complete_empty(todo, skip_completed=True)

    def _complete_empty(self, chunks: list, skip_completed: bool = False) -> None:
        ids = [int(q) for c in chunks for q in c[0].tolist()]
        if skip_completed:
            done = set(self._completed_ids().tolist())
            ids = [q for q in ids if q not in done]
        ids = list(dict.fromkeys(ids))
        if not ids:
            return
        lg.QuerySamplesComplete([lg.QuerySampleResponse(q, 0, 0) for q in ids])
        self._done.append(np.asarray(ids, np.uint64))
        self.error_responses += len(ids)

    # ----------------------------------------------------------------- accounting
    def completion_report(self) -> dict[str, int]:
        """Issued and completed sample counts; a correct run has ``duplicates == 0`` and
        ``completed_unique == issued``."""
        _, counts = np.unique(self._completed_ids(), return_counts=True)
        return {
            "issued": int(self.issued),
            "completed_unique": int(counts.size),
            "duplicates": int(np.sum(counts > 1)),
            "error_responses": int(self.error_responses),
        }

    @property
    def completed(self) -> collections.Counter:
        """``{response id: times completed}`` so far."""
        return collections.Counter(self._completed_ids().tolist())

    def _completed_ids(self) -> np.ndarray:
        done = list(self._done)  # a snapshot: other threads may append
        return np.concatenate(done) if done else np.zeros(0, np.uint64)

    def decode(self, data: bytes) -> np.ndarray:
        """One response's bytes back to its output row ``[...]`` (shape and dtype of warm-up)."""
        if self.output_shape is None:
            raise RuntimeError("decode needs the output spec: call warmup() first")
        return np.frombuffer(data, self.output_dtype).reshape(self.output_shape)
