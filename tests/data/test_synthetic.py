"""Tests for jaxml.data.synthetic."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.data.synthetic import LinearGaussianSample, Tree, linear_gaussian, random_tree

# ---------------------------------------------------------------------------------------------
# linear_gaussian


# Most tests share one size, N x D with K latents, so that eager JAX compiles its ops only once.
N, D, K = 20, 4, 2


def test_linear_gaussian_shapes_and_default_dtype():
    s = linear_gaussian(jax.random.key(0), N, D, K)
    assert isinstance(s, LinearGaussianSample)
    dtype = jnp.result_type(float)  # float32, or float64 if x64 is on globally.
    for a, shape in [(s.x, (N, D)), (s.z, (N, K)), (s.w, (D, K)), (s.mu, (D,))]:
        assert a.shape == shape and a.dtype == dtype
    assert s.sigma2 == 0.1 and s.covariance().shape == (D, D)


def test_linear_gaussian_float64_under_x64():
    with jax.enable_x64(True):
        s = linear_gaussian(jax.random.key(0), N, D, K)
        assert s.x.dtype == jnp.float64 and s.w.dtype == jnp.float64 and s.z.dtype == jnp.float64
    with jax.enable_x64(False):
        with pytest.raises(ValueError, match="dtype=float64 needs jax_enable_x64"):
            linear_gaussian(jax.random.key(0), N, D, K, dtype=np.float64)


def test_linear_gaussian_covariance_matches_model():
    n, d, k, sigma2 = 200_000, D, K, 0.3
    s = linear_gaussian(jax.random.key(1), n, d, k, sigma2=sigma2)
    x = np.asarray(s.x, dtype=np.float64)
    cov = np.asarray(s.covariance(), dtype=np.float64)
    np.testing.assert_allclose(cov, np.asarray(s.w @ s.w.T) + sigma2 * np.eye(d), rtol=1e-6)
    # Standard error of the sample covariance entries of a Gaussian: sqrt((S_ii S_jj + S_ij^2) / n).
    se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    sample_cov = np.cov(x, rowvar=False)
    np.testing.assert_array_less(np.abs(sample_cov - cov), 5 * se_cov)
    se_mean = np.sqrt(np.diag(cov) / n)
    np.testing.assert_array_less(np.abs(x.mean(0) - np.asarray(s.mu)), 5 * se_mean)
    # The generative equation holds exactly: the residual is the isotropic noise.
    resid = x - np.asarray(s.z @ s.w.T + s.mu, dtype=np.float64)
    np.testing.assert_allclose(resid.var(0), sigma2, rtol=0.02)
    np.testing.assert_allclose(np.cov(resid, rowvar=False), sigma2 * np.eye(d), atol=0.01)


def test_linear_gaussian_fixed_parameters():
    w = np.arange(D * K, dtype=np.float32).reshape(D, K)
    mu = np.array([1.0, -1.0, 0.5, 2.0], np.float32)
    s = linear_gaussian(0, N, D, K, w=w, mu=mu, sigma2=0.5)
    np.testing.assert_array_equal(s.w, w)
    np.testing.assert_array_equal(s.mu, mu)


def test_linear_gaussian_determinism_keys_and_jit():
    a = linear_gaussian(jax.random.key(3), N, D, K)
    b = linear_gaussian(jax.random.key(3), N, D, K)
    c = linear_gaussian(jax.random.key(4), N, D, K)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.allclose(a.x, c.x)
    np.testing.assert_array_equal(linear_gaussian(3, N, D, K).x, a.x)  # int seed = key(seed)
    raw = linear_gaussian(jax.random.PRNGKey(3), N, D, K)
    np.testing.assert_array_equal(raw.x, a.x)
    jitted = jax.jit(lambda key: linear_gaussian(key, N, D, K).x)(jax.random.key(3))
    np.testing.assert_allclose(jitted, a.x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"latent_dim": 5}, ValueError, "latent_dim must be <= data_dim = 4"),
        ({"num_samples": 0}, ValueError, "num_samples must be >= 1"),
        ({"data_dim": 2.0}, TypeError, "data_dim must be an int"),
        ({"sigma2": 0.0}, ValueError, "sigma2 must be finite and > 0"),
        ({"sigma2": float("nan")}, ValueError, "sigma2 must be finite"),
        ({"w_scale": -1.0}, ValueError, "w_scale must be finite and > 0"),
        ({"w": np.zeros((2, 4))}, ValueError, "w must have shape \\[data_dim, latent_dim\\]"),
        ({"mu": np.zeros(3)}, ValueError, "mu must have shape \\[data_dim\\] = \\[4\\]"),
        ({"dtype": jnp.int32}, TypeError, "dtype must be a floating dtype"),
        ({"key": "seed"}, TypeError, "key must be a JAX PRNG key"),
        ({"key": -1}, ValueError, "key as an int seed must be non-negative"),
    ],
)
def test_linear_gaussian_errors(kwargs, error, match):
    args = {"key": 0, "num_samples": N, "data_dim": D, "latent_dim": K}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        linear_gaussian(
            args.pop("key"),
            args.pop("num_samples"),
            args.pop("data_dim"),
            args.pop("latent_dim"),
            **args,
        )


# ---------------------------------------------------------------------------------------------
# random_tree


def _check_tree(tree: Tree):
    n = tree.num_nodes
    assert tree.parent.dtype == np.int32 and tree.edges.dtype == np.int32
    assert tree.parent.shape == (n,) and tree.edges.ndim == 2 and tree.edges.shape[1] == 2
    assert len(tree.names) == n and len(set(tree.names)) == n
    assert np.sum(tree.parent == -1) == 1
    # Acyclic: every node reaches the root in fewer than n steps. Collect the closure by walking.
    expected = []
    for v in range(n):
        u, steps = v, 0
        while tree.parent[u] >= 0:
            u = int(tree.parent[u])
            expected.append((v, u))
            steps += 1
            assert steps < n, "cycle"
        assert u == tree.root
    got = [tuple(e) for e in tree.edges.tolist()]
    assert got == expected  # By child, nearest ancestor first.
    assert len(set(got)) == len(got) and all(c != a for c, a in got)
    assert tree.edges.shape[0] == tree.depths().sum()
    # Names are paths: a node's name extends its parent's.
    for v in range(n):
        p = tree.parent[v]
        if p >= 0:
            assert tree.names[v].rsplit(".", 1)[0] == tree.names[p]
        else:
            assert tree.names[v] == "r"


@pytest.mark.parametrize(("b", "h"), [(2, 3), (3, 3), (1, 4), (4, 0), (5, 2)])
def test_balanced_tree(b, h):
    tree = random_tree(0, branching=b, depth=h)
    _check_tree(tree)
    assert tree.num_nodes == sum(b**level for level in range(h + 1))
    # Closure edges = sum over nodes of depth = sum_l l * b**l.
    assert tree.edges.shape[0] == sum(level * b**level for level in range(h + 1))
    np.testing.assert_array_equal(np.bincount(tree.depths()), [b**level for level in range(h + 1)])
    assert tree.root == 0 and np.all(tree.parent[1:] < np.arange(1, tree.num_nodes))


def test_balanced_tree_known_edges():
    tree = random_tree(0, branching=2, depth=2)
    assert tree.names == ["r", "r.0", "r.1", "r.0.0", "r.0.1", "r.1.0", "r.1.1"]
    np.testing.assert_array_equal(tree.parent, [-1, 0, 0, 1, 1, 2, 2])
    assert tree.edges.tolist() == [
        [1, 0],
        [2, 0],
        [3, 1],
        [3, 0],
        [4, 1],
        [4, 0],
        [5, 2],
        [5, 0],
        [6, 2],
        [6, 0],
    ]
    assert random_tree(0).num_nodes == 15  # Defaults: branching 2, depth 3.


def test_random_recursive_tree():
    tree = random_tree(0, num_nodes=60)
    _check_tree(tree)
    assert tree.num_nodes == 60
    assert np.all(tree.parent[1:] < np.arange(1, 60))
    again = random_tree(0, num_nodes=60)
    other = random_tree(jax.random.key(1), num_nodes=60)
    np.testing.assert_array_equal(tree.parent, again.parent)
    np.testing.assert_array_equal(tree.edges, again.edges)
    assert not np.array_equal(tree.parent, other.parent)
    single = random_tree(0, num_nodes=1)
    assert single.edges.shape == (0, 2) and single.names == ["r"]


def test_shuffled_trees():
    plain = random_tree(0, branching=3, depth=2)
    shuffled = random_tree(5, branching=3, depth=2, shuffle=True)
    _check_tree(shuffled)
    assert sorted(shuffled.names) == sorted(plain.names)
    assert shuffled.names != plain.names
    # Same tree up to relabelling: names identify nodes.
    pos = {name: i for i, name in enumerate(shuffled.names)}
    for v, p in enumerate(plain.parent):
        if p >= 0:
            assert shuffled.parent[pos[plain.names[v]]] == pos[plain.names[p]]
    _check_tree(random_tree(2, num_nodes=30, shuffle=True))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_nodes": 5, "depth": 2}, ValueError, "cannot be combined with branching/depth"),
        ({"num_nodes": 0}, ValueError, "num_nodes must be >= 1"),
        ({"depth": -1}, ValueError, "depth must be >= 0"),
        ({"branching": 0}, ValueError, "branching must be >= 1"),
        ({"branching": 10, "depth": 8}, ValueError, "more than 10000000"),
        ({"branching": 2.5}, TypeError, "branching must be an int"),
    ],
)
def test_random_tree_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        random_tree(0, **kwargs)
