"""Synthetic data with known ground truth: linear-Gaussian (pPCA) samples and random trees.

* :func:`linear_gaussian` samples the probabilistic PCA generative model (Tipping & Bishop, 1999,
  eq. 2): ``x = W z + mu + sqrt(sigma2) eps`` with ``z ~ N(0, I_k)``, ``eps ~ N(0, I_d)``, so that
  ``x ~ N(mu, W W^T + sigma2 I_d)``. The pPCA and linear-VAE modules fit it and compare with the
  returned truth.
* :func:`random_tree` builds a rooted tree (balanced, or a uniform random recursive tree) and the
  transitive closure of its ancestor relation, the input of hierarchy-embedding and
  hierarchy-matching experiments (Nickel & Kiela, 2017; Alvarez-Melis et al., 2020).
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxml._validation import check_array
from jaxml.data.splits import Seed, _check_positive_int, to_numpy_rng

# Balanced trees larger than this are almost certainly a mistake (branching ** depth blew up).
_MAX_TREE_NODES = 10_000_000


class LinearGaussianSample(NamedTuple):
    """Samples of the pPCA model and its true parameters.

    Attributes:
      x: observations ``[n, d]``.
      z: the latent codes that produced them, ``[n, k]``.
      w: the true loading matrix ``W``, ``[d, k]``.
      mu: the true mean ``[d]``.
      sigma2: the true isotropic noise variance (a Python float).
    """

    x: jax.Array
    z: jax.Array
    w: jax.Array
    mu: jax.Array
    sigma2: float

    def covariance(self) -> jax.Array:
        """The model's marginal covariance ``W W^T + sigma2 I``, ``[d, d]``."""
        d = self.w.shape[0]
        return self.w @ self.w.T + self.sigma2 * jnp.eye(d, dtype=self.w.dtype)


def _as_key(key: Any) -> jax.Array:
    if isinstance(key, bool):
        raise TypeError("key must be a JAX PRNG key or an int seed, got bool")
    if isinstance(key, numbers.Integral):
        if int(key) < 0:
            raise ValueError(f"key as an int seed must be non-negative, got {int(key)}")
        return jax.random.key(int(key))
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return key
    if dtype is not None and np.dtype(dtype) == np.uint32 and getattr(key, "shape", None) == (2,):
        return jax.random.wrap_key_data(key)
    raise TypeError(
        "key must be a JAX PRNG key (jax.random.key or a raw uint32 [2] key) or an int seed, "
        f"got {type(key).__name__}"
    )


def _float_dtype(dtype: Any) -> np.dtype:
    if dtype is None:
        return np.dtype(jnp.result_type(float))  # float64 iff jax_enable_x64 is on.
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    if dtype == np.float64 and not jax.config.jax_enable_x64:
        raise ValueError(
            "dtype=float64 needs jax_enable_x64 (jax.config.update('jax_enable_x64', True))"
        )
    return dtype


def linear_gaussian(
    key: jax.Array | int,
    num_samples: int,
    data_dim: int,
    latent_dim: int,
    *,
    sigma2: float = 0.1,
    w_scale: float = 1.0,
    mu_scale: float = 1.0,
    w: jax.typing.ArrayLike | None = None,
    mu: jax.typing.ArrayLike | None = None,
    dtype: Any = None,
) -> LinearGaussianSample:
    """Samples ``x = W z + mu + sqrt(sigma2) eps``, the pPCA model (Tipping & Bishop, 1999).

    Unless given, the true parameters are drawn too: ``W_ij ~ N(0, w_scale^2)`` and
    ``mu_i ~ N(0, mu_scale^2)``. Then ``z ~ N(0, I_k)`` and ``eps ~ N(0, I_d)`` independently,
    so the rows of ``x`` are i.i.d. ``N(mu, W W^T + sigma2 I_d)`` (see
    :meth:`LinearGaussianSample.covariance`). Deterministic in ``key``; jit-safe with the sizes
    static.

    Args:
      key: a JAX PRNG key, or an int seed (``jax.random.key(seed)``).
      num_samples: ``n >= 1``.
      data_dim: ``d >= 1``.
      latent_dim: ``k``, with ``1 <= k <= d``.
      sigma2: the noise variance, ``> 0``.
      w_scale: standard deviation of the drawn ``W`` entries, ``> 0``.
      mu_scale: standard deviation of the drawn ``mu`` entries, ``>= 0``.
      w: optional fixed ``W`` ``[d, k]``.
      mu: optional fixed ``mu`` ``[d]``.
      dtype: the floating dtype of every array; default JAX's default float, i.e. ``float32``,
        or ``float64`` when ``jax_enable_x64`` is on (which closed-form pPCA checks want).

    Returns:
      A :class:`LinearGaussianSample` of JAX arrays ``x [n, d]``, ``z [n, k]``, ``w [d, k]``,
      ``mu [d]`` and the float ``sigma2``.

    Raises:
      ValueError: a non-positive size or variance, ``latent_dim > data_dim``, ``w``/``mu`` of the
        wrong shape, or ``dtype=float64`` without x64.
    """
    key = _as_key(key)
    n = _check_positive_int(num_samples, "num_samples")
    d = _check_positive_int(data_dim, "data_dim")
    k = _check_positive_int(latent_dim, "latent_dim")
    if k > d:
        raise ValueError(f"latent_dim must be <= data_dim = {d}, got {k}")
    sigma2 = _check_real(sigma2, "sigma2", positive=True)
    w_scale = _check_real(w_scale, "w_scale", positive=True)
    mu_scale = _check_real(mu_scale, "mu_scale", positive=False)
    dtype = _float_dtype(dtype)

    key_w, key_mu, key_z, key_eps = jax.random.split(key, 4)
    if w is None:
        w = w_scale * jax.random.normal(key_w, (d, k), dtype=dtype)
    else:
        if np.shape(w) != (d, k):
            raise ValueError(
                f"w must have shape [data_dim, latent_dim] = [{d}, {k}], got {np.shape(w)}"
            )
        check_array(w, "w", dtype="real")
        w = jnp.asarray(w, dtype=dtype)
    if mu is None:
        mu = mu_scale * jax.random.normal(key_mu, (d,), dtype=dtype)
    else:
        if np.shape(mu) != (d,):
            raise ValueError(f"mu must have shape [data_dim] = [{d}], got {np.shape(mu)}")
        check_array(mu, "mu", dtype="real")
        mu = jnp.asarray(mu, dtype=dtype)
    z = jax.random.normal(key_z, (n, k), dtype=dtype)
    eps = jax.random.normal(key_eps, (n, d), dtype=dtype)
    x = z @ w.T + mu + jnp.sqrt(jnp.asarray(sigma2, dtype=dtype)) * eps
    return LinearGaussianSample(x=x, z=z, w=w, mu=mu, sigma2=sigma2)


def _check_real(value: Any, argname: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argname} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{argname} must be finite and {bound}, got {value}")
    return value


class Tree(NamedTuple):
    """A rooted tree and the transitive closure of its ancestor relation.

    Attributes:
      names: ``n`` unique node names; a node's name is its parent's name plus ``"." + j`` for
        the ``j``-th child, the root being ``"r"`` (e.g. ``"r.0.2"``).
      parent: ``int32 [n]``, the parent of each node, ``-1`` for the root.
      edges: ``int32 [m, 2]`` rows ``(child, ancestor)`` for every node and every proper
        ancestor of it (``m`` = sum of node depths), sorted by child, then nearest ancestor first.
    """

    names: list[str]
    parent: np.ndarray
    edges: np.ndarray

    @property
    def num_nodes(self) -> int:
        """The number of nodes ``n``."""
        return int(self.parent.shape[0])

    @property
    def root(self) -> int:
        """The root's index."""
        return int(np.flatnonzero(self.parent < 0)[0])

    def depths(self) -> np.ndarray:
        """``int32 [n]``: the number of edges from the root to each node."""
        return np.bincount(self.edges[:, 0], minlength=self.num_nodes).astype(np.int32)


def random_tree(
    seed: Seed,
    *,
    num_nodes: int | None = None,
    branching: int | None = None,
    depth: int | None = None,
    shuffle: bool = False,
) -> Tree:
    """Builds a balanced tree, or a uniform random recursive tree, with its transitive closure.

    * ``num_nodes=None``: the balanced tree in which every node above depth ``depth`` has
      ``branching`` children (defaults 2 and 3), i.e. ``sum_{l=0}^{depth} branching**l`` nodes
      in breadth-first order. It is deterministic; ``seed`` only matters with ``shuffle``.
    * ``num_nodes=n``: a random recursive tree: node ``i >= 1`` attaches to a parent drawn
      uniformly from nodes ``0 .. i-1`` (expected depth ``~ ln n``). Not combinable with
      ``branching``/``depth``.

    Without ``shuffle`` the root is node 0 and every parent precedes its children. With
    ``shuffle`` the node indices (and the order of ``names``) are randomly permuted, which is
    what hierarchy-matching experiments need so that the identity is not the right answer.

    Args:
      seed: int or JAX PRNG key.
      num_nodes: the size of a random recursive tree, ``>= 1``.
      branching: children per internal node of the balanced tree, ``>= 1``.
      depth: the balanced tree's depth (edges from root to leaf), ``>= 0``.
      shuffle: randomly relabel the nodes.

    Returns:
      A :class:`Tree`; ``len(tree.edges) == tree.depths().sum()``.

    Raises:
      ValueError: a bad size, ``num_nodes`` together with ``branching``/``depth``, or a balanced
        tree of more than 10 million nodes.
    """
    rng = to_numpy_rng(seed)
    if num_nodes is not None:
        if branching is not None or depth is not None:
            raise ValueError(
                "num_nodes (random recursive tree) cannot be combined with branching/depth "
                f"(balanced tree), got num_nodes={num_nodes}, branching={branching}, depth={depth}"
            )
        n = _check_positive_int(num_nodes, "num_nodes")
        if n > _MAX_TREE_NODES:
            raise ValueError(f"num_nodes must be <= {_MAX_TREE_NODES}, got {n}")
        parent = np.full(n, -1, dtype=np.int64)
        if n > 1:
            # Node i picks floor(U * i), uniform on 0 .. i-1.
            i = np.arange(1, n)
            parent[1:] = np.minimum((rng.random(n - 1) * i).astype(np.int64), i - 1)
    else:
        b = _check_positive_int(2 if branching is None else branching, "branching")
        h = _check_positive_int(3 if depth is None else depth, "depth", minimum=0)
        n = sum(b**level for level in range(h + 1))
        if n > _MAX_TREE_NODES:
            raise ValueError(
                f"branching={b}, depth={h} gives {n} nodes, more than {_MAX_TREE_NODES}"
            )
        # In breadth-first order, node i >= 1 has parent (i - 1) // b.
        parent = np.concatenate([[-1], (np.arange(1, n) - 1) // b]).astype(np.int64)

    names = _path_names(parent)
    if shuffle:
        perm = rng.permutation(n)  # Old index i becomes perm[i].
        new_parent = np.full(n, -1, dtype=np.int64)
        has_parent = parent >= 0
        new_parent[perm[has_parent]] = perm[parent[has_parent]]
        new_names = [""] * n
        for old, new in enumerate(perm):
            new_names[new] = names[old]
        parent, names = new_parent, new_names
    return Tree(names=names, parent=parent.astype(np.int32), edges=_closure(parent))


def _path_names(parent: np.ndarray) -> list[str]:
    """Names for a tree whose parents precede their children."""
    names = ["r"] + [""] * (len(parent) - 1)
    num_children = np.zeros(len(parent), dtype=np.int64)
    for i in range(1, len(parent)):
        p = parent[i]
        names[i] = f"{names[p]}.{num_children[p]}"
        num_children[p] += 1
    return names


def _closure(parent: np.ndarray) -> np.ndarray:
    """``int32 [m, 2]`` (child, ancestor) pairs, by child, nearest ancestor first."""
    n = len(parent)
    ancestors: list[list[int]] = [[] for _ in range(n)]
    # Visit nodes parents-first (works for any labelling of an acyclic parent array).
    order = _topological_order(parent)
    for v in order:
        p = parent[v]
        if p >= 0:
            ancestors[v] = [int(p), *ancestors[p]]
    pairs = [(v, a) for v in range(n) for a in ancestors[v]]
    return np.asarray(pairs, dtype=np.int32).reshape(-1, 2)


def _topological_order(parent: np.ndarray) -> list[int]:
    children: list[list[int]] = [[] for _ in range(len(parent))]
    roots = []
    for v, p in enumerate(parent):
        (children[p] if p >= 0 else roots).append(v)
    order, stack = [], list(roots)
    while stack:
        v = stack.pop()
        order.append(v)
        stack.extend(children[v])
    return order
