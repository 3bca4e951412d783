"""Poincare embeddings: RSGD, the loss, negative sampling, training, reconstruction metrics."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.hyperbolic import (
    make_poincare_trainer,
    poincare_embedding_loss,
    reconstruction_metrics,
    riemannian_sgd,
    synthetic_hierarchy,
    train_poincare_embeddings,
)
from jaxml.hyperbolic import poincare as P
from jaxml.hyperbolic.embeddings import _csr, _csr_contains


def test_rsgd_update_matches_nickel_kiela_formula(x64):
    rng = np.random.default_rng(0)
    p = rng.normal(size=(6, 3)) * 0.3
    p[0] = [0.999, 0.0, 0.0]
    g = rng.normal(size=(6, 3))
    opt = riemannian_sgd(0.5, eps=1e-5)
    state = opt.init(p)
    for fn in (opt.update, jax.jit(opt.update)):
        updates, new_state = fn(jnp.asarray(g), state, jnp.asarray(p))
        new = np.asarray(optax.apply_updates(jnp.asarray(p), updates))
        step = p - 0.5 * (1 - np.sum(p * p, 1, keepdims=True)) ** 2 / 4 * g
        norm = np.linalg.norm(step, axis=1, keepdims=True)
        expected = np.where(norm > 1 - 1e-5, step / norm * (1 - 1e-5), step)
        np.testing.assert_allclose(new, expected, rtol=1e-12, atol=1e-14)
        assert int(new_state.count) == 1
    # The exact retraction: new = proj(exp_p(-lr grad_R)).
    opt_exp = riemannian_sgd(0.5, retraction="expmap")
    updates, _ = opt_exp.update(jnp.asarray(g), opt_exp.init(p), jnp.asarray(p))
    rgrad = (1 - np.sum(p * p, 1, keepdims=True)) ** 2 / 4 * g
    expected = np.asarray(P.project(P.expmap(p, -0.5 * rgrad), 1e-5))
    np.testing.assert_allclose(np.asarray(p + updates), expected, rtol=1e-10, atol=1e-12)
    # A schedule is called with the step count.
    opt_sched = riemannian_sgd(lambda count: 0.1 * (count + 1))
    s = opt_sched.init(p)
    _, s = opt_sched.update(jnp.asarray(g), s, jnp.asarray(p))
    u2, _ = opt_sched.update(jnp.asarray(g), s, jnp.asarray(p))
    step2 = p - 0.2 * rgrad
    np.testing.assert_allclose(np.asarray(p + u2), np.asarray(P.project(step2, 1e-5)), rtol=1e-10)
    with pytest.raises(ValueError, match="needs params"):
        opt.update(jnp.asarray(g), state)
    with pytest.raises(ValueError, match="retraction"):
        riemannian_sgd(0.1, retraction="cayley")


def test_loss_matches_numpy_and_masks_negatives(x64):
    rng = np.random.default_rng(1)
    params = rng.normal(size=(6, 2)) * 0.3
    batch = np.array([[0, 1], [2, 3]])
    negs = np.array([[2, 3, 4], [0, 5, 5]])
    mask = np.array([[True, False, True], [True, True, False]])

    def dist(a, b):
        sq = np.sum((params[a] - params[b]) ** 2)
        den = (1 - np.sum(params[a] ** 2)) * (1 - np.sum(params[b] ** 2))
        return np.arccosh(1 + 2 * sq / den)

    expected = []
    for b in range(2):
        u, v = batch[b]
        logits = [-dist(u, v)] + [-dist(u, n) for n, ok in zip(negs[b], mask[b], strict=True) if ok]
        expected.append(-(logits[0] - np.log(np.sum(np.exp(logits)))))
    for fn in (poincare_embedding_loss, jax.jit(poincare_embedding_loss)):
        loss = fn(jnp.asarray(params), jnp.asarray(batch), jnp.asarray(negs), jnp.asarray(mask))
        np.testing.assert_allclose(float(loss), np.mean(expected), rtol=1e-10)
    weighted = poincare_embedding_loss(
        jnp.asarray(params),
        jnp.asarray(batch),
        jnp.asarray(negs),
        jnp.asarray(mask),
        jnp.array([1.0, 0.0]),
    )
    np.testing.assert_allclose(float(weighted), expected[0] / 2, rtol=1e-10)


def test_csr_membership_matches_python_sets():
    rng = np.random.default_rng(2)
    n = 30
    pairs = rng.integers(0, n, size=(200, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    indptr, indices, max_deg = _csr(pairs, n)
    iters = int(np.ceil(np.log2(max_deg + 1))) + 1
    u = rng.integers(0, n, size=500)
    v = rng.integers(0, n, size=500)
    got = np.asarray(
        jax.jit(_csr_contains, static_argnums=4)(
            jnp.asarray(indptr), jnp.asarray(indices), jnp.asarray(u), jnp.asarray(v), iters
        )
    )
    members = {(int(a), int(b)) for a, b in pairs}
    expected = [(int(a), int(b)) in members for a, b in zip(u, v, strict=True)]
    np.testing.assert_array_equal(got, expected)


def _brute_force_reconstruction(emb, edges):
    n = emb.shape[0]
    dist = np.asarray(P.pairwise_distance(emb, emb), np.float64)
    pos = [set() for _ in range(n)]
    for a, b in edges:
        pos[a].add(int(b))
    ranks, aps = [], []
    for u in range(n):
        if not pos[u]:
            continue
        negs = [v for v in range(n) if v != u and v not in pos[u]]
        precisions = []
        for v in pos[u]:
            ranks.append(1 + sum(dist[u, w] < dist[u, v] for w in negs))
            npos = sum(dist[u, w] <= dist[u, v] for w in pos[u])
            precisions.append(npos / (npos + ranks[-1] - 1))
        aps.append(np.mean(precisions))
    return np.mean(ranks), np.mean(aps)


def test_reconstruction_metrics_match_brute_force():
    tree = synthetic_hierarchy(3, num_nodes=25)
    emb = jnp.asarray(np.random.default_rng(0).normal(size=(25, 2)) * 0.3, jnp.float32)
    got = reconstruction_metrics(emb, tree.edges, chunk_size=7)
    rank, ap = _brute_force_reconstruction(np.asarray(emb), tree.edges)
    np.testing.assert_allclose(float(got.mean_rank), rank, rtol=1e-5)
    np.testing.assert_allclose(float(got.map), ap, rtol=1e-5)


def test_training_reconstructs_a_small_tree():
    tree = synthetic_hierarchy(0, branching=2, depth=3)  # 15 nodes, 34 closure edges
    result = train_poincare_embeddings(
        tree.edges,
        tree.num_nodes,
        2,
        jax.random.key(0),
        num_epochs=150,
        num_negatives=10,
        batch_size=8,
        burn_in_epochs=10,
        learning_rate=0.5,
        return_info=True,
    )
    emb = np.asarray(result.embeddings)
    assert emb.shape == (15, 2) and np.all(np.linalg.norm(emb, axis=1) < 1 - 1e-6)
    assert result.losses[-1] < 0.5 * result.losses[0]
    metrics = reconstruction_metrics(emb, tree.edges)
    assert float(metrics.map) > 0.9 and float(metrics.mean_rank) < 1.5
    # The root ends up nearer the origin than the leaves.
    depth = np.bincount(tree.edges[:, 0], minlength=15)  # number of ancestors
    norms = np.linalg.norm(emb, axis=1)
    assert norms[depth == 0].mean() < norms[depth == 3].mean()


def test_epoch_is_deterministic_and_jit_safe():
    tree = synthetic_hierarchy(1, num_nodes=12)
    init, epoch = make_poincare_trainer(tree.edges, 12, 3, batch_size=5, num_negatives=4)
    state = init(jax.random.key(0))
    epoch = jax.jit(epoch)
    a, loss_a = epoch(state, jax.random.key(1))
    b, loss_b = epoch(state, jax.random.key(1))
    np.testing.assert_array_equal(np.asarray(a.params), np.asarray(b.params))
    assert int(a.epoch) == 1 and np.isfinite(float(loss_a)) and float(loss_a) == float(loss_b)


def test_bad_edges_and_settings():
    good = np.array([[1, 0], [2, 0]])
    with pytest.raises(ValueError, match=r"edges must have shape \[m, 2\]"):
        train_poincare_embeddings(np.zeros((3,), int), 3, 2, jax.random.key(0))
    with pytest.raises(ValueError, match="edges is empty"):
        train_poincare_embeddings(np.zeros((0, 2), int), 3, 2, jax.random.key(0))
    with pytest.raises(ValueError, match="outside"):
        train_poincare_embeddings(np.array([[5, 0]]), 3, 2, jax.random.key(0))
    with pytest.raises(ValueError, match="self-loops"):
        train_poincare_embeddings(np.array([[1, 1]]), 3, 2, jax.random.key(0))
    with pytest.raises(ValueError, match="num_epochs"):
        train_poincare_embeddings(good, 3, 2, jax.random.key(0), num_epochs=0)
    with pytest.raises(ValueError, match="negatives must be one of"):
        make_poincare_trainer(good, 3, 2, negatives="all")
    with pytest.raises(ValueError, match="embeddings has 1 point"):
        reconstruction_metrics(jnp.array([[2.0, 0.0], [0.0, 0.0], [0.1, 0.0]]), good)


def test_training_a_key_batch_equals_one_run_per_key():
    """One vmapped program over S keys = S separate runs (same init/epoch key derivation)."""
    tree = synthetic_hierarchy(0, num_nodes=12)
    kwargs = dict(num_epochs=3, num_negatives=4, batch_size=8, burn_in_epochs=1)
    keys = jax.vmap(jax.random.key)(jnp.arange(2, dtype=jnp.uint32))
    batched = train_poincare_embeddings(
        tree.edges, tree.num_nodes, 2, keys, return_info=True, **kwargs
    )
    assert batched.embeddings.shape == (2, 12, 2) and batched.losses.shape == (3, 2)
    for s in range(2):
        one = train_poincare_embeddings(
            tree.edges, tree.num_nodes, 2, jax.random.key(s), return_info=True, **kwargs
        )
        np.testing.assert_allclose(batched.embeddings[s], one.embeddings, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(batched.losses[:, s], one.losses, rtol=1e-5)
    with pytest.raises(ValueError, match="key must be one PRNG key or a 1-D batch"):
        train_poincare_embeddings(tree.edges, tree.num_nodes, 2, keys.reshape(1, 2), num_epochs=1)


def test_linear_lr_decay_reaches_zero_at_decay_epochs():
    tree = synthetic_hierarchy(0, branching=2, depth=2)  # 7 nodes
    kw = dict(num_negatives=3, batch_size=4, burn_in_epochs=1, learning_rate=0.5)
    init, epoch = make_poincare_trainer(
        tree.edges, tree.num_nodes, 2, lr_decay="linear", decay_epochs=3, **kw
    )
    epoch = jax.jit(epoch)
    states = [init(jax.random.key(0))]
    for e in range(4):
        states.append(epoch(states[-1], jax.random.key(e + 1))[0])
    moved = [
        float(jnp.abs(b.params - a.params).max())
        for a, b in zip(states[:-1], states[1:], strict=True)
    ]
    assert moved[0] > 0 and moved[1] > 0 and moved[2] > 0  # burn-in, then decaying steps
    assert moved[3] == 0.0  # epoch 4 is past decay_epochs = 3: learning rate 0
    # The constant schedule keeps moving; train_poincare_embeddings passes num_epochs itself.
    init_c, epoch_c = make_poincare_trainer(tree.edges, tree.num_nodes, 2, **kw)
    s = init_c(jax.random.key(0))
    for e in range(4):
        s_prev, s = s, jax.jit(epoch_c)(s, jax.random.key(e + 1))[0]
    assert float(jnp.abs(s.params - s_prev.params).max()) > 0
    emb = train_poincare_embeddings(
        tree.edges, tree.num_nodes, 2, jax.random.key(0), num_epochs=3, lr_decay="linear", **kw
    )
    assert emb.shape == (7, 2)
    with pytest.raises(ValueError, match="lr_decay"):
        make_poincare_trainer(tree.edges, tree.num_nodes, 2, lr_decay="cosine")
    with pytest.raises(ValueError, match="decay_epochs"):
        make_poincare_trainer(tree.edges, tree.num_nodes, 2, lr_decay="linear")
    with pytest.raises(ValueError, match="decay_epochs"):
        make_poincare_trainer(
            tree.edges, tree.num_nodes, 2, lr_decay="linear", decay_epochs=1, burn_in_epochs=1
        )
