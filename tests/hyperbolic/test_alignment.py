"""Alignment: recovering a known isometry, the Euclidean baseline's failure, precision@k, errors."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ott.geometry import costs, geometry
from ott.problems.linear import linear_problem
from ott.solvers.linear import sinkhorn

from jaxml.hyperbolic import (
    AlignmentProblem,
    DeepMap,
    DeepRegistration,
    PoincareCost,
    RegistrationSolver,
    align,
    apply_isometry,
    apply_map,
    identity_isometry,
    match_by_keys,
    match_by_lemmas,
    permute_hierarchy,
    precision_at_k,
    random_isometry,
    random_rotation,
    remove_edges,
    synthetic_hierarchy,
    tree_orbit_sizes,
    true_match_from_permutation,
)
from jaxml.hyperbolic import poincare as P
from jaxml.hyperbolic.registration import apply_deep_map


def _np_mobius_add(x, y):
    xy, x2, y2 = x @ y, x @ x, y @ y
    return ((1 + 2 * xy + y2) * x + (1 - x2) * y) / (1 + 2 * xy + x2 * y2)


def _tree_embedding(seed: int, num_nodes: int, dim: int, edge_length: float = 1.2):
    """A tree drawn directly in the ball, no training: each child at hyperbolic distance
    ``edge_length`` from its parent in a random direction, ``exp_p(v) = p (+) tanh(L/2) u``."""
    tree = synthetic_hierarchy(seed, num_nodes=num_nodes)
    rng = np.random.default_rng(seed)
    parent = np.full(num_nodes, -1)
    parent[tree.parent_edges[:, 0]] = tree.parent_edges[:, 1]
    pts = np.zeros((num_nodes, dim))
    for v in range(1, num_nodes):  # parents precede children in random_tree
        direction = rng.normal(size=dim)
        direction /= np.linalg.norm(direction)
        pts[v] = _np_mobius_add(pts[parent[v]], np.tanh(edge_length / 2) * direction)
    return np.asarray(P.project(pts.astype(np.float32), 1e-4)), tree


@pytest.fixture(scope="module")
def isometric_pair():
    """39 embedded tree nodes and a relabelled copy moved by a large isometry (+ tiny noise).

    (39 nodes, d = 3 and FAST are also the tiny sizes of the figure smoke tests, which then
    reuse these compiled programs.)"""
    x, tree = _tree_embedding(0, 39, 3)
    iso = random_isometry(jax.random.key(7), 3, translation_norm=0.9)
    moved = np.asarray(apply_isometry(iso, x))
    noise = 1e-3 * np.random.default_rng(1).normal(size=moved.shape)
    moved = np.asarray(
        P.project(P.expmap(moved, noise / np.asarray(P.conformal_factor(moved))[:, None]), 1e-5)
    )
    perm = np.random.default_rng(2).permutation(39)
    y = np.empty_like(moved)
    y[perm] = moved  # item i of x is item perm[i] of y
    return x, y, true_match_from_permutation(perm), iso


FAST = dict(num_restarts=4, num_iters=12, gw_iterations=20)


def test_hyperbolic_ot_recovers_the_isometry(isometric_pair):
    x, y, truth, _ = isometric_pair
    result = align(x, y, "hyperbolic_ot", key=jax.random.key(0), **FAST)
    assert result.plan.shape == (39, 39) and result.log_plan.shape == (39, 39)
    np.testing.assert_allclose(np.asarray(result.plan).sum(1), 1 / 39, rtol=1e-2)
    assert float(precision_at_k(result.log_plan, truth, 1)) >= 0.95
    assert float(np.mean(np.asarray(result.matching) == truth)) >= 0.95
    # The fitted map is an isometry that sends x onto its counterparts.
    np.testing.assert_allclose(
        np.asarray(apply_map(result.mapping, x)), np.asarray(result.mapped_x), atol=1e-4
    )
    rot = np.asarray(result.mapping.rotation)
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-4)
    err = np.asarray(P.distance(result.mapped_x, y[truth]))
    assert np.median(err) < 0.05


def test_euclidean_procrustes_fails_under_a_mobius_translation(isometric_pair):
    x, y, truth, _ = isometric_pair
    result = align(x, y, "euclidean_procrustes", key=jax.random.key(0), **FAST)
    assert float(precision_at_k(result.log_plan, truth, 1)) < 0.5
    # ... while it does recover a pure rotation (no translation): the failure is the translation.
    rot = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))[0]
    y_rot = np.empty_like(x)
    y_rot[truth] = x @ rot.T
    result = align(x, y_rot, "euclidean_procrustes", key=jax.random.key(0), **FAST)
    assert float(precision_at_k(result.log_plan, truth, 1)) >= 0.95


def test_gromov_wasserstein_needs_no_map(isometric_pair):
    x, y, truth, _ = isometric_pair
    result = align(x, y, "gromov_wasserstein", **FAST)
    assert result.mapping is None and result.mapped_x is None
    np.testing.assert_allclose(float(jnp.sum(result.plan)), 1.0, rtol=1e-3)
    # log_plan ranks like the plan.
    np.testing.assert_array_equal(
        np.argmax(np.asarray(result.log_plan), 1), np.argmax(np.asarray(result.plan), 1)
    )
    assert float(precision_at_k(result.log_plan, truth, 1)) >= 0.9


def test_precision_at_k_counts_ties_pessimistically():
    scores = jnp.array([[0.9, 0.1, 0.0], [0.2, 0.2, 0.2], [0.1, 0.5, 0.4], [0.3, 0.3, 0.4]])
    truth = np.array([0, 1, 2, -1])
    for fn in (precision_at_k, jax.jit(precision_at_k, static_argnums=2)):
        assert float(fn(scores, truth, 1)) == pytest.approx(1 / 3)  # row 1 is a 3-way tie
        assert float(fn(scores, truth, 2)) == pytest.approx(2 / 3)
        assert float(fn(scores, truth, 3)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        precision_at_k(scores, truth, 0)
    with pytest.raises(ValueError, match="true_match must have shape"):
        precision_at_k(scores, truth[:2], 1)
    with pytest.raises(ValueError, match="no matched row"):
        precision_at_k(scores, -np.ones(4, int), 1)
    with pytest.raises(ValueError, match=r"\[-1, m\)"):
        precision_at_k(scores, np.array([0, 1, 3, 0]), 1)


def test_precision_at_k_rejects_non_finite_scores_in_matched_rows():
    # Regression: a NaN true score made every comparison False, so the row counted as a hit and
    # a diverged plan could score P@1 = 1.0.
    nan = jnp.nan
    scores = jnp.array([[nan, 0.1, 0.0], [0.2, 0.9, 0.1], [0.1, 0.5, jnp.inf], [nan, nan, nan]])
    msg = r"NaN or inf scores in 2 matched row\(s\) \(rows \[0, 2\]\)"
    with pytest.raises(ValueError, match=msg):
        precision_at_k(scores, np.array([0, 1, 2, -1]), 1)
    many = jnp.full((8, 3), nan)
    msg = r"in 8 matched row\(s\) \(rows \[0, 1, 2, 3, 4, \.\.\.\]\)"
    with pytest.raises(ValueError, match=msg):
        precision_at_k(many, np.zeros(8, int), 1)
    # Unmatched rows are not inspected: rows 0, 2 and 3 are excluded, row 1 is a clean hit.
    assert float(precision_at_k(scores, np.array([-1, 1, -1, -1]), 1)) == 1.0
    # Under jit the value cannot raise: it is NaN instead of a fake hit.
    jitted = jax.jit(precision_at_k, static_argnums=2)
    assert np.isnan(float(jitted(scores, np.array([0, 1, 2, -1]), 1)))
    assert float(jitted(scores, np.array([-1, 1, -1, -1]), 1)) == 1.0


@pytest.mark.parametrize("method", ["hyperbolic_ot", "gromov_wasserstein"])
def test_align_raises_when_no_restart_ends_finite(method):
    # d^200 overflows float32 for hyperbolic distances above ~1.5: every restart's cost is NaN.
    rng = np.random.default_rng(0)
    x = (0.3 * rng.normal(size=(20, 2))).astype(np.float32)
    y = (0.3 * rng.normal(size=(20, 2))).astype(np.float32)
    restarts = 2 if method == "hyperbolic_ot" else 1
    with pytest.raises(RuntimeError, match=f"none of the {restarts} restart.*ended finite"):
        align(x, y, method, key=jax.random.key(0), power=200.0, num_restarts=2, num_iters=3)


def test_align_skips_non_finite_restarts_and_raises_if_all_are(isometric_pair, monkeypatch):
    """NaN injected into the restarts' output: the finite restart is kept; none finite raises."""
    from jaxml.hyperbolic import alignment

    x, y, truth, _ = isometric_pair
    real = alignment._run_restarts
    poisoned = {"which": None}

    def run_restarts(*args, **kwargs):
        w, u, plans, log_plans, costs = real(*args, **kwargs)
        bad = jnp.asarray(poisoned["which"])
        costs = jnp.where(bad, jnp.nan, costs)
        log_plans = jnp.where(bad[:, None, None], jnp.nan, log_plans)
        return w, u, plans, log_plans, costs

    monkeypatch.setattr(alignment, "_run_restarts", run_restarts)
    poisoned["which"] = [True, False, True, True]  # only restart 1 survives
    result = align(x, y, "hyperbolic_ot", key=jax.random.key(0), **FAST)
    assert np.isnan(np.asarray(result.restart_costs)).tolist() == poisoned["which"]
    assert np.isfinite(np.asarray(result.log_plan)).all() and np.isfinite(float(result.cost))
    assert float(result.cost) == float(result.restart_costs[1])
    poisoned["which"] = [True, True, True, True]
    with pytest.raises(RuntimeError, match=r"none of the 4 restart\(s\) ended finite.*4 of 4"):
        align(x, y, "hyperbolic_ot", key=jax.random.key(0), **FAST)


def test_ground_truth_helpers():
    assert match_by_keys(["a", "b", "c", "c"], ["c", "a", "d"]).tolist() == [1, -1, -1, -1]
    lemmas_30 = [("moose", "elk", "alces_alces"), ("dog",), ("bat",), ("bat",)]
    lemmas_33 = [("dog",), ("alces_alces", "elk", "moose", "european_elk"), ("bat",)]
    # moose: lemma added in one version -> overlap pass; the two "bat"s are ambiguous.
    assert match_by_lemmas(lemmas_30, lemmas_33).tolist() == [1, 0, -1, -1]
    assert match_by_lemmas(lemmas_30, lemmas_33, overlap=False).tolist() == [-1, 0, -1, -1]
    # Orbits: a root with two leaf children -> the leaves are interchangeable.
    assert tree_orbit_sizes(np.array([[1, 0], [2, 0]]), 3).tolist() == [1, 2, 2]
    assert tree_orbit_sizes(np.array([[1, 0], [2, 0], [3, 1]]), 4).tolist() == [1, 1, 1, 1]
    tree = synthetic_hierarchy(0, num_nodes=20)
    permuted, perm = permute_hierarchy(tree, 1)
    assert [permuted.names[perm[i]] for i in range(20)] == list(tree.names)
    assert {tuple(e) for e in permuted.edges.tolist()} == {
        (int(perm[a]), int(perm[b])) for a, b in tree.edges
    }
    fewer = remove_edges(tree, 0.3, 0)
    assert len(fewer.edges) == round(0.7 * len(tree.edges)) and fewer.num_nodes == 20


def test_bad_input_gives_clear_errors():
    x = jnp.array([[0.1, 0.2], [0.3, -0.1]])
    with pytest.raises(ValueError, match="same dimension"):
        align(x, jnp.zeros((2, 3)), "hyperbolic_ot", key=jax.random.key(0))
    with pytest.raises(ValueError, match="y has 1 point.*outside"):
        align(x, jnp.array([[1.0, 0.5], [0.0, 0.0]]), "euclidean_procrustes", key=jax.random.key(0))
    with pytest.raises(ValueError, match="x is empty"):
        align(jnp.zeros((0, 2)), x, "gromov_wasserstein")
    with pytest.raises(ValueError, match="method must be one of"):
        align(x, x, "procrustes")
    with pytest.raises(ValueError, match="key"):
        align(x, x, "hyperbolic_ot")
    with pytest.raises(ValueError, match="epsilon"):
        align(x, x, "hyperbolic_ot", key=jax.random.key(0), epsilon=-1.0)
    with pytest.raises(ValueError, match="fraction"):
        remove_edges(synthetic_hierarchy(0, num_nodes=5), 1.0, 0)


# ---------------------------------------------------------------------------------------------
# The pure solver: jit, vmap over restarts and over problems give the eager result.

SOLVER = RegistrationSolver(num_iters=3, sinkhorn_max_iterations=40)


@pytest.fixture
def solver_case(isometric_pair, x64):
    """The isometric pair in float64 (so that jit/vmap/eager agree to 1e-9, not to float32's
    reassociation noise), two initial rotations and an annealing schedule."""
    x, y, _, _ = isometric_pair
    rotations = jnp.stack([jnp.eye(3), random_rotation(jax.random.key(3), 3)]).astype(jnp.float64)
    x, y = jnp.asarray(x, jnp.float64), jnp.asarray(y, jnp.float64)
    return x, y, rotations, SOLVER.epsilons(0.5, jnp.float64)


@pytest.mark.parametrize(
    "cost_fn", [PoincareCost(1.0, 2.0), costs.SqEuclidean()], ids=["poincare", "sqeuclidean"]
)
def test_solver_run_jit_and_vmap_over_restarts_equal_eager_loop(solver_case, cost_fn):
    x, y, rotations, eps = solver_case
    problem = AlignmentProblem(x, y, cost_fn)
    eager = [SOLVER.run(problem, r, eps) for r in rotations]
    assert int(eager[0].iteration) == SOLVER.num_iters
    assert np.isfinite(float(eager[0].cost)) and np.isfinite(float(eager[1].cost))
    chex.assert_trees_all_close(
        jax.jit(SOLVER.run)(problem, rotations[1], eps), eager[1], rtol=1e-9, atol=1e-12
    )
    looped = jax.tree.map(lambda *leaves: jnp.stack(leaves), *eager)
    over_restarts = jax.jit(jax.vmap(SOLVER.run, in_axes=(None, 0, None)))(problem, rotations, eps)
    chex.assert_trees_all_close(over_restarts, looped, rtol=1e-9, atol=1e-12)
    plan, log_plan, cost = SOLVER.transport(eager[0], problem, eps[-1])
    np.testing.assert_allclose(
        np.asarray(plan), np.exp(np.asarray(log_plan)), rtol=1e-6, atol=1e-300
    )
    np.testing.assert_allclose(np.asarray(plan).sum(), 1.0, rtol=5e-2)
    assert np.isfinite(float(cost))


def test_solver_run_vmaps_over_problems(solver_case):
    x, y, rotations, eps = solver_case
    cost_fn = PoincareCost(1.0, 2.0)
    batched = AlignmentProblem(jnp.stack([x, y]), jnp.stack([y, x]), cost_fn)
    in_axes = (AlignmentProblem(0, 0, None), None, None)
    out = jax.jit(jax.vmap(SOLVER.run, in_axes=in_axes))(batched, rotations[0], eps)
    for i, (a, b) in enumerate([(x, y), (y, x)]):
        one = SOLVER.run(AlignmentProblem(a, b, cost_fn), rotations[0], eps)
        chex.assert_trees_all_close(
            jax.tree.map(lambda v, i=i: v[i], out), one, rtol=1e-9, atol=1e-12
        )


def test_solver_rejects_costs_it_cannot_register(solver_case):
    x, y, rotations, eps = solver_case
    with pytest.raises(TypeError, match="cost_fn must be"):
        SOLVER.run(AlignmentProblem(x, y, costs.Cosine()), rotations[0], eps)
    with pytest.raises(ValueError, match="num_iters"):
        RegistrationSolver(num_iters=0)
    with pytest.raises(ValueError, match="anneal_fraction"):
        RegistrationSolver(anneal_fraction=1.5)


# ---------------------------------------------------------------------------------------------
# Deep registration (registration="mlp") and GW-then-HOT on the tiny isometric pair.

DEEP = dict(num_restarts=2, deep_outer=3, deep_inner=3, hidden=4, deep_fit_steps=10)


def test_deep_registration_keeps_an_exact_match_and_its_map_applies(isometric_pair):
    x, y, truth, _ = isometric_pair
    key = jax.random.key(0)
    iso = align(x, y, "hyperbolic_ot", key=key, **FAST)
    kw = {k: v for k, v in FAST.items() if k != "gw_iterations"}
    deep = align(x, y, "hyperbolic_ot", key=key, registration="mlp", init=iso, **(kw | DEEP))
    assert isinstance(deep.mapping, DeepMap) and deep.restart_costs.shape == (2,)
    assert float(precision_at_k(deep.log_plan, truth, 1)) >= 0.9
    np.testing.assert_allclose(
        np.asarray(apply_map(deep.mapping, x)), np.asarray(deep.mapped_x), atol=1e-5
    )
    # The deep map starts at the isometry (g ~ 0) and stays near it on an exact copy.
    moved = np.asarray(P.distance(deep.mapped_x, iso.mapped_x))
    assert np.median(moved) < 0.3
    gw = align(x, y, "gromov_wasserstein", **FAST)
    piped = align(x, y, "gw_then_hyperbolic", key=key, init=gw, **(kw | DEEP))
    assert piped.method == "gw_then_hyperbolic" and isinstance(piped.mapping, DeepMap)
    assert float(precision_at_k(piped.log_plan, truth, 1)) >= 0.8
    with pytest.raises(ValueError, match="hidden must be >= d = 3"):
        align(x, y, "hyperbolic_ot", key=key, registration="mlp", hidden=2)
    with pytest.raises(ValueError, match="init for method 'gw_then_hyperbolic'"):
        align(x, y, "gw_then_hyperbolic", key=key, init=iso)


def test_divergence_loss_value_and_gradient(x64):
    """DeepRegistration.divergence = OT_eps(f(x), y) - OT_eps(f(x), f(x)) / 2, both solved here by
    ott's Sinkhorn on dense cost matrices; its implicit gradient matches central differences."""
    rng = np.random.default_rng(0)
    x = np.asarray(P.project(0.4 * rng.normal(size=(9, 3)), 1e-3))
    y = np.asarray(P.project(0.4 * rng.normal(size=(7, 3)), 1e-3))
    reg = DeepRegistration(
        hidden=4,
        loss="divergence",
        init_scale=0.3,
        sinkhorn_threshold=1e-11,
        sinkhorn_max_iterations=2000,
    )
    iso = identity_isometry(3, jnp.float64)
    params = reg.init(jax.random.key(1), 3, jnp.float64)
    eps = 0.5

    def ot(a, b):
        geom = geometry.Geometry(cost_matrix=P.pairwise_distance(a, b) ** 2, epsilon=eps)
        solver = sinkhorn.Sinkhorn(threshold=1e-11, max_iterations=2000)
        return solver(linear_problem.LinearProblem(geom)).reg_ot_cost

    fx = apply_deep_map(DeepMap(iso, params), x)
    want = ot(fx, y) - 0.5 * ot(fx, fx)
    div = jax.jit(reg.divergence)
    np.testing.assert_allclose(float(div(params, iso, x, y, eps)), float(want), rtol=1e-6)
    grad = jax.jit(jax.grad(reg.divergence))(params, iso, x, y, eps)
    leaves, tree = jax.tree_util.tree_flatten(params)
    direction = [jnp.asarray(rng.normal(size=np.shape(v))) for v in leaves]
    along = sum(
        jnp.vdot(g, d) for g, d in zip(jax.tree_util.tree_leaves(grad), direction, strict=True)
    )

    def at(t):
        p = jax.tree_util.tree_unflatten(
            tree, [v + t * d for v, d in zip(leaves, direction, strict=True)]
        )
        return float(div(p, iso, x, y, eps))

    h = 1e-5
    np.testing.assert_allclose(float(along), (at(h) - at(-h)) / (2 * h), rtol=1e-4)
