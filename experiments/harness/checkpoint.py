"""Resumable runs: orbax checkpoints of a state pytree together with a JSON side record.

The state (params, optimizer state, step, ...) and the JSON record (the metric history so far) are
saved as the two items of ONE orbax checkpoint, so they can never disagree after a crash. Orbax
writes each checkpoint to a temporary folder and renames it when complete, so a process killed
mid-save leaves the previous checkpoint as the latest.
"""

import logging
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

PyTree = Any

# orbax logs every save at INFO level through absl; keep experiment output readable.
logging.getLogger("absl").setLevel(logging.WARNING)


class Checkpointer:
    """Saves and restores ``(step, state, record)`` under ``directory``.

    Args:
        directory: folder for the checkpoints (created if needed).
        max_to_keep: how many recent checkpoints to keep on disk.
    """

    def __init__(self, directory: str | Path, *, max_to_keep: int = 2):
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep,
            enable_async_checkpointing=False,
            create=True,
        )
        self._manager = ocp.CheckpointManager(
            self.directory, options=options, item_names=("state", "record")
        )

    def latest_step(self) -> int | None:
        """The step of the newest complete checkpoint, or None."""
        return self._manager.latest_step()

    def save(self, step: int, state: PyTree, record: Any) -> None:
        """Saves ``state`` (arrays) and ``record`` (JSON-able) as checkpoint ``step``."""
        from experiments.harness.io import to_jsonable

        self._manager.save(
            int(step),
            args=ocp.args.Composite(
                state=ocp.args.StandardSave({"tree": state}),  # any pytree, even one array
                record=ocp.args.JsonSave(to_jsonable(record)),
            ),
            force=True,
        )
        self._manager.wait_until_finished()

    def restore(self, template: PyTree | None = None) -> tuple[int, PyTree, Any] | None:
        """Restores the newest checkpoint into the structure/dtypes of ``template``.

        With ``template=None`` the arrays come back as saved (for inspection and tests).

        Returns:
            ``(step, state, record)``, or None when there is no checkpoint.
        """
        step = self.latest_step()
        if step is None:
            return None
        abstract = (
            None
            if template is None
            else jax.tree.map(ocp.utils.to_shape_dtype_struct, {"tree": template})
        )
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract), record=ocp.args.JsonRestore()
            ),
        )
        return step, restored.state["tree"], restored.record

    def close(self) -> None:
        self._manager.close()

    def __enter__(self) -> "Checkpointer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
