"""Bad calls to jaxml.hyperbolic and its ``poincare`` module (see tests/bad_inputs/audit.py)."""

import jax
import jax.numpy as jnp
import numpy as np
from ott.geometry import costs

from jaxml import hyperbolic as h
from jaxml.hyperbolic import poincare as P
from jaxml.testing import bad_calls

F = "jaxml.hyperbolic."
NAN = float("nan")
_x = np.array([[0.1, 0.2], [0.3, -0.1], [-0.2, 0.05]], np.float32)
_y = np.array([[0.0, 0.1], [0.2, 0.2], [-0.1, -0.3]], np.float32)
_nan_x = _x.copy()
_nan_x[1, 0] = NAN
_out = np.array([[0.1, 0.2], [0.9, 0.9], [0.0, 0.0]], np.float32)
_key = jax.random.key(0)
_edges = np.array([[1, 0], [2, 0], [3, 1], [3, 0]])
_iso = h.Isometry(rotation=jnp.eye(2), translation=jnp.array([0.1, 0.0]))
_tree = h.synthetic_hierarchy(0, num_nodes=6)


_REG = h.DeepRegistration(hidden=2, num_outer=1, inner_steps=1)
_KEYS = jax.random.split(jax.random.key(0), 2)
_GW = h.align(_x, _y, "gromov_wasserstein", gw_iterations=1)
_PTS = 0.3 * np.tanh(np.arange(12.0).reshape(6, 2) / 7.0 - 0.8)


def _cases(name, arg, items):
    return bad_calls(F + name, arg, items)


def _align(**kw):
    args = {"x": _x, "y": _y, "method": "hyperbolic_ot", "key": _key}
    args.update(kw)
    return h.align(**args)


def _trainer(**kw):
    args = {"edges": _edges, "num_nodes": 4, "dim": 2}
    args.update(kw)
    return h.make_poincare_trainer(**args)


def _loss(**kw):
    args = {
        "params": jnp.asarray(np.zeros((4, 2), np.float32) + 0.1 * np.arange(4)[:, None]),
        "batch": jnp.array([[1, 0], [2, 0]]),
        "negatives": jnp.array([[2, 3], [1, 3]]),
        "negative_mask": jnp.array([[True, True], [True, False]]),
    }
    args.update(kw)
    return h.poincare_embedding_loss(**args)


CASES = [
    # ---- poincare.* (module exported in __all__).
    *_cases(
        "poincare.distance",
        "x",
        [
            ("NaN", lambda: P.distance(_nan_x, _y)),
            ("outside the ball", lambda: P.distance(_out, _y)),
            ("string", lambda: P.distance("abc", _y)),
            ("None", lambda: P.distance(None, _y)),
        ],
    ),
    *_cases("poincare.distance", "c", [("c = -1", lambda: P.distance(_x, _y, -1.0))]),
    *_cases("poincare.distance", "c", [("c = '1'", lambda: P.distance(_x, _y, "1"))]),
    *_cases("poincare.pairwise_distance", "y", [("NaN", lambda: P.pairwise_distance(_x, _nan_x))]),
    *_cases("poincare.pairwise_distance", "x", [("1-D", lambda: P.pairwise_distance(_x[0], _y))]),
    *_cases("poincare.mobius_add", "y", [("outside", lambda: P.mobius_add(_x, _out))]),
    *_cases("poincare.mobius_add", "x", [("NaN", lambda: P.mobius_add(_nan_x, _y))]),
    *_cases(
        "poincare.mobius_scalar_mul",
        "r",
        [
            ("NaN", lambda: P.mobius_scalar_mul(NAN, _x)),
            ("string", lambda: P.mobius_scalar_mul("2", _x)),
        ],
    ),
    *_cases("poincare.mobius_scalar_mul", "x", [("NaN", lambda: P.mobius_scalar_mul(2.0, _nan_x))]),
    *_cases(
        "poincare.mobius_matvec",
        "m",
        [
            ("NaN", lambda: P.mobius_matvec(jnp.full((2, 2), NAN), _x)),
            ("1-D", lambda: P.mobius_matvec(jnp.ones(2), _x)),
            ("width mismatch", lambda: P.mobius_matvec(jnp.ones((2, 3)), _x)),
        ],
    ),
    *_cases("poincare.mobius_matvec", "x", [("NaN", lambda: P.mobius_matvec(jnp.eye(2), _nan_x))]),
    *_cases(
        "poincare.expmap",
        "v",
        [
            ("NaN", lambda: P.expmap(_x, jnp.full((3, 2), NAN))),
            ("dim mismatch", lambda: P.expmap(_x, jnp.ones((3, 3)))),
        ],
    ),
    *_cases("poincare.expmap", "x", [("outside", lambda: P.expmap(_out, jnp.zeros((3, 2))))]),
    *_cases(
        "poincare.expmap0",
        "v",
        [("NaN", lambda: P.expmap0(jnp.array([NAN, 0.0]))), ("string", lambda: P.expmap0("v"))],
    ),
    *_cases("poincare.expmap0", "c", [("c = 0", lambda: P.expmap0(jnp.ones(2), 0.0))]),
    *_cases("poincare.logmap", "y", [("NaN", lambda: P.logmap(_x, _nan_x))]),
    *_cases("poincare.logmap", "x", [("outside", lambda: P.logmap(_out, _y))]),
    *_cases("poincare.logmap0", "y", [("NaN", lambda: P.logmap0(_nan_x))]),
    *_cases("poincare.conformal_factor", "x", [("outside", lambda: P.conformal_factor(_out))]),
    *_cases(
        "poincare.project",
        "x",
        [("NaN", lambda: P.project(_nan_x)), ("0-D", lambda: P.project(jnp.array(0.5)))],
    ),
    *_cases(
        "poincare.project",
        "eps",
        [("eps = 0", lambda: P.project(_x, 0.0)), ("eps = 1", lambda: P.project(_x, 1.0))],
    ),
    *_cases("poincare.to_hyperboloid", "x", [("NaN", lambda: P.to_hyperboloid(_nan_x))]),
    *_cases(
        "poincare.from_hyperboloid",
        "h",
        [
            ("off the hyperboloid", lambda: P.from_hyperboloid(jnp.array([[2.0, 0.0, 0.0]]))),
            ("NaN", lambda: P.from_hyperboloid(jnp.array([[NAN, 0.0, 0.0]]))),
        ],
    ),
    *_cases(
        "poincare.centroid",
        "weights",
        [
            ("negative", lambda: P.centroid(_x, jnp.array([1.0, -1.0, 1.0]))),
            ("wrong length", lambda: P.centroid(_x, jnp.ones(2))),
        ],
    ),
    *_cases("poincare.centroid", "x", [("NaN", lambda: P.centroid(_nan_x))]),
    # ---- isometries.
    *_cases(
        "Isometry",
        "rotation",
        [
            ("not orthogonal", lambda: h.Isometry(jnp.ones((2, 2)), jnp.zeros(2))),
            ("NaN", lambda: h.Isometry(jnp.full((2, 2), NAN), jnp.zeros(2))),
            ("not square", lambda: h.Isometry(jnp.ones((2, 3)), jnp.zeros(2))),
        ],
    ),
    *_cases(
        "Isometry",
        "translation",
        [
            # (a translation outside the ball is caught where the isometry is applied: the
            # ball's radius 1/sqrt(c) is not known at construction; see apply_isometry below)
            ("NaN", lambda: h.Isometry(jnp.eye(2), jnp.array([NAN, 0.0]))),
            ("wrong length", lambda: h.Isometry(jnp.eye(2), jnp.zeros(3))),
        ],
    ),
    *_cases(
        "apply_isometry",
        "x",
        [
            ("NaN", lambda: h.apply_isometry(_iso, _nan_x)),
            ("dim mismatch", lambda: h.apply_isometry(_iso, jnp.zeros((2, 3)))),
        ],
    ),
    *_cases(
        "apply_isometry",
        "iso",
        [
            (
                "a tuple with a bad translation",
                lambda: h.apply_isometry((jnp.eye(2), jnp.array([2.0, 0.0])), _x),
            ),
            ("a string", lambda: h.apply_isometry("iso", _x)),
        ],
    ),
    *_cases(
        "apply_isometry",
        "translation",
        [
            (
                "translation outside the ball",
                lambda: h.apply_isometry(h.Isometry(jnp.eye(2), jnp.array([2.0, 0.0])), _x),
            ),
            (
                "NaN translation",
                lambda: h.apply_isometry(h.Isometry(jnp.eye(2), jnp.array([NAN, 0.0])), _x),
            ),
        ],
    ),
    *_cases("compose_isometries", "inner", [("a dict", lambda: h.compose_isometries(_iso, {}))]),
    *_cases(
        "compose_isometries", "c", [("c = -1", lambda: h.compose_isometries(_iso, _iso, -1.0))]
    ),
    *_cases("invert_isometry", "iso", [("None", lambda: h.invert_isometry(None))]),
    *_cases(
        "identity_isometry",
        "dim",
        [("0", lambda: h.identity_isometry(0)), ("2.0", lambda: h.identity_isometry(2.0))],
    ),
    *_cases(
        "random_rotation",
        "dim",
        [("0", lambda: h.random_rotation(_key, 0)), ("'3'", lambda: h.random_rotation(_key, "3"))],
    ),
    *_cases("random_rotation", "key", [("an int", lambda: h.random_rotation(0, 3))]),
    *_cases(
        "random_isometry",
        "translation_norm",
        [
            ("1.0", lambda: h.random_isometry(_key, 2, 1.0)),
            ("NaN", lambda: h.random_isometry(_key, 2, NAN)),
        ],
    ),
    *_cases("random_isometry", "key", [("None", lambda: h.random_isometry(None, 2))]),
    *_cases(
        "noisy_isometric_copy",
        "noise",
        [("negative", lambda: h.noisy_isometric_copy(_key, _x, 0.5, -0.1))],
    ),
    *_cases(
        "noisy_isometric_copy",
        "x",
        [
            ("NaN", lambda: h.noisy_isometric_copy(_key, _nan_x, 0.5, 0.01)),
            ("1-D", lambda: h.noisy_isometric_copy(_key, _x[0], 0.5, 0.01)),
        ],
    ),
    *_cases("fit_isometry", "y", [("NaN", lambda: h.fit_isometry(_x, _nan_x))]),
    *_cases("fit_isometry", "x", [("unpaired shapes", lambda: h.fit_isometry(_x[:2], _y))]),
    # ---- costs and alignment.
    *_cases(
        "PoincareCost",
        "power",
        [("0", lambda: h.PoincareCost(power=0.0)), ("'2'", lambda: h.PoincareCost(power="2"))],
    ),
    *_cases("PoincareCost", "c", [("NaN", lambda: h.PoincareCost(c=NAN))]),
    *_cases(
        "pairwise_cost",
        "cost_fn",
        [
            ("cosine", lambda: h.pairwise_cost(costs.Cosine(), _x, _y)),
            ("None", lambda: h.pairwise_cost(None, _x, _y)),
        ],
    ),
    *_cases("pairwise_cost", "x", [("NaN", lambda: h.pairwise_cost(h.PoincareCost(), _nan_x, _y))]),
    *_cases(
        "RegistrationSolver",
        "num_iters",
        [
            ("0", lambda: h.RegistrationSolver(num_iters=0)),
            ("2.0", lambda: h.RegistrationSolver(num_iters=2.0)),
        ],
    ),
    *_cases("RegistrationSolver", "epsilon", [("-1", lambda: h.RegistrationSolver(epsilon=-1.0))]),
    *_cases(
        "RegistrationSolver",
        "anneal_fraction",
        [("1.5", lambda: h.RegistrationSolver(anneal_fraction=1.5))],
    ),
    *_cases(
        "align",
        "x",
        [
            ("NaN", lambda: _align(x=_nan_x)),
            ("1-D", lambda: _align(x=_x[0])),
            ("string", lambda: _align(x="x")),
        ],
    ),
    *_cases(
        "align",
        "y",
        [("outside", lambda: _align(y=_out)), ("empty", lambda: _align(y=np.zeros((0, 2))))],
    ),
    *_cases(
        "align",
        "method",
        [("unknown", lambda: _align(method="procrustes")), ("None", lambda: _align(method=None))],
    ),
    *_cases(
        "align", "key", [("missing", lambda: _align(key=None)), ("an int", lambda: _align(key=0))]
    ),
    *_cases(
        "align", "power", [("0", lambda: _align(power=0.0)), ("NaN", lambda: _align(power=NAN))]
    ),
    *_cases("align", "epsilon", [("-1", lambda: _align(epsilon=-1.0))]),
    *_cases(
        "align",
        "num_restarts",
        [("0", lambda: _align(num_restarts=0)), ("2.0", lambda: _align(num_restarts=2.0))],
    ),
    *_cases("align", "num_iters", [("'5'", lambda: _align(num_iters="5"))]),
    *_cases("align", "anneal_fraction", [("1.5", lambda: _align(anneal_fraction=1.5))]),
    *_cases("align", "center", [("'yes'", lambda: _align(center="yes"))]),
    *_cases("align", "c", [("0", lambda: _align(c=0.0))]),
    *_cases("apply_map", "mapping", [("None", lambda: h.apply_map(None, _x))]),
    *_cases("apply_map", "x", [("NaN", lambda: h.apply_map(_iso, _nan_x))]),
    # ---- embeddings.
    *_cases(
        "poincare_embedding_loss",
        "batch",
        [
            ("node id out of range", lambda: _loss(batch=jnp.array([[1, 0], [9, 0]]))),
            ("float ids", lambda: _loss(batch=jnp.array([[1.0, 0.0], [2.0, 0.0]]))),
            ("wrong shape", lambda: _loss(batch=jnp.array([1, 0]))),
        ],
    ),
    *_cases(
        "poincare_embedding_loss",
        "negatives",
        [
            ("node id out of range", lambda: _loss(negatives=jnp.array([[2, 30], [1, 3]]))),
            ("wrong rows", lambda: _loss(negatives=jnp.array([[2, 3]]))),
        ],
    ),
    *_cases(
        "poincare_embedding_loss",
        "negative_mask",
        [("wrong shape", lambda: _loss(negative_mask=jnp.ones((2, 3), bool)))],
    ),
    *_cases(
        "poincare_embedding_loss", "params", [("NaN", lambda: _loss(params=jnp.full((4, 2), NAN)))]
    ),
    *_cases(
        "poincare_embedding_loss", "weights", [("wrong length", lambda: _loss(weights=jnp.ones(3)))]
    ),
    *_cases(
        "make_poincare_trainer",
        "edges",
        [
            ("self-loop", lambda: _trainer(edges=np.array([[1, 1]]))),
            ("out of range", lambda: _trainer(edges=np.array([[5, 0]]))),
            ("floats", lambda: _trainer(edges=np.array([[1.0, 0.0]]))),
        ],
    ),
    *_cases(
        "make_poincare_trainer",
        "dim",
        [("0", lambda: _trainer(dim=0)), ("2.0", lambda: _trainer(dim=2.0))],
    ),
    *_cases(
        "make_poincare_trainer", "learning_rate", [("NaN", lambda: _trainer(learning_rate=NAN))]
    ),
    *_cases("make_poincare_trainer", "negatives", [("unknown", lambda: _trainer(negatives="all"))]),
    *_cases(
        "make_poincare_trainer", "optimizer", [("a string", lambda: _trainer(optimizer="sgd"))]
    ),
    *_cases(
        "make_poincare_trainer",
        "num_runs",
        [("0", lambda: _trainer(num_runs=0)), ("2.0", lambda: _trainer(num_runs=2.0))],
    ),
    *_cases(
        "train_poincare_embeddings",
        "num_epochs",
        [("0", lambda: h.train_poincare_embeddings(_edges, 4, 2, _key, num_epochs=0))],
    ),
    *_cases(
        "train_poincare_embeddings",
        "key",
        [("an int", lambda: h.train_poincare_embeddings(_edges, 4, 2, 0, num_epochs=1))],
    ),
    *_cases(
        "train_poincare_embeddings",
        "num_nodes",
        [("1", lambda: h.train_poincare_embeddings(_edges, 1, 2, _key))],
    ),
    *_cases(
        "riemannian_sgd",
        "learning_rate",
        [("-1", lambda: h.riemannian_sgd(-1.0)), ("string", lambda: h.riemannian_sgd("fast"))],
    ),
    *_cases("riemannian_sgd", "eps", [("1.0", lambda: h.riemannian_sgd(0.1, eps=1.0))]),
    *_cases(
        "riemannian_sgd",
        "retraction",
        [("unknown", lambda: h.riemannian_sgd(0.1, retraction="exp"))],
    ),
    *_cases(
        "reconstruction_metrics",
        "embeddings",
        [("NaN", lambda: h.reconstruction_metrics(jnp.full((4, 2), NAN), _edges))],
    ),
    *_cases(
        "reconstruction_metrics",
        "edges",
        [("out of range", lambda: h.reconstruction_metrics(jnp.zeros((4, 2)), np.array([[7, 0]])))],
    ),
    *_cases(
        "reconstruction_metrics",
        "chunk_size",
        [("0", lambda: h.reconstruction_metrics(jnp.zeros((4, 2)), _edges, chunk_size=0))],
    ),
    # ---- hierarchies and matching.
    *_cases(
        "synthetic_hierarchy",
        "num_nodes",
        [
            ("1", lambda: h.synthetic_hierarchy(0, num_nodes=1)),
            ("2.5", lambda: h.synthetic_hierarchy(0, num_nodes=2.5)),
        ],
    ),
    *_cases(
        "synthetic_hierarchy",
        "seed",
        [("a string", lambda: h.synthetic_hierarchy("zero", num_nodes=5))],
    ),
    *_cases(
        "wordnet_hierarchy",
        "root",
        [
            ("unknown synset", lambda: h.wordnet_hierarchy("nothing.n.99")),
            ("None", lambda: h.wordnet_hierarchy(None)),
        ],
    ),
    *_cases(
        "wordnet_hierarchy", "version", [("unknown", lambda: h.wordnet_hierarchy(version="9.9"))]
    ),
    *_cases(
        "remove_edges",
        "fraction",
        [
            ("1.0", lambda: h.remove_edges(_tree, 1.0, 0)),
            ("NaN", lambda: h.remove_edges(_tree, NAN, 0)),
        ],
    ),
    *_cases("remove_edges", "h", [("a dict", lambda: h.remove_edges({}, 0.1, 0))]),
    *_cases("permute_hierarchy", "h", [("None", lambda: h.permute_hierarchy(None, 0))]),
    *_cases("permute_hierarchy", "seed", [("a string", lambda: h.permute_hierarchy(_tree, "s"))]),
    *_cases(
        "tree_orbit_sizes",
        "parent_edges",
        [
            ("out of range", lambda: h.tree_orbit_sizes(np.array([[5, 0]]), 3)),
            ("1-D", lambda: h.tree_orbit_sizes(np.array([1, 0]), 3)),
        ],
    ),
    *_cases(
        "tree_orbit_sizes", "num_nodes", [("0", lambda: h.tree_orbit_sizes(np.array([[1, 0]]), 0))]
    ),
    *_cases(
        "hierarchy_orbit_sizes",
        "parent_edges",
        [
            ("out of range", lambda: h.hierarchy_orbit_sizes(np.array([[5, 0]]), 3)),
            ("1-D", lambda: h.hierarchy_orbit_sizes(np.array([1, 0]), 3)),
            ("a cycle", lambda: h.hierarchy_orbit_sizes(np.array([[1, 0], [2, 1], [1, 2]]), 3)),
            ("two roots", lambda: h.hierarchy_orbit_sizes(np.array([[1, 0]]), 3)),
        ],
    ),
    *_cases(
        "hierarchy_orbit_sizes",
        "num_nodes",
        [("0", lambda: h.hierarchy_orbit_sizes(np.array([[1, 0]]), 0))],
    ),
    *_cases(
        "time_align",
        "repeats",
        [("0", lambda: h.time_align(_x, _y, "gromov_wasserstein", repeats=0))],
    ),
    *_cases(
        "time_align",
        "method",
        [("unknown", lambda: h.time_align(_x, _y, "sinkhorn", repeats=1))],
    ),
    *_cases(
        "true_match_from_permutation",
        "perm",
        [
            ("not a permutation", lambda: h.true_match_from_permutation(np.array([0, 0, 1]))),
            ("2-D", lambda: h.true_match_from_permutation(np.eye(3, dtype=int))),
        ],
    ),
    *_cases(
        "precision_at_k",
        "k",
        [
            ("0", lambda: h.precision_at_k(jnp.eye(3), np.arange(3), 0)),
            ("1.0", lambda: h.precision_at_k(jnp.eye(3), np.arange(3), 1.0)),
        ],
    ),
    *_cases(
        "precision_at_k",
        "scores_or_plan",
        [("1-D", lambda: h.precision_at_k(jnp.ones(3), np.arange(3), 1))],
    ),
    *_cases(
        "precision_at_k",
        "true_match",
        [("wrong length", lambda: h.precision_at_k(jnp.eye(3), np.arange(2), 1))],
    ),
    *_cases("match_by_keys", "keys_x", [("None", lambda: h.match_by_keys(None, ["a"]))]),
    *_cases(
        "match_by_lemmas", "lemmas_y", [("a string", lambda: h.match_by_lemmas([("a",)], "abc"))]
    ),
    *_cases(
        "match_by_lemmas",
        "overlap",
        [("'yes'", lambda: h.match_by_lemmas([("a",)], [("a",)], overlap="yes"))],
    ),
    *_cases(
        "align_precision",
        "seed",
        [
            ("-1", lambda: h.align_precision(_PTS, _PTS, np.arange(6), "hyperbolic_ot", -1)),
            ("1.5", lambda: h.align_precision(_PTS, _PTS, np.arange(6), "hyperbolic_ot", 1.5)),
        ],
    ),
    *_cases(
        "align_precision",
        "method",
        [("unknown", lambda: h.align_precision(_PTS, _PTS, np.arange(6), "sinkhorn", 0))],
    ),
    *_cases(
        "align_precision",
        "true_match",
        [
            (
                "wrong length",
                lambda: h.align_precision(
                    _PTS, _PTS, np.arange(4), "gromov_wasserstein", 0, gw_iterations=1
                ),
            )
        ],
    ),
    # ---- deep registration, hyperbolic layers, Riemannian Adam.
    *_cases(
        "align",
        "registration",
        [
            ("unknown", lambda: _align(registration="deep")),
            (
                "mlp for Procrustes",
                lambda: _align(method="euclidean_procrustes", registration="mlp"),
            ),
            (
                "isometry for gw_then_hyperbolic",
                lambda: _align(method="gw_then_hyperbolic", registration="isometry"),
            ),
        ],
    ),
    *_cases(
        "align",
        "hidden",
        [("narrower than d", lambda: _align(registration="mlp", hidden=1))],
    ),
    *_cases("align", "deep_outer", [("0", lambda: _align(registration="mlp", deep_outer=0))]),
    *_cases(
        "align",
        "deep_learning_rate",
        [("-1", lambda: _align(registration="mlp", deep_learning_rate=-1.0))],
    ),
    *_cases(
        "align",
        "init",
        [
            ("not a result", lambda: _align(registration="mlp", init="gw")),
            ("without mlp", lambda: _align(init=_GW)),
            ("wrong method", lambda: _align(registration="mlp", init=_GW)),
        ],
    ),
    *_cases(
        "compare_methods",
        "columns",
        [("unknown", lambda: h.compare_methods(_x, _y, np.arange(3), 0, columns=("sinkhorn",)))],
    ),
    *_cases(
        "compare_methods",
        "seed",
        [("-1", lambda: h.compare_methods(_x, _y, np.arange(3), -1))],
    ),
    *_cases(
        "mobius_linear",
        "x",
        [
            ("outside", lambda: h.mobius_linear(_out, jnp.eye(2))),
            ("1.0", lambda: h.mobius_linear(1.0, jnp.eye(2))),
        ],
    ),
    *_cases(
        "mobius_linear",
        "kernel",
        [
            ("wrong d", lambda: h.mobius_linear(_x, jnp.eye(3))),
            ("1-D", lambda: h.mobius_linear(_x, jnp.ones(2))),
        ],
    ),
    *_cases(
        "mobius_linear",
        "bias",
        [("wrong k", lambda: h.mobius_linear(_x, jnp.eye(2), jnp.zeros(3)))],
    ),
    *_cases("mobius_linear", "c", [("0", lambda: h.mobius_linear(_x, jnp.eye(2), c=0.0))]),
    *_cases(
        "mobius_pointwise",
        "fn",
        [("not callable", lambda: h.mobius_pointwise("tanh", _x))],
    ),
    *_cases("mobius_pointwise", "x", [("outside", lambda: h.mobius_pointwise(jnp.tanh, _out))]),
    *_cases(
        "MobiusLinear",
        "features",
        [("0", lambda: h.MobiusLinear(0)), ("2.5", lambda: h.MobiusLinear(2.5))],
    ),
    *_cases("MobiusLinear", "c", [("-1", lambda: h.MobiusLinear(2, c=-1.0))]),
    *_cases(
        "HyperbolicMLP",
        "features",
        [
            ("empty", lambda: h.HyperbolicMLP(())),
            ("an int", lambda: h.HyperbolicMLP(4)),
            ("0", lambda: h.HyperbolicMLP((4, 0))),
        ],
    ),
    *_cases(
        "HyperbolicMLP", "activation", [("None", lambda: h.HyperbolicMLP((4,), activation=None))]
    ),
    *_cases(
        "riemannian_adam",
        "learning_rate",
        [("0", lambda: h.riemannian_adam(0.0)), ("NaN", lambda: h.riemannian_adam(NAN))],
    ),
    *_cases("riemannian_adam", "b1", [("1.0", lambda: h.riemannian_adam(0.1, b1=1.0))]),
    *_cases("riemannian_adam", "c", [("0", lambda: h.riemannian_adam(0.1, c=0.0))]),
    *_cases(
        "DeepRegistration",
        "hidden",
        [("0", lambda: h.DeepRegistration(hidden=0))],
    ),
    *_cases(
        "DeepRegistration",
        "learning_rate",
        [("-1", lambda: h.DeepRegistration(learning_rate=-1.0))],
    ),
    *_cases(
        "DeepRegistration", "inner_loss", [("unknown", lambda: h.DeepRegistration(inner_loss="l2"))]
    ),
    *_cases("DeepRegistration", "loss", [("unknown", lambda: h.DeepRegistration(loss="w2"))]),
    *_cases(
        "align",
        "deep_loss",
        [
            (
                "unknown",
                lambda: h.align(_x, _y, key=_key, registration="mlp", hidden=2, deep_loss="w2"),
            )
        ],
    ),
    *_cases(
        "register_from_isometry",
        "x",
        [("outside", lambda: h.register_from_isometry(_REG, _KEYS, _iso, _out, _y))],
    ),
    *_cases(
        "register_from_isometry",
        "reg",
        [("None", lambda: h.register_from_isometry(None, _KEYS, _iso, _x, _y))],
    ),
    *_cases(
        "register_from_isometry",
        "keys",
        [("an int", lambda: h.register_from_isometry(_REG, 0, _iso, _x, _y))],
    ),
    *_cases(
        "register_from_isometry",
        "isometry",
        [("a matrix", lambda: h.register_from_isometry(_REG, _KEYS, jnp.eye(2), _x, _y))],
    ),
    *_cases(
        "register_from_plan",
        "plan",
        [("wrong shape", lambda: h.register_from_plan(_REG, _KEYS, _x, _y, jnp.ones((2, 3))))],
    ),
    *_cases(
        "register_from_plan",
        "y",
        [
            (
                "other d",
                lambda: h.register_from_plan(_REG, _KEYS, _x, jnp.zeros((3, 3)), jnp.ones((3, 3))),
            )
        ],
    ),
    # ---- selection (label-free HOT tuning, issue 19): all raise before any alignment runs.
    *_cases("selection_cost", "mapped_x", [("NaN", lambda: h.selection_cost(_nan_x, _y))]),
    *_cases("selection_cost", "mapped_x", [("other d", lambda: h.selection_cost(_x, _PTS[:, :1]))]),
    *_cases("selection_cost", "epsilon", [("0", lambda: h.selection_cost(_x, _y, epsilon=0.0))]),
    *_cases("align_setting", "x", [("outside", lambda: h.align_setting(_out, _y, _key))]),
    *_cases("align_setting", "key", [("int", lambda: h.align_setting(_x, _y, 0))]),
    *_cases(
        "align_setting",
        "num_restarts",
        [("above max_restarts", lambda: h.align_setting(_x, _y, _key, num_restarts=9))],
    ),
    *_cases(
        "align_setting",
        "registration",
        [("unknown", lambda: h.align_setting(_x, _y, _key, registration="deep"))],
    ),
    *_cases(
        "align_setting", "epsilon", [("< 0", lambda: h.align_setting(_x, _y, _key, epsilon=-1.0))]
    ),
    *_cases("align_setting", "hidden", [("< d", lambda: h.align_setting(_x, _y, _key, hidden=1))]),
    *_cases(
        "hot_selection_job",
        "config",
        [("list", lambda: h.hot_selection_job([], None, validation="v"))],
    ),
    *_cases(
        "hot_selection_job",
        "validation",
        [("int", lambda: h.hot_selection_job({}, None, validation=3))],
    ),
    *bad_calls(
        F + "hot_selection_job",
        "path",
        [("missing file", lambda: h.hot_selection_job({}, None, validation="/nonexistent.npz"))],
        errors=(FileNotFoundError,),
    ),
    *_cases(
        "save_validation_pairs",
        "xs",
        [("lengths differ", lambda: h.save_validation_pairs("/tmp/v.npz", [_x], [], []))],
    ),
    *_cases(
        "save_validation_pairs",
        "true_matches[0]",
        [("wrong shape", lambda: h.save_validation_pairs("/tmp/v.npz", [_x], [_y], [[0, 1]]))],
    ),
    *bad_calls(
        F + "load_validation_pairs",
        "path",
        [("missing", lambda: h.load_validation_pairs("/nonexistent.npz"))],
        errors=(FileNotFoundError,),
    ),
    *_cases(
        "proxy_correlation", "costs", [("lengths differ", lambda: h.proxy_correlation([1, 2], [1]))]
    ),
    *_cases("proxy_correlation", "costs", [("NaN", lambda: h.proxy_correlation([1, NAN], [1, 2]))]),
]

EXEMPT = {
    F + "AlignmentProblem": "a NamedTuple container; its fields are checked where it is solved",
    F + "AlignmentResult": "an output NamedTuple, built by align",
    F + "EuclideanMap": "a NamedTuple container; apply_map checks what it is applied to",
    F + "HierarchyData": "an output NamedTuple, built by the hierarchy loaders",
    F + "PoincareTrainState": "the trainer's state NamedTuple, built by init",
    F + "ReconstructionMetrics": "an output NamedTuple",
    F + "RegistrationState": "the solver's state NamedTuple, built by RegistrationSolver.init",
    F + "RiemannianSGDState": "the optimizer's state NamedTuple, built by init",
    F + "TrainingResult": "an output NamedTuple",
    F + "DeepMap": "a NamedTuple container built by align; apply_map checks what it is applied to",
    F + "RiemannianAdamState": "the optimizer's state NamedTuple, built by init",
    F + "OrbitBounds": "an output NamedTuple, built by hierarchy_orbit_sizes",
    F + "SelectionResult": "an output NamedTuple, built by align_setting",
}

# entropic_gw (jaxml.hyperbolic.gw)
_D3 = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.5], [2.0, 1.5, 0.0]])
_D3_NAN = _D3.copy()
_D3_NAN[0, 1] = NAN


def _gw(**kw):
    args = {"dx": _D3, "dy": _D3, "epsilon": 0.1}
    args.update(kw)
    return h.entropic_gw(args.pop("dx"), args.pop("dy"), args.pop("epsilon"), **args)


CASES += [
    *_cases(
        "entropic_gw",
        "dx",
        [
            ("1-D", lambda: _gw(dx=np.ones(3))),
            ("not square", lambda: _gw(dx=np.ones((3, 2)))),
            ("NaN", lambda: _gw(dx=_D3_NAN)),
        ],
    ),
    *_cases("entropic_gw", "dy", [("a string", lambda: _gw(dy="dy"))]),
    *_cases(
        "entropic_gw",
        "epsilon",
        [("zero", lambda: _gw(epsilon=0.0)), ("NaN", lambda: _gw(epsilon=NAN))],
    ),
    *_cases("entropic_gw", "a", [("wrong length", lambda: _gw(a=np.ones(2) / 2))]),
    *_cases("entropic_gw", "b", [("negative", lambda: _gw(b=-np.ones(3) / 3))]),
    *_cases("entropic_gw", "relative_epsilon", [("a string", lambda: _gw(relative_epsilon="std"))]),
    *_cases("entropic_gw", "max_iterations", [("zero", lambda: _gw(max_iterations=0))]),
    *_cases("entropic_gw", "min_iterations", [("a float", lambda: _gw(min_iterations=1.5))]),
    *_cases("entropic_gw", "threshold", [("zero", lambda: _gw(threshold=0.0))]),
    *_cases(
        "entropic_gw", "sinkhorn_threshold", [("negative", lambda: _gw(sinkhorn_threshold=-1))]
    ),
    *_cases(
        "entropic_gw", "sinkhorn_max_iterations", [("zero", lambda: _gw(sinkhorn_max_iterations=0))]
    ),
    *_cases("entropic_gw", "warm_start", [("a string", lambda: _gw(warm_start="yes"))]),
    *_cases("entropic_gw", "one_pass", [("None", lambda: _gw(one_pass=None))]),
]
EXEMPT[F + "GWOutput"] = "an output NamedTuple, built by entropic_gw"
