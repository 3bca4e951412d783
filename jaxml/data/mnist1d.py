"""MNIST-1D (Greydanus, 2020): 1D signals of length 40 made from 10 digit templates.

The data is generated locally with the ``mnist1d`` package (never downloaded). Generation is
deterministic given ``generator_seed`` and takes about a second for the default 5,000 samples, so
the generated arrays are cached as ``.npz`` files keyed by every generator argument.

The package's generator seeds NumPy's and Python's *global* RNGs; :func:`load_mnist1d` saves and
restores both, so calling it leaves no global side effect.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from jaxml._validation import check_bool
from jaxml.data.splits import Dataset, Seed, _check_fraction, _check_positive_int, make_dataset

_CACHE_ENV = "JAXML_CACHE_DIR"
# Bump when the cached arrays' layout or preprocessing changes.
_CACHE_FORMAT = 1


def load_mnist1d(
    *,
    seed: Seed = 0,
    num_samples: int = 5000,
    val_fraction: float = 0.15,
    test_fraction: float = 0.2,
    cache_dir: str | os.PathLike[str] | None = None,
    generator_seed: int = 42,
    cache: bool = True,
) -> Dataset:
    """Generates (or loads from cache) MNIST-1D and splits it (stratified by class) with ``seed``.

    The package's generator makes ``num_samples // 10`` signals per class, shuffles them and
    standardizes the whole set (zero mean, unit standard deviation); its own 80/20 train/test
    split is ignored and the pooled signals are split again here. With the default arguments the
    signals are those of the package's reference ``mnist1d_data.pkl``.

    Args:
      seed: int or JAX PRNG key for the train/val/test split (not for generation).
      num_samples: signals to generate, ``>= 10``; ``10 * (num_samples // 10)`` are made.
      val_fraction: fraction for validation, in ``[0, 1)``.
      test_fraction: fraction for test, in ``[0, 1)``.
      cache_dir: directory for the cached ``.npz``; default ``$JAXML_CACHE_DIR``, else
        ``$XDG_CACHE_HOME/jaxml``, else ``~/.cache/jaxml``.
      generator_seed: the seed of the generator (``args.seed``; 42 is the package's default).
      cache: read and write the cache; ``False`` always regenerates and writes nothing.

    Returns:
      A :class:`~jaxml.data.splits.Dataset` named ``"mnist1d"``: ``float32`` inputs ``[n, 40]``,
      ``int32`` labels in ``[0, 10)``, ``num_classes=10``.
    """
    num_samples = _check_positive_int(num_samples, "num_samples", minimum=10)
    check_bool(cache, "cache")
    _check_fraction(val_fraction, "val_fraction")
    _check_fraction(test_fraction, "test_fraction")
    generator_seed = _check_positive_int(generator_seed, "generator_seed", minimum=0)
    x, y = _generated_arrays(num_samples, generator_seed, cache_dir if cache else False)
    return make_dataset(
        x,
        y,
        name="mnist1d",
        num_classes=10,
        seed=seed,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        class_names=tuple(str(c) for c in range(10)),
    )


# ``mnist1d.data.get_dataset_args()`` of mnist1d 0.0.2, minus the download URL. Kept here so that a
# cache hit never imports the package (importing it pulls in matplotlib and scipy, about 1 s);
# a test checks that it still matches the installed package.
_GENERATOR_DEFAULTS = {
    "num_samples": 5000,
    "train_split": 0.8,
    "template_len": 12,
    "padding": [36, 60],
    "scale_coeff": 0.4,
    "max_translation": 48,
    "corr_noise_scale": 0.25,
    "iid_noise_scale": 2e-2,
    "shear_scale": 0.75,
    "shuffle_seq": False,
    "final_seq_length": 40,
    "seed": 42,
}


def _generator_args(num_samples: int, generator_seed: int) -> dict:
    """The generator's arguments: the package defaults with our sample count and seed."""
    args = {k: list(v) if isinstance(v, list) else v for k, v in _GENERATOR_DEFAULTS.items()}
    args["num_samples"] = num_samples
    args["seed"] = generator_seed
    return args


def _default_cache_dir() -> Path:
    if os.environ.get(_CACHE_ENV):
        return Path(os.environ[_CACHE_ENV]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "jaxml"
    return Path("~/.cache/jaxml").expanduser()


def _cache_path(cache_dir: Path, args: dict) -> Path:
    from importlib.metadata import PackageNotFoundError, version

    try:
        package_version = version("mnist1d")
    except PackageNotFoundError:  # pragma: no cover - the package is a dependency
        package_version = "unknown"
    key = json.dumps(
        {"args": args, "mnist1d": package_version, "format": _CACHE_FORMAT}, sort_keys=True
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir / f"mnist1d_n{args['num_samples']}_s{args['seed']}_{digest}.npz"


def _generated_arrays(
    num_samples: int, generator_seed: int, cache_dir: str | os.PathLike[str] | None | bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(x float32 [n, 40], y int32 [n])``, from the cache when possible."""
    args = _generator_args(num_samples, generator_seed)
    if cache_dir is False:
        return _generate(args)
    cache_dir = _default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
    path = _cache_path(cache_dir, args)
    cached = _read_cache(path)
    if cached is not None:
        return cached
    x, y = _generate(args)
    _write_cache(path, x, y)
    return x, y


def _generate(args: dict) -> tuple[np.ndarray, np.ndarray]:
    from mnist1d.data import get_dataset_args
    from mnist1d.data import make_dataset as _mnist1d_make_dataset

    package_args = get_dataset_args(as_dict=False)
    for name, value in args.items():
        setattr(package_args, name, value)
    np_state = np.random.get_state()  # noqa: NPY002 - the package uses the global RNG
    py_state = random.getstate()
    try:
        # Seeds (and then advances) NumPy's and Python's global RNGs with args.seed.
        data = _mnist1d_make_dataset(package_args)
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    x = np.concatenate([data["x"], data["x_test"]]).astype(np.float32)
    y = np.concatenate([data["y"], data["y_test"]]).astype(np.int32)
    return x, y


def _read_cache(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            x, y = f["x"], f["y"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # A corrupt or foreign file: regenerate and overwrite it.
    if x.dtype != np.float32 or y.dtype != np.int32 or x.ndim != 2 or y.shape != x.shape[:1]:
        return None
    return x, y


def _write_cache(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    """Writes atomically (temporary file + ``os.replace``); warns instead of failing."""
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, x=x, y=y)
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as e:
        warnings.warn(f"could not cache MNIST-1D at {path}: {e}", RuntimeWarning, stacklevel=3)
    finally:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.remove(tmp_name)
