"""jaxml.compress schemes: exact densities, round trips, int8 error bound, shrink_mlp, storage."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.compress import (
    BlockPrune,
    Compose,
    FilterPrune,
    Layers,
    NeuronPrune,
    Prune,
    Quantize,
    density,
    load_compressed,
    save_compressed,
    shrink_mlp,
)
from jaxml.models import MLP


def _random_params(shapes, seed):
    """Flax-layout params from NumPy (no per-op JAX compiles in the fixtures)."""
    rng = np.random.default_rng(seed)
    return {
        "params": {
            name: {
                k: jnp.asarray(rng.normal(size=shp) * 0.3, jnp.float32) for k, shp in leaf.items()
            }
            for name, leaf in shapes.items()
        }
    }


@pytest.fixture(scope="module")
def mlp():
    model = MLP(hidden=(40, 20), num_outputs=10)
    shapes = {
        "dense_0": {"kernel": (16, 40), "bias": (40,)},
        "dense_1": {"kernel": (40, 20), "bias": (20,)},
        "head": {"kernel": (20, 10), "bias": (10,)},
    }
    return model, _random_params(shapes, 0)


@pytest.fixture(scope="module")
def cnn():
    shapes = {
        "conv_0": {"kernel": (3, 3, 1, 4), "bias": (4,)},
        "conv_1": {"kernel": (3, 3, 4, 8), "bias": (8,)},
        "dense": {"kernel": (32, 16), "bias": (16,)},
        "head": {"kernel": (16, 10), "bias": (10,)},
    }
    return None, _random_params(shapes, 1)


def _leaves(tree, path):
    return {
        jax.tree_util.keystr(p): x
        for p, x in jax.tree_util.tree_leaves_with_path(tree)
        if path in jax.tree_util.keystr(p)
    }


def test_prune_keeps_the_global_top_k_by_magnitude_exactly(mlp):
    _, params = mlp
    kernels = [np.asarray(k) for k in _leaves(params, "kernel").values()]
    flat = np.concatenate([np.abs(k).ravel() for k in kernels])
    compress = jax.jit(lambda p, d: Prune(d).compress(p))
    for d in (0.1, 0.25, 0.6):
        pruned, aux = compress(params, d)
        k = int(np.floor(d * flat.size + 0.5))
        got = np.concatenate([np.asarray(m).ravel() for m in _leaves(aux.masks, "kernel").values()])
        assert got.sum() == k  # the count of survivors is exact
        thresh = np.sort(flat)[-k]
        np.testing.assert_array_equal(got, flat >= thresh)  # no ties in random weights
        zeros = sum(int((np.asarray(x) == 0).sum()) for x in _leaves(pruned, "kernel").values())
        assert zeros == flat.size - k
        # biases untouched (default filter: rank >= 2)
        for key, b in _leaves(pruned, "bias").items():
            np.testing.assert_array_equal(b, _leaves(params, "bias")[key])


def test_traced_density_matches_concrete(mlp):
    _, params = mlp
    f = jax.jit(lambda p, d: Prune(d).compress(p)[1].masks)
    for d in (0.05, 0.33):
        eager = Prune(d).compress(params)[1].masks
        for a, b in zip(jax.tree.leaves(f(params, d)), jax.tree.leaves(eager), strict=True):
            np.testing.assert_array_equal(a, b)


def test_neuron_and_filter_prune_hit_density_per_layer(mlp, cnn):
    _, params = mlp
    pruned, aux = jax.jit(NeuronPrune(0.25, Layers(exclude=("head",))).compress)(params)
    for name, width in (("dense_0", 40), ("dense_1", 20)):
        k = np.asarray(pruned["params"][name]["kernel"])
        alive = np.any(k != 0, axis=0)
        assert alive.sum() == width // 4
        norms = np.linalg.norm(np.asarray(params["params"][name]["kernel"]), axis=0)
        np.testing.assert_array_equal(
            np.flatnonzero(alive), np.sort(np.argsort(norms)[-width // 4 :])
        )
        assert np.all(np.asarray(pruned["params"][name]["bias"])[~alive] == 0)
    np.testing.assert_array_equal(
        pruned["params"]["head"]["kernel"], params["params"]["head"]["kernel"]
    )
    _, cparams = cnn
    cp, _ = jax.jit(FilterPrune(0.5).compress)(cparams)
    for name, c in (("conv_0", 4), ("conv_1", 8)):
        k = np.asarray(cp["params"][name]["kernel"])
        assert np.any(k != 0, axis=(0, 1, 2)).sum() == c // 2
        assert (k == 0).sum() == k.size // 2


def test_block_prune_exact_and_blockwise(mlp):
    _, params = mlp
    layers = Layers(include=("dense_0",))
    pruned, aux = jax.jit(BlockPrune(0.25, (8, 4), layers).compress)(params)
    m = np.asarray(aux.masks["params"]["dense_0"]["kernel"])  # [16, 40] -> 2 x 10 blocks
    assert m.sum() == 0.25 * m.size
    blocks = m.reshape(2, 8, 10, 4)
    assert np.all(blocks.all(axis=(1, 3)) | ~blocks.any(axis=(1, 3)))
    with pytest.raises(ValueError, match="block"):
        BlockPrune(0.5, (3, 4), layers).compress(params)


def test_int8_error_at_most_half_a_step_per_channel(cnn):
    _, params = cnn
    q = Quantize("int8")
    stored, aux = jax.jit(q.compress)(params)
    back = q.decompress(stored, aux)
    for key, w in _leaves(params, "kernel").items():
        s = np.asarray(_leaves(aux.scales, "kernel")[key])
        assert s.shape == (1,) * (w.ndim - 1) + (w.shape[-1],)
        assert _leaves(stored, "kernel")[key].dtype == jnp.int8
        err = np.abs(np.asarray(_leaves(back, "kernel")[key]) - np.asarray(w))
        # half a step, up to float32 rounding of w - q * s with |w / s| <= 127.5 (~1e-5 steps)
        assert np.all(err <= s * (0.5 + 1e-4))
        # the step is set by the channel's absmax (qwix: absmax / 127.5)
        np.testing.assert_allclose(
            s.ravel(), np.abs(np.asarray(w)).reshape(-1, w.shape[-1]).max(0) / 127.5, rtol=1e-6
        )


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_float_quantization_is_a_cast(mlp, dtype):
    _, params = mlp
    stored, aux = Quantize(dtype).compress(params)
    back = Quantize(dtype).decompress(stored, aux)
    k = params["params"]["dense_0"]["kernel"]
    np.testing.assert_array_equal(
        back["params"]["dense_0"]["kernel"], k.astype(dtype).astype(jnp.float32)
    )
    assert stored["params"]["dense_0"]["bias"].dtype == jnp.float32


def test_compose_applies_in_order_and_undoes_in_reverse(mlp):
    _, params = mlp
    scheme = Compose([Prune(0.2), Quantize("int8")])
    stored, aux = jax.jit(scheme.compress)(params)
    pruned, paux = jax.jit(Prune(0.2).compress)(params)
    q_stored, qaux = jax.jit(Quantize("int8").compress)(pruned)
    for a, b in zip(jax.tree.leaves(stored), jax.tree.leaves(q_stored), strict=True):
        np.testing.assert_array_equal(a, b)
    back = scheme.decompress(stored, aux)
    np.testing.assert_array_equal(
        np.asarray(back["params"]["dense_0"]["kernel"]) == 0,
        ~np.asarray(paux.masks["params"]["dense_0"]["kernel"]),
    )  # pruned zeros survive int8
    assert float(density(back, aux)) == pytest.approx(float(density(pruned, paux)))


def test_shrink_mlp_gives_a_smaller_model_with_the_same_outputs(mlp):
    model, params = mlp
    pruned, _ = jax.jit(NeuronPrune(0.25, Layers(exclude=("head",))).compress)(params)
    small = shrink_mlp(pruned)
    assert small.hidden == (10, 5)
    assert small.params["params"]["dense_1"]["kernel"].shape == (10, 5)
    x = jax.random.normal(jax.random.key(3), (7, 16))
    np.testing.assert_allclose(small.apply(small.params, x), model.apply(pruned, x), atol=1e-5)
    # a dead neuron with a live bias is folded into the next layer's bias
    p2 = jax.tree.map(lambda a: a, pruned)
    dead = int(
        np.flatnonzero(~np.any(np.asarray(pruned["params"]["dense_0"]["kernel"]) != 0, 0))[0]
    )
    p2["params"]["dense_0"]["bias"] = pruned["params"]["dense_0"]["bias"].at[dead].set(0.7)
    s2 = shrink_mlp(p2)
    np.testing.assert_allclose(s2.apply(s2.params, x), model.apply(p2, x), atol=1e-5)
    with pytest.raises(ValueError, match="head"):
        shrink_mlp(jax.jit(NeuronPrune(0.5).compress)(params)[0])


@pytest.mark.parametrize("sparse", ["auto", "csr", "bitmask", "dense"])
def test_save_load_bit_exact(tmp_path, mlp, sparse):
    model, params = mlp
    x = jax.random.normal(jax.random.key(4), (5, 16))
    for scheme in (Prune(0.1), Compose([Prune(0.1), Quantize("int8")]), Quantize("bfloat16")):
        stored, aux = jax.jit(scheme.compress)(params)
        stored = jax.tree.map(lambda a: a, stored)
        if isinstance(scheme, Prune):  # a -0.0 must survive the round trip bitwise
            k = stored["params"]["dense_0"]["kernel"]
            stored["params"]["dense_0"]["kernel"] = jnp.where(k == 0, -0.0, k)
        rep = save_compressed(tmp_path / "m.npz", stored, aux, sparse=sparse)
        ref = scheme.decompress(stored, aux)
        got = load_compressed(tmp_path / "m.npz")
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(ref), strict=True):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(
                np.asarray(a).view(np.uint8), np.asarray(b).view(np.uint8)
            )
        np.testing.assert_array_equal(model.apply(got, x), model.apply(ref, x))
        assert rep.file_bytes == (tmp_path / "m.npz").stat().st_size
        n = sum(a.size for a in jax.tree.leaves(params))
        assert rep.dense_float32_bytes == 4 * n
    if sparse != "dense":  # 10 % density on a bigger leaf: the format pays for itself
        big = {"w": jnp.asarray(np.random.default_rng(5).normal(size=(256, 128)), jnp.float32)}
        stored, aux = jax.jit(Prune(0.1).compress)(big)
        rep = save_compressed(tmp_path / "b.npz", stored, aux, sparse=sparse)
        dense = save_compressed(tmp_path / "d.npz", big, None, sparse="dense")
        assert dense.file_bytes == pytest.approx(4 * 256 * 128, abs=1024)
        # bitmask: 1 bit + 10 % x 32 bits = 4.2 bits/weight; CSR: 10 % x (8 + 32) bits = 4
        assert dense.file_bytes > 6.0 * rep.file_bytes
    st, sc = load_compressed(tmp_path / "m.npz", decompress=False)
    assert (
        st["params"]["dense_0"]["kernel"].dtype == jnp.bfloat16
        and sc["params"]["dense_0"]["bias"] is None
    )
