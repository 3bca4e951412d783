"""Drivers that run one per-device step on K devices, and the data layout they share.

Layout: every argument and result of the step carries a leading device axis of size ``K``
("stacked"): the state as ``[K, ...]`` (replicated by :func:`replicate`; rows can differ, as in
DC-S3GD's ``"local"`` variant), the batch as ``[K, b, ...]`` (:func:`split_batch` of the global
``[K * b, ...]``). Both drivers take and return exactly this layout, so they are interchangeable
and give the same numbers:

- :func:`pmap_driver`: ``jax.pmap(step, axis_name=...)`` (what the DC-S3GD design card asks for;
  since JAX 0.10 pmap is implemented as ``jit(shard_map)``).
- :func:`shard_map_driver`: ``jax.shard_map`` over a 1-D mesh (:func:`device_mesh`), the current
  JAX recommendation; jit it at the call site. Its inputs must already be laid out on the mesh:
  :func:`put_sharded` / :func:`put_replicated` do that, also across several processes.

``jax.vmap(step, axis_name=...)`` runs the same stacked layout on one device (K simulated
workers), which is how the tests check the collectives without several devices.
"""

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxml import _validation as v
from jaxml._validation import check_callable, check_int
from jaxml.parallel._checks import check_axis_name

PyTree = Any


def device_mesh(
    num_devices: int | None = None,
    axis_name: str = "data",
    *,
    devices: Sequence[jax.Device] | None = None,
) -> Mesh:
    """A 1-D mesh ``(num_devices,)`` named ``axis_name`` over the first ``num_devices`` devices.

    Across several processes (after :func:`jaxml.parallel.distributed.initialize_distributed`)
    ``jax.devices()`` lists every process's devices, ordered by process, so process ``p`` owns a
    contiguous block of rows of the stacked layout.

    Raises:
        ValueError: ``num_devices`` < 1 or more than the devices available.
    """
    v.check_str(axis_name, "axis_name")
    if devices is not None and (
        not isinstance(devices, Sequence) or not all(isinstance(d, jax.Device) for d in devices)
    ):
        raise TypeError(f"devices must be a sequence of jax.Device or None; got {devices!r}")
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices must not be empty")
    n = len(devices) if num_devices is None else check_int(num_devices, "num_devices", minimum=1)
    if n > len(devices):
        raise ValueError(
            f"num_devices={n} but only {len(devices)} devices are available; on CPU set "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={n} before importing jax."
        )
    return Mesh(np.asarray(devices[:n]), (axis_name,))


def split_batch(x: Any, num_devices: int) -> Any:
    """Reshapes a global batch ``[B, ...]`` (any pytree) into ``[K, B // K, ...]`` for K devices.

    Row ``k`` is device ``k``'s contiguous shard ``x[k * b:(k + 1) * b]``.

    Raises:
        ValueError: when ``B`` is not divisible by ``num_devices`` (naming both), or leaves
            disagree on ``B``.
    """
    n = check_int(num_devices, "num_devices", minimum=1)
    leaves = jax.tree.leaves(x)
    if not leaves:
        raise ValueError(f"x must hold at least one array [B, ...]; got {x!r}")
    sizes = {jnp.shape(a)[0] if jnp.ndim(a) else None for a in leaves}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(
            f"x must hold arrays [B, ...] with one shared batch size B; got leading sizes {sizes}"
        )
    (size,) = sizes
    if size % n:
        raise ValueError(
            f"x has a global batch of {size} rows, not divisible by num_devices {n}; choose a "
            f"batch size that is a multiple of {n}."
        )
    return jax.tree.map(lambda a: jnp.reshape(a, (n, size // n, *jnp.shape(a)[1:])), x)


def shard_sampler(
    sampler: Callable[[jax.Array, Any], jax.Array], num_devices: int, axis_name: str
) -> Callable[[jax.Array, Any], jax.Array]:
    """This device's share of a global batch sampler, for use inside a mapped step.

    ``sampler(key, t)`` (e.g. :func:`jaxml.train.batch_sampler`'s) draws the global batch's
    indices ``[B]``; on device ``k = lax.axis_index(axis_name)`` the returned sampler gives the
    contiguous block ``[k * b, (k + 1) * b)`` with ``b = B // num_devices`` -- the row of
    :func:`split_batch` of the global batch that device ``k`` holds. Every device draws the same
    global indices (same key and step), so the devices together see the whole batch once.

    Args:
        sampler: ``sampler(key, step) -> int indices [B]``.
        num_devices: ``K``, the size of the mapped axis; ``B`` must be divisible by it.
        axis_name: the mapped axis (bound by ``pmap``/``shard_map``/``vmap`` at call time).

    Returns:
        ``local(key, step) -> indices [B // K]``; jit-safe.
    """
    check_callable(sampler, "sampler")
    n = check_int(num_devices, "num_devices", minimum=1)
    axis_name = check_axis_name(axis_name, allow_none=False)

    def local(key: jax.Array, step: Any) -> jax.Array:
        idx = sampler(key, step)
        size = jnp.shape(idx)[0]
        if size % n:
            raise ValueError(
                f"the sampler's global batch size {size} is not divisible by num_devices {n}"
            )
        b = size // n
        return jax.lax.dynamic_slice_in_dim(idx, jax.lax.axis_index(axis_name) * b, b)

    return local


def replicate(tree: PyTree, num_devices: int) -> PyTree:
    """Stacks ``num_devices`` copies of every leaf: ``[...] -> [num_devices, ...]``."""
    n = check_int(num_devices, "num_devices", minimum=1)
    _check_nonempty(tree, "tree")
    return jax.tree.map(lambda a: jnp.broadcast_to(a, (n, *jnp.shape(a))), tree)


def _check_nonempty(tree: PyTree, name: str) -> None:
    if not jax.tree.leaves(tree):
        raise ValueError(f"{name} must hold at least one array; got {tree!r}")


def _check_mesh(mesh: Any) -> str:
    if not isinstance(mesh, Mesh):
        raise TypeError(f"mesh must be a jax.sharding.Mesh (see device_mesh); got {mesh!r}")
    if len(mesh.axis_names) != 1:
        raise ValueError(f"mesh must be 1-D (one data axis), got axes {mesh.axis_names}")
    return mesh.axis_names[0]


def _check_argnums(argnums: Any, name: str = "broadcast_argnums") -> frozenset:
    if isinstance(argnums, str | bytes) or not isinstance(argnums, Sequence | set | frozenset):
        raise TypeError(f"{name} must be a sequence of argument positions; got {argnums!r}")
    return frozenset(check_int(i, name, minimum=0) for i in argnums)


def _check_stacked(args: Sequence[Any], n: int, names: Sequence[str] | None = None) -> None:
    for i, arg in enumerate(args):
        name = names[i] if names and i < len(names) else f"argument {i}"
        for path, leaf in jax.tree_util.tree_flatten_with_path(arg)[0]:
            shape = jnp.shape(leaf)
            if not shape or shape[0] != n:
                raise ValueError(
                    f"{name}{jax.tree_util.keystr(path)} has shape {shape}; every leaf needs a "
                    f"leading device axis of size {n} (use replicate / split_batch)."
                )


def pmap_driver(
    step: Callable[..., Any],
    *,
    axis_name: str,
    devices: Sequence[jax.Device] | None = None,
    donate_state: bool = False,
    broadcast_argnums: Sequence[int] = (),
) -> Callable[..., Any]:
    """``jax.pmap(step, axis_name=axis_name)``: maps every stacked argument's leading axis.

    Args:
        step: the per-device function, e.g. from :func:`make_data_parallel_step`.
        axis_name: the name its collectives use.
        devices: the devices to run on (default: the first ``K`` local devices, ``K`` from the
            inputs' leading axis).
        donate_state: donate the first argument's buffers (the state) to the outputs.
        broadcast_argnums: positional arguments passed whole to every device (no leading device
            axis), e.g. the training set or the step index.
    """
    check_callable(step, "step")
    check_axis_name(axis_name, allow_none=False)
    v.check_bool(donate_state, "donate_state")
    broadcast = _check_argnums(broadcast_argnums)
    if devices is not None and not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError(f"devices must be a sequence of jax.Device or None; got {devices!r}")
    donate = (0,) if donate_state else ()
    if not broadcast_argnums:
        return jax.pmap(step, axis_name=axis_name, devices=devices, donate_argnums=donate)
    compiled: dict[int, Callable[..., Any]] = {}

    def mapped(nargs: int) -> Callable[..., Any]:
        if nargs not in compiled:
            in_axes = tuple(None if i in broadcast else 0 for i in range(nargs))
            compiled[nargs] = jax.pmap(
                step, axis_name=axis_name, in_axes=in_axes, devices=devices, donate_argnums=donate
            )
        return compiled[nargs]

    def run(*args):
        return mapped(len(args))(*args)

    run.lower = lambda *args: mapped(len(args)).lower(*args)
    return run


def shard_map_driver(
    step: Callable[..., Any],
    mesh: Mesh,
    *,
    arg_names: Sequence[str] | None = None,
    broadcast_argnums: Sequence[int] = (),
) -> Callable[..., Any]:
    """``jax.shard_map`` of ``step`` over the 1-D ``mesh``, on the stacked layout.

    Each device gets its row (a ``[1, ...]`` block) of every argument; the leading axis is dropped
    before calling ``step`` and added back to every result, so ``step`` is the same function that
    :func:`pmap_driver` maps, and the collectives use the mesh's axis name. Not jitted: wrap it in
    ``jax.jit`` (with ``donate_argnums=0`` for the state) at the call site. Inputs must be placed
    on the mesh with :func:`put_sharded`, or come from inside the same jit.

    Args:
        step: the per-device function.
        mesh: a 1-D mesh, e.g. :func:`device_mesh`.
        arg_names: names of the positional arguments, for error messages.
        broadcast_argnums: positional arguments passed whole to every device (no leading device
            axis; sharding ``P()``), e.g. the training set or the step index.

    Raises:
        ValueError: a mesh that is not 1-D; at call time, a leaf without the leading device axis.
    """
    check_callable(step, "step")
    axis = _check_mesh(mesh)
    n = mesh.size
    broadcast = _check_argnums(broadcast_argnums)
    if arg_names is not None and (
        isinstance(arg_names, str) or not all(isinstance(a, str) for a in arg_names)
    ):
        raise TypeError(f"arg_names must be a sequence of str or None; got {arg_names!r}")

    def body(*args):
        args = [
            a if i in broadcast else jax.tree.map(lambda x: x[0], a) for i, a in enumerate(args)
        ]
        out = step(*args)
        return jax.tree.map(lambda a: jnp.expand_dims(a, 0), out)

    def run(*args):
        stacked = [i for i in range(len(args)) if i not in broadcast]
        names = [
            arg_names[i] if arg_names and i < len(arg_names) else f"argument {i}" for i in stacked
        ]
        _check_stacked([args[i] for i in stacked], n, names)
        in_specs = tuple(P() if i in broadcast else P(axis) for i in range(len(args)))
        mapped = jax.shard_map(body, mesh=mesh, in_specs=in_specs, out_specs=P(axis))
        return mapped(*args)

    return run


def put_sharded(tree: PyTree, mesh: Mesh) -> PyTree:
    """Places stacked global arrays ``[K, ...]`` on the mesh, row ``k`` on device ``k``.

    Works in a multi-process run too: every process passes the same global (host) arrays and
    only its own devices' rows are transferred (``jax.make_array_from_callback``).
    """
    axis = _check_mesh(mesh)
    _check_nonempty(tree, "tree")
    sharding = NamedSharding(mesh, P(axis))
    _check_stacked([tree], mesh.size, ["tree"])

    def put(a):
        a = np.asarray(a)
        return jax.make_array_from_callback(a.shape, sharding, lambda idx: a[idx])

    return jax.tree.map(put, tree)


def put_replicated(tree: PyTree, mesh: Mesh) -> PyTree:
    """Places arrays whole on every device of the mesh (e.g. the training set), any process.

    Typed PRNG key arrays are placed through their key data (the same keys on every device).
    """
    _check_mesh(mesh)
    _check_nonempty(tree, "tree")
    sharding = NamedSharding(mesh, P())

    def put(a):
        if hasattr(a, "dtype") and jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            impl = jax.random.key_impl(a)
            return jax.random.wrap_key_data(put(jax.random.key_data(a)), impl=impl)
        a = np.asarray(a)
        return jax.make_array_from_callback(a.shape, sharding, lambda idx: a[idx])

    return jax.tree.map(put, tree)


def addressable_rows(tree: PyTree) -> tuple[list[int], PyTree]:
    """This process's rows of stacked arrays ``[K, ...]`` as NumPy, with their global indices.

    Returns:
        ``(rows, local)``: the sorted global row indices this process holds, and the pytree of
        ``[len(rows), ...]`` arrays in that order. In a single process ``rows = range(K)``.
    """
    leaves, treedef = jax.tree.flatten(tree)
    if not leaves:
        return [], tree
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        if not np.shape(leaf):
            where = jax.tree_util.keystr(path) or "(root)"
            raise ValueError(
                f"tree must hold stacked arrays [K, ...]; the leaf at {where} is a scalar"
            )
    rows_of_leaf = []
    locals_ = []
    for leaf in leaves:
        if not isinstance(leaf, jax.Array):
            arr = np.asarray(leaf)
            rows_of_leaf.append(list(range(arr.shape[0])))
            locals_.append(arr)
            continue
        shards = {}
        for shard in leaf.addressable_shards:
            start = shard.index[0].start or 0
            data = np.asarray(shard.data)
            for j in range(data.shape[0]):
                shards[start + j] = data[j]
        rows = sorted(shards)
        rows_of_leaf.append(rows)
        locals_.append(np.stack([shards[r] for r in rows]))
    if any(r != rows_of_leaf[0] for r in rows_of_leaf):
        raise ValueError("the leaves of tree are laid out on different devices")
    return rows_of_leaf[0], jax.tree.unflatten(treedef, locals_)
