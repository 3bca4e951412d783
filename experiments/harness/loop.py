"""A resumable, checkpointed training loop with a progress bar.

``train_loop`` runs ``step_fn`` from the last checkpoint (or from ``init_state``) up to
``num_steps``, evaluating every ``eval_every`` steps and checkpointing every ``checkpoint_every``
steps and at the end. Randomness must be a function of the step index (e.g.
``jax.random.fold_in(key, step)``), never of Python-side state, so that a run killed at any point
and resumed ends bit-identical to an uninterrupted one.

For tests of that property the environment variable ``JAXML_CRASH_AT_STEP=N`` makes the process
exit abruptly (``os._exit``: no cleanup, no flush, like SIGKILL) right after step N completes.
"""

import dataclasses
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
from tqdm.auto import tqdm

from experiments.harness.checkpoint import Checkpointer

PyTree = Any
CRASH_ENV = "JAXML_CRASH_AT_STEP"
PROGRESS_ENV = "JAXML_PROGRESS"


class NonFiniteLossError(FloatingPointError):
    """A loss logged by the step function became NaN or inf; the run stops there."""


class LoopResult(NamedTuple):
    """What :func:`train_loop` returns.

    Attributes:
        state: the final state.
        history: the list of eval records, each ``{"step": s, **eval_fn(state)}``.
        resumed_from: the checkpoint step the run started from (0 if fresh).
        train_seconds: wall time of the steps run in this process (excluding eval and saves).
    """

    def stacked_history(self) -> dict[str, np.ndarray]:
        """The history as arrays: ``{"step": [E], key: [E, ...]}`` over the E eval records."""
        return stack_history(self.history)

    state: PyTree
    history: list[dict[str, Any]]
    resumed_from: int
    train_seconds: float


def progress_enabled() -> bool:
    """Progress bars are on unless ``JAXML_PROGRESS=0``."""
    return os.environ.get(PROGRESS_ENV, "1") not in ("0", "false", "no")


def train_loop(
    init_state: PyTree,
    step_fn: Callable[[PyTree, int], tuple[PyTree, dict[str, Any]]],
    *,
    num_steps: int,
    checkpoint_dir: str | Path | None,
    checkpoint_every: int = 500,
    eval_fn: Callable[[PyTree], dict[str, Any]] | None = None,
    eval_every: int = 100,
    desc: str = "train",
    config: Any = None,
) -> LoopResult:
    """Runs ``state = step_fn(state, step)`` for ``step`` in ``[start, num_steps)``.

    Args:
        init_state: the state at step 0 (also the template for restoring).
        step_fn: ``(state, step) -> (state, logs)``; usually jitted by the caller. ``logs`` are
            shown in the progress bar; every log whose name contains ``"loss"`` is checked at
            each host sync (every 50 steps, at evaluations and at the end) and a NaN or inf one
            stops the run with :class:`NonFiniteLossError` naming the step.
        num_steps: total number of steps of the run.
        checkpoint_dir: where to checkpoint; None disables checkpointing and resuming.
        checkpoint_every: save after every this many steps (and always after the last one).
        eval_fn: ``state -> dict`` of metrics (scalars or arrays), run at step 0, every
            ``eval_every`` steps and at the end; the records form the returned history (arrays
            are stored as nested lists; :meth:`LoopResult.stacked_history` stacks them back).
        eval_every: evaluation period in steps.
        desc: the progress bar's label.
        config: the run's configuration (a dataclass or a mapping of JSON-able values). It is
            saved with every checkpoint, and a checkpoint written under a different config is
            refused (the error names the fields that differ) instead of being silently resumed.

    Raises:
        ValueError: ``num_steps`` < 0, a period < 1, a checkpoint written with a different
            ``config``, or a checkpoint whose step is past ``num_steps``.
    """
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    if checkpoint_every < 1 or eval_every < 1:
        raise ValueError(
            f"checkpoint_every and eval_every must be >= 1, got {checkpoint_every}, {eval_every}"
        )
    crash_at = int(os.environ[CRASH_ENV]) if os.environ.get(CRASH_ENV) else None

    saved_config = _config_record(config)
    state, history, start = init_state, [], 0
    ckpt = Checkpointer(checkpoint_dir) if checkpoint_dir is not None else None
    try:
        if ckpt is not None:
            restored = ckpt.restore(init_state)
            if restored is not None:
                start, state, record = restored
                _check_resumable(ckpt.directory, start, num_steps, record.get("config"), config)
                history = list(record["history"])

        def evaluate(step: int) -> None:
            if eval_fn is None or (history and history[-1]["step"] == step):
                return
            record = {"step": step}
            for k, value in eval_fn(state).items():
                arr = np.asarray(value)
                record[k] = float(arr) if arr.ndim == 0 else arr.tolist()
            history.append(record)

        def check_losses(logs: dict[str, Any], step: int) -> None:
            for k, value in logs.items():
                if "loss" in k and not np.all(np.isfinite(np.asarray(value))):
                    saved = ckpt.latest_step() if ckpt is not None else None
                    raise NonFiniteLossError(
                        f"{k} is {np.asarray(value).tolist()} after step {step}; the run stops "
                        f"here (last checkpoint: {saved}). Lower the learning rate or check the "
                        "inputs for NaN."
                    )

        if start == 0:
            evaluate(0)
        train_seconds = 0.0
        bar = tqdm(
            total=num_steps,
            initial=start,
            desc=desc,
            disable=not progress_enabled(),
            mininterval=0.5,
            dynamic_ncols=True,
        )
        with bar:
            for step in range(start, num_steps):
                t0 = time.perf_counter()
                state, logs = step_fn(state, step)
                done = step + 1
                if done % 50 == 0 or done == num_steps or done % eval_every == 0:
                    jax.block_until_ready(state)
                    train_seconds += time.perf_counter() - t0
                    check_losses(logs, done)
                    bar.set_postfix(_postfix(logs), refresh=False)
                else:
                    train_seconds += time.perf_counter() - t0
                bar.update(1)
                if done % eval_every == 0 or done == num_steps:
                    evaluate(done)
                if ckpt is not None and (done % checkpoint_every == 0 or done == num_steps):
                    ckpt.save(done, state, {"history": history, "config": saved_config})
                if crash_at is not None and done == crash_at:
                    os._exit(17)
        if num_steps == start:
            evaluate(num_steps)
    finally:
        if ckpt is not None:
            ckpt.close()
    return LoopResult(state, history, start, train_seconds)


def _config_record(config: Any) -> dict[str, Any] | None:
    """``config`` as the JSON-able dict stored in checkpoints (None when not given)."""
    from experiments.harness.io import to_jsonable

    if config is None:
        return None
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dataclass instance or a mapping, got {type(config)}")
    return to_jsonable(dict(config))


def _check_resumable(
    directory: Path, step: int, num_steps: int, saved: dict | None, config: Any
) -> None:
    """Refuses a checkpoint that this run must not continue from (see :func:`train_loop`)."""
    current = _config_record(config)
    if saved is not None and current is not None and saved != current:
        fields = sorted(set(saved) | set(current))
        diff = [
            f"{k}: checkpoint {saved.get(k, '<missing>')!r} vs now {current.get(k, '<missing>')!r}"
            for k in fields
            if saved.get(k, "<missing>") != current.get(k, "<missing>")
        ]
        raise ValueError(
            f"the checkpoint in {directory} was written with a different config ("
            + "; ".join(diff)
            + "); use another --workdir or delete that folder to start afresh"
        )
    if step > num_steps:
        raise ValueError(
            f"the checkpoint in {directory} is at step {step}, past num_steps={num_steps}; "
            "use another --workdir or delete that folder to start afresh"
        )


def _postfix(logs: dict[str, Any]) -> dict[str, str]:
    """Scalar logs for the progress bar (arrays are shown by their mean)."""
    return {k: f"{float(np.mean(np.asarray(v))):.4g}" for k, v in logs.items()}


def stack_history(history: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """``[{"step": 0, "loss": [..]}, ...]`` -> ``{"step": [E], "loss": [E, ...]}``.

    Keys missing from some records are left out (they were not evaluated every time).
    """
    if not history:
        return {}
    keys = [k for k in history[0] if all(k in r for r in history)]
    return {k: np.asarray([r[k] for r in history]) for k in keys}
