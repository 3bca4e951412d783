"""L-C on a quadratic, direct fine-tuning with held masks, and the GP density search."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.compress import (
    Compose,
    Prune,
    Quantize,
    direct,
    hold_masks,
    lc,
    lc_theta,
    search_density,
)
from jaxml.compress.classify import (
    fit,
    fit_steps,
    recover,
    recover_init,
    recover_result,
    recover_steps,
)
from jaxml.train import optax_scan


def test_lc_converges_to_the_projected_optimum_on_a_quadratic(x64):
    # loss = 1/2 |w - a|^2 with C = {20 % density}: the constrained optimum is the projection of
    # a (keep its largest entries), which L-C must reach from w = 0.
    a = {"w": jnp.asarray(np.random.default_rng(0).normal(size=(10, 5)))}
    scheme = Prune(0.2)
    opt = lc(scheme, optax.sgd(0.25), l_steps=40, mu_init=0.5, mu_growth=1.08)
    z = {"w": jnp.zeros((10, 5))}
    loss = lambda p: 0.5 * jnp.sum((p["w"] - a["w"]) ** 2)  # noqa: E731
    out = jax.jit(lambda p, s: optax_scan(loss, opt, p, s, batch_fn=lambda t: (), num_steps=1200))(
        z, opt.init(z)
    )
    theta = lc_theta(out.opt_state)
    want = np.where(np.abs(a["w"]) >= np.sort(np.abs(a["w"]).ravel())[-10], a["w"], 0.0)
    # measured error 6.8e-6 after 30 C-steps (mu 0.5 -> 5.0)
    np.testing.assert_allclose(theta["w"], want, atol=5e-5)
    np.testing.assert_allclose(out.params["w"], want, atol=5e-5)  # w -> theta
    assert int(out.opt_state.c_steps) == 30


def test_lc_with_quantization_lands_on_the_int8_grid(x64):
    a = {"w": jnp.asarray(np.random.default_rng(1).normal(size=(6, 4)))}
    scheme = Compose([Quantize("int8")])
    opt = lc(scheme, optax.sgd(0.1), l_steps=10, mu_init=0.5)
    out = optax_scan(
        lambda p: 0.5 * jnp.sum((p["w"] - a["w"]) ** 2),
        opt,
        a,
        opt.init(a),
        batch_fn=lambda t: (),
        num_steps=30,
    )
    theta = np.asarray(lc_theta(out.opt_state)["w"])
    # theta is the C-step's int8 grid point: theta / scale are integers in [-128, 127]
    for c in range(4):
        col = theta[:, c]
        top = np.abs(col).max()
        ok = [np.abs(col / (top / q) - np.round(col / (top / q))).max() < 1e-6 for q in (127, 128)]
        assert any(ok)
    # next to the optimum a: within one int8 step of it
    s = np.abs(np.asarray(a["w"])).max(0) / 127.5
    assert np.all(np.abs(theta - np.asarray(a["w"])) <= s)


def test_direct_holds_the_masks_while_fine_tuning():
    rng = np.random.default_rng(2)
    x, y = (
        jnp.asarray(rng.normal(size=(32, 8)), jnp.float32),
        jnp.asarray(rng.normal(size=(32,)), jnp.float32),
    )
    p = {"w": jnp.asarray(rng.normal(size=(8, 3)), jnp.float32)}
    loss = lambda p, xb, yb: jnp.mean((xb @ p["w"]).sum(-1) - yb) ** 2  # noqa: E731
    stored, aux = direct(
        Prune(0.25), loss, optax.adam(0.1), p, batch_fn=lambda t: (x, y), num_steps=20
    )
    m = np.asarray(aux.masks["w"])
    assert m.sum() == 6 and np.all(np.asarray(stored["w"])[~m] == 0)
    assert not np.allclose(np.asarray(stored["w"])[m], np.asarray(p["w"])[m])  # it trained
    with pytest.raises(TypeError, match="masks"):
        hold_masks({"w": jnp.ones(3)})


@pytest.mark.parametrize("x0", [0.03, 0.1, 0.3])
def test_gp_search_finds_a_known_threshold_within_ten_evaluations(x0):
    # accuracy(d) = 0.97 - 0.6 * sigmoid(-(log10 d - log10 x0) / 0.08): crosses 0.95 at d_star
    w, target = 0.08, 0.95
    f = lambda d: 0.97 - 0.6 / (1 + np.exp((np.log10(d) - np.log10(x0)) / w))  # noqa: E731
    d_star = 10 ** (np.log10(x0) + w * np.log(0.6 / (0.97 - target) - 1))
    calls = []
    res = search_density(lambda d: calls.append(d) or f(d), target=target, progress=False)
    assert len(calls) <= 10 and len(res.densities) == len(calls)
    assert f(res.density) >= target  # feasible
    assert res.density >= d_star and np.log10(res.density / d_star) <= 0.03  # within 7 %


@pytest.mark.parametrize("method", ["direct", "lc"])
def test_recover_in_unrolled_chunks_equals_one_recover(x64, method):
    # recover_init -> recover_steps over chunks (4 + 3 steps, the second across a C-step,
    # unrolled) -> recover_result is the same run as one recover (same batches, same updates);
    # fit_steps likewise for fit. Each side is one jitted program (eager ops compile one by one).
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.normal(size=(40, 6)))
    y = jnp.asarray(rng.integers(0, 3, size=40), jnp.int32)
    apply = lambda p, xb: xb @ p["w"] + p["b"]  # noqa: E731
    p0 = {"w": jnp.asarray(rng.normal(size=(6, 3))), "b": jnp.zeros(3)}
    scheme, opt = Prune(0.4), optax.adam(0.05)
    kw = {"method": method, "optimizer": opt, "l_steps": 3, "mu_init": 0.1}
    train = {"batch_size": 16, "key": jax.random.key(5)}

    def one(p):
        return recover(scheme, apply, p, x, y, num_steps=7, **kw, **train)

    def chunked(p):
        state = recover_init(scheme, p, **kw)
        for n in (4, 3):
            state = recover_steps(scheme, apply, state, x, y, num_steps=n, unroll=n, **kw, **train)
        return recover_result(scheme, state, method=method), state.step

    want, (got, steps) = jax.jit(one)(p0), jax.jit(chunked)(p0)
    assert int(steps) == 7
    for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got), strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match="RecoverState"):
        recover_result(scheme, (p0, None), method=method)
    if method == "lc":
        return

    def fit_chunked(p):
        s = opt.init(p)
        for t0, n in ((0, 4), (4, 3)):
            p, s = fit_steps(apply, p, s, x, y, optimizer=opt, num_steps=n, start_step=t0, **train)
        return p

    full = jax.jit(lambda p: fit(apply, p, x, y, optimizer=opt, num_steps=7, **train))(p0)
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(jax.jit(fit_chunked)(p0)), strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-12, atol=1e-12)
