"""Matplotlib on the Agg backend, with figures saved atomically as PNG."""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from experiments.harness.io import write_atomic  # noqa: E402

plt.rcParams.update(
    {
        "figure.dpi": 110,
        "savefig.dpi": 130,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "font.size": 10,
        "legend.frameon": False,
    }
)


def save_figure(fig: "plt.Figure", path: str | os.PathLike) -> Path:
    """Saves ``fig`` as a PNG at ``path`` (atomically) and closes it."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"figures are saved as PNG; path must end in .png, got {path}")
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png"), binary=True)
    plt.close(fig)
    return path


__all__ = ["plt", "save_figure"]
