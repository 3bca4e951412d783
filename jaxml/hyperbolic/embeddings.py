"""Poincare embeddings of a hierarchy (Nickel & Kiela, NeurIPS 2017).

Given the transitive closure ``D = {(u, v)}`` of a hierarchy (``v`` an ancestor of ``u``), learn
``theta in B^d`` per node minimizing (Sec. 3, Eq. 6)::

    L = - sum_{(u, v) in D} log( exp(-d(u, v)) / sum_{v' in N(u) + {v}} exp(-d(u, v')) )

with ``N(u)`` a sample of ``num_negatives`` nodes ``v'`` not related to ``u``, by Riemannian SGD
(:func:`jaxml.hyperbolic.rsgd.riemannian_sgd`). As in the paper, the first ``burn_in_epochs`` use
the learning rate times ``burn_in_lr_factor`` (1/10) and draw negatives proportionally to
``degree ** dampening`` (0.75) instead of uniformly; initial embeddings are uniform in
``[-1e-3, 1e-3]^d``.

Negatives are drawn with replacement and candidates that are related to ``u`` (or ``u`` itself)
are masked out of the softmax instead of being re-drawn (rejection sampling, as in gensim, stalls
on dense closures). Membership is one lookup in a dense ``[n, n]`` bit table when ``n^2 <=``
:data:`DENSE_MEMBERSHIP_MAX` (about 16 M entries, 16 MB), else a binary search in the CSR
adjacency, so memory stays ``O(|D|)`` for large hierarchies. Both give the same answer.

Usage::

    init, epoch = make_poincare_trainer(edges, num_nodes, dim=5, ...)
    state = init(key)
    epoch = jax.jit(epoch)
    for e in range(num_epochs):
        state, loss = epoch(state, jax.random.fold_in(key, e))

or simply :func:`train_poincare_embeddings`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from jaxml._validation import (
    check_array,
    check_bool,
    check_callable,
    check_choice,
    check_int,
    check_key,
    check_nonnegative,
    check_optimizer,
    check_positive,
)
from jaxml.hyperbolic import poincare
from jaxml.hyperbolic._checks import check_curvature, check_points
from jaxml.hyperbolic.rsgd import riemannian_sgd

__all__ = [
    "DENSE_MEMBERSHIP_MAX",
    "LR_DECAYS",
    "NEGATIVE_MODES",
    "PoincareTrainState",
    "TrainingResult",
    "make_poincare_trainer",
    "poincare_embedding_loss",
    "train_poincare_embeddings",
]

NEGATIVE_MODES = ("non_ancestors", "unrelated")
DENSE_MEMBERSHIP_MAX = 2**24
"""Largest ``num_nodes ** 2`` for which negatives are checked in a dense bool table (one gather
per negative) instead of by binary search in the CSR adjacency (``log2(max degree)`` gathers)."""
LR_DECAYS = ("constant", "linear")
"""The learning rate after burn-in: constant (the paper), or decayed linearly to 0 at the end of
``decay_epochs`` (fewer epochs reach the same reconstruction; docs/performance.md)."""
"""Which nodes may be negatives of ``u``: not an ancestor of ``u`` (Nickel & Kiela's directed
setting), or neither an ancestor nor a descendant (``"unrelated"``)."""


class PoincareTrainState(NamedTuple):
    """Training state: the embedding table, the optimizer state and the epoch counter.

    Attributes:
        params: ``[n, d]`` embeddings in the ball.
        opt_state: the optimizer's state.
        epoch: int32 scalar, the number of epochs done.
    """

    params: jax.Array
    opt_state: optax.OptState
    epoch: jax.Array


class TrainingResult(NamedTuple):
    """What :func:`train_poincare_embeddings` returns.

    Attributes:
        embeddings: ``[n, d]`` the final embeddings (``[S, n, d]`` for S runs).
        losses: ``[num_epochs]`` mean loss of each epoch (``[num_epochs, S]`` for S runs).
        relations_per_second: training throughput after compilation (relations seen / wall s).
        train_seconds: wall time of the epochs after the first (compiled) one, plus the first.
    """

    embeddings: jax.Array
    losses: np.ndarray
    relations_per_second: float
    train_seconds: float


def check_edges(edges: ArrayLike, num_nodes: int, name: str = "edges") -> np.ndarray:
    """``edges`` must be a non-empty int ``[m, 2]`` array of node ids in ``[0, num_nodes)``."""
    num_nodes = check_int(num_nodes, "num_nodes", minimum=2)
    array = np.asarray(edges)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{name} must have shape [m, 2] (child, ancestor); got {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty: there is nothing to embed")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer node ids; got dtype {array.dtype}")
    if array.min() < 0 or array.max() >= num_nodes:
        raise ValueError(
            f"{name} holds node ids outside [0, num_nodes) = [0, {num_nodes}): "
            f"min {array.min()}, max {array.max()}"
        )
    if np.any(array[:, 0] == array[:, 1]):
        raise ValueError(f"{name} contains self-loops (u, u)")
    return array.astype(np.int32)


def _csr(pairs: np.ndarray, num_nodes: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Sorted CSR adjacency ``(indptr [n + 1], indices [m], max_degree)`` of ``u -> v`` pairs."""
    pairs = np.unique(pairs, axis=0)
    counts = np.bincount(pairs[:, 0], minlength=num_nodes)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return indptr, pairs[:, 1].astype(np.int32), int(counts.max(initial=0))


def _csr_contains(indptr, indices, u, v, num_iters: int) -> jax.Array:
    """Whether ``v`` is in row ``u`` of a sorted CSR matrix (vectorized binary search)."""
    start, end = indptr[u], indptr[u + 1]
    last = indices.shape[0] - 1

    def body(_, carry):
        lo, hi = carry
        mid = (lo + hi) // 2
        go_right = (lo < hi) & (indices[jnp.clip(mid, 0, last)] < v)
        return jnp.where(go_right, mid + 1, lo), jnp.where((lo < hi) & ~go_right, mid, hi)

    lo, _ = jax.lax.fori_loop(0, num_iters, body, (start, end))
    return (lo < end) & (indices[jnp.clip(lo, 0, last)] == v)


def poincare_embedding_loss(
    params: jax.Array,
    batch: jax.Array,
    negatives: jax.Array,
    negative_mask: jax.Array,
    weights: jax.Array | None = None,
    c: float = 1.0,
) -> jax.Array:
    """The negative-sampling softmax loss of Nickel & Kiela (2017), Eq. 6, for one batch.

    ``loss_b = -log softmax(-[d(u_b, v_b), d(u_b, v'_b1), ..., d(u_b, v'_bK)])_0`` with masked
    negatives excluded from the softmax.

    Args:
        params: ``[n, d]`` embeddings.
        batch: int ``[B, 2]`` relations ``(u, v)``.
        negatives: int ``[B, K]`` negative nodes for each ``u``.
        negative_mask: bool ``[B, K]``, True where the negative is valid.
        weights: ``[B]`` per-relation weights (0 for padding); default all 1.
        c: curvature magnitude.

    Returns:
        Scalar: ``sum_b w_b loss_b / B`` (the batch mean when every weight is 1).

    Raises:
        ValueError/TypeError: wrong shapes or dtypes; when concrete (eager calls), node ids
            outside ``[0, n)`` (JAX indexing would silently clamp them) and parameters that are
            NaN or outside the ball. Under ``jit``/``grad`` only the shapes are checked.
    """
    n = check_points(params, "params", c, min_ndim=2)[0]
    check_array(params, "params", ndim=2)
    b = check_array(batch, "batch", shape=(None, 2), dtype="int", minimum=0, maximum=n - 1)[0]
    k = check_array(negatives, "negatives", shape=(b, None), dtype="int", minimum=0, maximum=n - 1)
    check_array(negative_mask, "negative_mask", shape=k, dtype="bool")
    if weights is not None:
        check_array(weights, "weights", shape=(b,), dtype="real")
    per_relation = _relation_losses(params, batch, negatives, negative_mask, c)
    if weights is None:
        return jnp.mean(per_relation)
    return jnp.sum(weights * per_relation) / batch.shape[0]


def _relation_losses(params, batch, negatives, negative_mask, c):
    """``[B]`` unweighted per-relation losses of :func:`poincare_embedding_loss` (no checks)."""
    u, v = batch[:, 0], batch[:, 1]
    candidates = jnp.concatenate([v[:, None], negatives], axis=1)  # [B, K + 1]
    mask = jnp.concatenate([jnp.ones_like(v[:, None], bool), negative_mask], axis=1)
    dist = poincare.distance(params[u][:, None, :], params[candidates], c)  # [B, K + 1]
    logits = jnp.where(mask, -dist, -jnp.inf)
    return -jax.nn.log_softmax(logits, axis=1)[:, 0]


def make_poincare_trainer(
    edges: ArrayLike,
    num_nodes: int,
    dim: int,
    *,
    learning_rate: float = 0.3,
    num_negatives: int = 50,
    batch_size: int = 10,
    burn_in_epochs: int = 20,
    burn_in_lr_factor: float = 0.1,
    dampening: float = 0.75,
    negatives: str = "non_ancestors",
    init_scale: float = 1e-3,
    c: float = 1.0,
    eps: float = 1e-5,
    optimizer: optax.GradientTransformation | None = None,
    lr_decay: str = "constant",
    decay_epochs: int | None = None,
    num_runs: int | None = None,
) -> tuple[Callable, Callable]:
    """Builds the ``(init, epoch)`` pair of Poincare-embedding training.

    Args:
        edges: int ``[m, 2]`` relations ``(u, v)``, ``v`` an ancestor of ``u`` (a transitive
            closure such as ``Hierarchy.edges``).
        num_nodes: ``n``.
        dim: embedding dimension ``d``.
        learning_rate: RSGD learning rate after burn-in (0.3 in the reference setting).
        num_negatives: ``K`` negatives per relation (50).
        batch_size: relations per step ``B``.
        burn_in_epochs: epochs at ``learning_rate * burn_in_lr_factor`` with degree-based
            negatives (20 and 0.1 in the paper).
        burn_in_lr_factor: the burn-in learning-rate multiplier.
        dampening: burn-in negatives are drawn with probability ``~ degree ** dampening``.
        negatives: one of :data:`NEGATIVE_MODES`.
        init_scale: initial embeddings are uniform in ``[-init_scale, init_scale]^d``.
        c: curvature magnitude.
        eps: the RSGD projection margin.
        optimizer: replaces the default ``riemannian_sgd`` with the burn-in schedule.
        lr_decay: one of :data:`LR_DECAYS`; ``"linear"`` decays the post-burn-in learning rate
            linearly from ``learning_rate`` to 0 at the end of epoch ``decay_epochs``.
        decay_epochs: the epoch at which a ``"linear"`` decay reaches 0 (the total number of
            epochs, burn-in included; :func:`train_poincare_embeddings` passes its
            ``num_epochs``); must exceed ``burn_in_epochs``.
        num_runs: ``None`` (one run) or ``S``: ``S`` independent runs trained together, with
            ``init(keys [S])`` and ``epoch(state, keys [S])``, params ``[S, n, d]`` and mean losses
            ``[S]``. Run ``s`` equals the one-run trainer called with ``keys[s]`` (same random
            draws; tested), but each step is ONE gather / scatter over the ``S * B`` relations of
            a table ``[S * n, d]`` instead of ``vmap(epoch)``, whose batched gathers and scatters
            XLA:CPU runs about 3.5x slower (docs/performance.md).

    Returns:
        ``init(key) -> PoincareTrainState`` and ``epoch(state, key) -> (state, mean_loss)``: one
        pass over all relations in a random order (the last batch padded with weight-0 rows).
        Both are pure and jit-safe; jit ``epoch`` at the call site. With the default optimizer
        a step updates only the rows its batch touches (Riemannian SGD moves no other row: their
        gradient is 0); a user ``optimizer`` (which may carry per-row state, e.g. momentum)
        updates the whole table.

    Raises:
        ValueError: bad edges or hyperparameters.
    """
    edges_np = check_edges(edges, num_nodes)
    dim = check_int(dim, "dim", minimum=1)
    num_negatives = check_int(num_negatives, "num_negatives", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    burn_in_epochs = check_int(burn_in_epochs, "burn_in_epochs", minimum=0)
    learning_rate = float(check_positive(learning_rate, "learning_rate"))
    burn_in_lr_factor = float(check_positive(burn_in_lr_factor, "burn_in_lr_factor"))
    dampening = float(check_nonnegative(dampening, "dampening"))
    init_scale = float(check_positive(init_scale, "init_scale"))
    check_curvature(c)
    if optimizer is not None:
        check_optimizer(optimizer, "optimizer")
    if negatives not in NEGATIVE_MODES:
        raise ValueError(f"negatives must be one of {NEGATIVE_MODES}; got {negatives!r}")
    check_choice(lr_decay, "lr_decay", LR_DECAYS)
    if lr_decay == "linear":
        if decay_epochs is None:
            raise ValueError("lr_decay='linear' needs decay_epochs (the total number of epochs)")
        decay_epochs = check_int(decay_epochs, "decay_epochs", minimum=burn_in_epochs + 1)
    elif decay_epochs is not None:
        check_int(decay_epochs, "decay_epochs", minimum=1)
    runs = 1 if num_runs is None else check_int(num_runs, "num_runs", minimum=1)
    # Riemannian SGD acts row by row and keeps no per-row state: a row with zero gradient stays.
    row_sparse = optimizer is None

    m = edges_np.shape[0]
    steps = math.ceil(m / batch_size)
    padded = steps * batch_size
    forbidden = edges_np
    if negatives == "unrelated":
        forbidden = np.concatenate([edges_np, edges_np[:, ::-1]])
    indptr_np, indices_np, max_degree = _csr(forbidden, num_nodes)
    num_iters = max(1, math.ceil(math.log2(max_degree + 1)) + 1)
    dense_forbidden = None
    if num_nodes * num_nodes <= DENSE_MEMBERSHIP_MAX:
        table = np.zeros((num_nodes, num_nodes), bool)
        table[forbidden[:, 0], forbidden[:, 1]] = True
        dense_forbidden = jnp.asarray(table)
    degree = np.bincount(edges_np.ravel(), minlength=num_nodes).astype(np.float64)
    cdf_np = np.cumsum(degree**dampening)
    cdf_np = (cdf_np / cdf_np[-1]).astype(np.float32)

    edges_j = jnp.asarray(edges_np)
    indptr, indices = jnp.asarray(indptr_np), jnp.asarray(indices_np)
    cdf = jnp.asarray(cdf_np)
    burn_in_steps = burn_in_epochs * steps

    if optimizer is None:
        decay_steps = (decay_epochs or 0) * steps

        def schedule(count):
            lr = jnp.asarray(learning_rate, jnp.float32)
            if lr_decay == "linear":
                done = (count - burn_in_steps) / (decay_steps - burn_in_steps)
                lr = lr * jnp.clip(1.0 - done, 0.0, 1.0)
            return jnp.where(count < burn_in_steps, learning_rate * burn_in_lr_factor, lr)

        optimizer = riemannian_sgd(schedule, c=c, eps=eps)

    offsets = jnp.arange(runs, dtype=jnp.int32) * num_nodes  # run r's rows in the flat table

    def init(key: jax.Array) -> PoincareTrainState:
        if num_runs is not None and jnp.shape(key)[:1] != (runs,):
            raise ValueError(f"key must be a batch [{runs}] of PRNG keys (num_runs = {runs})")
        keys = key[None] if num_runs is None else key
        params = jax.vmap(
            lambda k: jax.random.uniform(
                k, (num_nodes, dim), jnp.float32, minval=-init_scale, maxval=init_scale
            )
        )(keys)
        params = poincare.project(params, eps, c)
        params = params[0] if num_runs is None else params
        return PoincareTrainState(params, optimizer.init(params), jnp.zeros([], jnp.int32))

    def sample_negatives(keys, u, burn_in):
        """``[R, B, K]`` negatives and their validity for the tails ``u [R, B]`` of R runs."""
        shape = (u.shape[1], num_negatives)

        # Each run's draws come from XLA's RngBitGenerator seeded by 4 threefry words of its step
        # key: threefry bits cost ~20 ns each on XLA:CPU, 5x the RBG's, and the draws were the
        # step's largest cost. One draw per run (a Python loop over R): RBG bits are not
        # guaranteed to be equal under vmap, and run r must equal the one-run trainer.
        def unit(r):
            seed = jax.random.bits(keys[r], (4,), jnp.uint32)
            return jax.random.uniform(jax.random.wrap_key_data(seed, impl="rbg"), shape)

        draws = jnp.stack([unit(r) for r in range(u.shape[0])])  # [R, B, K] in [0, 1)

        def uniform(_):
            return jnp.minimum((draws * num_nodes).astype(jnp.int32), num_nodes - 1)

        def by_degree(_):
            negs = jnp.searchsorted(cdf, draws, side="right")
            return jnp.minimum(negs, num_nodes - 1).astype(jnp.int32)

        # Only the sampler in use runs (both read the same uniform draws).
        negs = jax.lax.cond(burn_in, by_degree, uniform, None)
        uu = jnp.broadcast_to(u[..., None], negs.shape)
        if dense_forbidden is not None:
            member = dense_forbidden[uu, negs]
        else:
            member = _csr_contains(indptr, indices, uu, negs, num_iters)
        return negs, (negs != uu) & ~member

    def loss_fn(flat_params, batch, negs, valid, w):
        per = _relation_losses(flat_params, batch, negs, valid, c) * w  # [R * B]
        per_run = jnp.sum(per.reshape(runs, batch_size), axis=1) / batch_size
        return jnp.sum(per_run), per_run  # run r's rows get exactly run r's gradient

    loss_and_grad = jax.value_and_grad(loss_fn, has_aux=True)

    def epoch(state: PoincareTrainState, key: jax.Array):
        keys = key[None] if num_runs is None else key
        k_perm, k_neg = jax.vmap(jax.random.split, out_axes=1)(keys)
        order = jax.vmap(lambda k: jax.random.permutation(k, m))(k_perm)  # [R, m]
        order = jnp.pad(order, ((0, 0), (0, padded - m)))
        batches = edges_j[order].reshape(runs, steps, batch_size, 2).transpose(1, 0, 2, 3)
        weights = jnp.tile((jnp.arange(padded) < m).astype(jnp.float32), runs)
        weights = weights.reshape(runs, steps, batch_size).transpose(1, 0, 2)
        burn_in = state.epoch < burn_in_epochs
        shape = state.params.shape

        def step(carry, inputs):
            params, opt_state = carry  # params: the flat table [R * n, d]
            batch, w, i = inputs
            step_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(k_neg, i)
            negs, valid = sample_negatives(step_keys, batch[..., 0], burn_in)
            flat_batch = (batch + offsets[:, None, None]).reshape(-1, 2)
            flat_negs = (negs + offsets[:, None, None]).reshape(-1, num_negatives)
            valid = valid.reshape(-1, num_negatives)
            (_, loss), grads = loss_and_grad(params, flat_batch, flat_negs, valid, w.reshape(-1))
            if row_sparse:
                rows = jnp.concatenate([flat_batch.reshape(-1), flat_negs.reshape(-1)])
                sub = params[rows]
                updates, opt_state = optimizer.update(grads[rows], opt_state, sub)
                # Repeated rows get the same (summed-gradient) update: set, not add.
                return (params.at[rows].set(sub + updates), opt_state), loss
            updates, opt_state = optimizer.update(
                grads.reshape(shape), opt_state, params.reshape(shape)
            )
            params = optax.apply_updates(params.reshape(shape), updates)
            return (params.reshape(runs * num_nodes, dim), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(
            step,
            (state.params.reshape(runs * num_nodes, dim), state.opt_state),
            (batches, weights, jnp.arange(steps)),
        )
        mean_loss = jnp.sum(losses, axis=0) * batch_size / m  # [R]
        mean_loss = mean_loss[0] if num_runs is None else mean_loss
        return PoincareTrainState(params.reshape(shape), opt_state, state.epoch + 1), mean_loss

    return init, epoch


def train_poincare_embeddings(
    edges: ArrayLike,
    num_nodes: int,
    dim: int,
    key: jax.Array,
    *,
    num_epochs: int = 300,
    callback: Callable[[int, PoincareTrainState, float], None] | None = None,
    return_info: bool = False,
    **trainer_kwargs,
) -> jax.Array | TrainingResult:
    """Trains Poincare embeddings of a hierarchy (Nickel & Kiela 2017): one run, or ``S``
    independent runs at once.

    With one key the epoch function is ``jax.jit``-compiled once (this driver is the jit
    boundary); with a batch of ``S`` keys ``[S]`` the runs share shapes, so ``jit(vmap(epoch))``
    trains them together (one compile, one loop). Run ``s`` initializes from
    ``split(key[s])[0]`` and draws epoch ``e``'s order and negatives from
    ``fold_in(split(key[s])[1], e)``, whether batched or not. The loop does not wait for the
    device between epochs (no host sync) unless ``callback`` is given; NaN/inf losses are
    detected after the last epoch. The reference setting for WordNet mammals is ``dim=5,
    learning_rate=0.3, num_negatives=50, burn_in_epochs=20, num_epochs=300``.

    Args:
        edges: int ``[m, 2]`` relations ``(u, v)``, ``v`` an ancestor of ``u``.
        num_nodes: ``n``.
        dim: ``d``.
        key: a PRNG key, or a batch ``[S]`` of keys (``jax.vmap(jax.random.key)(seeds)``).
        num_epochs: passes over the relations (burn-in included), >= 1.
        callback: called as ``callback(epoch, state, loss)`` after every epoch (this syncs; with
            a key batch, ``state`` and ``loss`` are batched).
        return_info: return a :class:`TrainingResult` instead of the embeddings only.
        **trainer_kwargs: forwarded to :func:`make_poincare_trainer` (with ``lr_decay`` other
            than "constant", ``decay_epochs`` defaults to ``num_epochs``).

    Returns:
        ``[num_nodes, dim]`` embeddings in the ball (``[S, num_nodes, dim]`` for a key batch), or
        a :class:`TrainingResult` (its ``losses`` are ``[num_epochs]`` or ``[num_epochs, S]``;
        relations/s counts every run's relations).

    Raises:
        FloatingPointError: if a loss became NaN or inf (the first such epoch is named).
    """
    num_epochs = check_int(num_epochs, "num_epochs", minimum=1)
    edges_np = check_edges(edges, num_nodes)
    check_key(key, "key")
    check_bool(return_info, "return_info")
    if callback is not None:
        check_callable(callback, "callback")
    typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    batch_ndim = jnp.ndim(key) - (0 if typed else 1)
    if batch_ndim not in (0, 1):
        raise ValueError(f"key must be one PRNG key or a 1-D batch [S] of keys; got {_shape(key)}")
    if trainer_kwargs.get("lr_decay", "constant") != "constant":
        trainer_kwargs.setdefault("decay_epochs", num_epochs)
    if batch_ndim == 1:
        num_runs = int(np.shape(key)[0])
        init, epoch = make_poincare_trainer(
            edges_np, num_nodes, dim, num_runs=num_runs, **trainer_kwargs
        )
        init_keys, train_keys = jax.vmap(jax.random.split, out_axes=1)(key)
        state = init(init_keys)
        epoch_fn = jax.jit(epoch, donate_argnums=0)
        epoch_keys = jax.jit(jax.vmap(jax.random.fold_in, in_axes=(0, None)))
    else:
        init, epoch = make_poincare_trainer(edges_np, num_nodes, dim, **trainer_kwargs)
        init_keys, train_keys = jax.random.split(key)
        state = init(init_keys)
        epoch_fn = jax.jit(epoch, donate_argnums=0)
        epoch_keys = jax.random.fold_in
        num_runs = 1
    losses = []
    t0 = time.perf_counter()
    t_first = 0.0
    for e in range(num_epochs):
        state, loss = epoch_fn(state, epoch_keys(train_keys, e))
        if e == 0:
            jax.block_until_ready(loss)
            t_first = time.perf_counter() - t0
        losses.append(loss)
        if callback is not None:
            callback(e, state, np.asarray(loss) if batch_ndim else float(loss))
    losses = np.asarray(jnp.stack(losses))  # the one sync of the loop
    t_rest = time.perf_counter() - t0 - t_first
    bad = ~np.isfinite(losses.reshape(num_epochs, -1)).all(axis=1)
    if bad.any():
        e = int(np.argmax(bad))
        raise FloatingPointError(f"the Poincare-embedding loss became {losses[e]} at epoch {e}")
    if not return_info:
        return state.params
    m = edges_np.shape[0] * num_runs
    rate = m * (num_epochs - 1) / t_rest if num_epochs > 1 and t_rest > 0 else m / t_first
    return TrainingResult(state.params, losses, float(rate), t_first + t_rest)


def _shape(key) -> tuple[int, ...]:
    return tuple(np.shape(key))
