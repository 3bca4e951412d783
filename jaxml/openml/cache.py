"""Pointing openml-python at a local cache, and loading tasks from it with no network.

openml keeps everything it downloads under ``<root>/<reversed server host>/``, for the official
server ``<root>/org/openml/www/``: ``datasets/<id>/`` (``description.xml``, ``features.xml``,
``dataset.arff`` or ``.pq``) and ``tasks/<id>/`` (``task.xml``, ``datasplits.arff``). When those
files are present, ``openml.tasks.get_task`` reads them and sends no request. When they are not,
openml would go to the server with no request timeout and up to 5 retries with growing sleeps, so
an offline machine can wait a long time. :func:`get_task` checks the cache first and fails at once
(offline) or after one bounded connection probe (online) with an error that says what is missing.

Host-side code (file system and configuration), not jit-able.
"""

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import openml
import xmltodict

from jaxml import _validation as v

__all__ = [
    "DEFAULT_SERVER",
    "ServerUnreachableError",
    "TaskNotCachedError",
    "cached_task_files",
    "get_task",
    "use_cache",
]

DEFAULT_SERVER = "https://www.openml.org/api/v1/xml"


class TaskNotCachedError(FileNotFoundError):
    """The task (or its dataset) is not in openml's cache and the network may not be used."""


class ServerUnreachableError(ConnectionError):
    """The task is not cached and the OpenML server did not answer within the timeout."""


def use_cache(cache_dir: str | Path, *, server: str = DEFAULT_SERVER, n_retries: int = 1) -> Path:
    """Configures openml-python to use ``cache_dir`` as its root cache; returns the server's dir.

    Sets (process-wide, as openml's own ``openml.config`` does) the root cache directory (and
    the ``OPENML_CACHE_DIR`` environment variable, which openml's per-fold setup prefers), the
    server, one connection attempt per request (``n_retries``; openml's default is 5 with
    growing sleeps) and ``avoid_duplicate_runs=False`` (that check needs the server).

    Args:
        cache_dir: the root cache directory (created if missing).
        server: the OpenML REST endpoint; its host names the cache subfolder
            (``org/openml/www`` for the default).
        n_retries: connection attempts per request, ``>= 1``.

    Returns:
        The cache directory openml reads for ``server``, e.g. ``<cache_dir>/org/openml/www``.
    """
    v.check_path(cache_dir, "cache_dir")
    v.check_str(server, "server")
    if not urlparse(server).netloc:
        raise ValueError(f"server must be a URL like {DEFAULT_SERVER!r}; got {server!r}")
    n_retries = v.check_int(n_retries, "n_retries", minimum=1)
    root = Path(cache_dir).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise ValueError(f"cache_dir must be a directory; {str(root)!r} is a file")
    root.mkdir(parents=True, exist_ok=True)
    # openml re-runs its config setup inside every fold of a run, and there the environment
    # variable OPENML_CACHE_DIR wins over the configured directory: set both.
    os.environ["OPENML_CACHE_DIR"] = str(root)
    openml.config.server = server
    openml.config.set_root_cache_directory(root)
    openml.config.set_retry_policy("robot", n_retries)
    openml.config.avoid_duplicate_runs = False
    return Path(openml.config.get_cache_directory())


def _check_id(task_id, name: str = "task_id") -> int:
    if isinstance(task_id, bool) or not isinstance(task_id, int):
        # numpy ints are fine; floats and strings are not.
        import numpy as np

        if not isinstance(task_id, np.integer):
            raise TypeError(f"{name} must be an int; got {type(task_id).__name__} {task_id!r}")
    return v.check_int(int(task_id), name, minimum=1)


def cached_task_files(task_id: int, cache_dir: str | Path | None = None) -> dict[str, Path]:
    """The cache files :func:`get_task` needs for ``task_id``, and whether each is there.

    Returns:
        ``{"task.xml": path, "datasplits.arff": path, "description.xml": path,
        "features.xml": path, "data": path}`` (``data`` is ``dataset.pq`` if present, else
        ``dataset.arff``; the dataset paths only when ``task.xml`` exists, since it names the
        dataset). Paths that do not exist are included so an error can name them.
    """
    task_id = _check_id(task_id)
    base = (
        use_cache(cache_dir) if cache_dir is not None else Path(openml.config.get_cache_directory())
    )
    tdir = base / "tasks" / str(task_id)
    files = {"task.xml": tdir / "task.xml", "datasplits.arff": tdir / "datasplits.arff"}
    if files["task.xml"].is_file():
        did = _dataset_id_of(files["task.xml"])
        ddir = base / "datasets" / str(did)
        files["description.xml"] = ddir / "description.xml"
        files["features.xml"] = ddir / "features.xml"
        pq = ddir / "dataset.pq"
        files["data"] = pq if pq.is_file() else ddir / "dataset.arff"
    return files


def _dataset_id_of(task_xml: Path) -> int:
    task = xmltodict.parse(task_xml.read_text(encoding="utf8"))["oml:task"]
    inputs = task["oml:input"]
    inputs = inputs if isinstance(inputs, list) else [inputs]
    for item in inputs:
        if item.get("@name") == "source_data":
            return int(item["oml:data_set"]["oml:data_set_id"])
    raise ValueError(f"{task_xml} names no source_data input (not an OpenML task description)")


def _probe(server: str, timeout: float) -> None:
    url = urlparse(server)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            pass
    except OSError as e:
        raise ServerUnreachableError(
            f"task is not in the cache and the OpenML server {server} is unreachable "
            f"(no connection within timeout={timeout} s: {e})"
        ) from e


def get_task(
    task_id: int,
    *,
    cache_dir: str | Path | None = None,
    offline: bool = True,
    timeout: float = 5.0,
):
    """``openml.tasks.get_task(task_id)`` with its splits and data, failing fast when not cached.

    Args:
        task_id: the OpenML task id (a real one, or one from :func:`cache_local_task`).
        cache_dir: openml's root cache directory (configured with :func:`use_cache`); None keeps
            the current ``openml.config`` setting.
        offline: if True (default), never touch the network: a task whose files are not all
            cached raises :class:`TaskNotCachedError` at once. If False, a missing task is
            downloaded by openml after a connection probe of at most ``timeout`` seconds.
        timeout: seconds the online probe may wait, ``> 0``.

    Returns:
        The ``openml.tasks.OpenMLTask`` with its split loaded and its dataset's data cached.

    Raises:
        TaskNotCachedError: offline and a file is missing (the message lists which).
        ServerUnreachableError: online, not cached, and the server did not answer in time.
    """
    task_id = _check_id(task_id)
    v.check_bool(offline, "offline")
    v.check_positive(timeout, "timeout")
    if cache_dir is not None:
        use_cache(cache_dir)
    files = cached_task_files(task_id)
    missing = [name for name, path in files.items() if not path.is_file()]
    if missing:
        where = files["task.xml"].parent
        if offline:
            raise TaskNotCachedError(
                f"task_id={task_id} is not in openml's cache under {where.parent.parent} "
                f"(missing: {', '.join(missing)}); offline=True forbids downloading it. Build a "
                "local task with jaxml.openml.cache_local_task or pass offline=False."
            )
        _probe(openml.config.server, timeout)
    return openml.tasks.get_task(
        task_id, download_splits=True, download_data=True, download_features_meta_data=True
    )
