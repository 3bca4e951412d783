"""IFT hypergradients against closed forms, finite differences and unrolled differentiation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.implicit import (
    MAX_EXACT_PARAMS,
    cg_inverse_hvp,
    hvp_fn,
    hypergradient,
    neumann_inverse_hvp,
    unrolled_hypergradient,
)


def _ridge(seed=0, n=80, d=6, nv=40):
    rng = np.random.default_rng(seed)
    x, xv = rng.normal(size=(n, d)), rng.normal(size=(nv, d))
    w_true = rng.normal(size=d)
    y = x @ w_true + 0.5 * rng.normal(size=n)
    yv = xv @ w_true + 0.5 * rng.normal(size=nv)
    lam = np.log(rng.uniform(0.05, 0.5, size=d))  # one log-decay per weight
    return x, y, xv, yv, lam


def _train_loss(w, lam, x, y):
    return 0.5 * jnp.mean((x @ w - y) ** 2) + 0.5 * jnp.sum(jnp.exp(lam) * w**2)


def _val_loss(w, lam, xv, yv):
    return 0.5 * jnp.mean((xv @ w - yv) ** 2)


def _ridge_closed_form(x, y, xv, yv, lam):
    """Independent NumPy: w*(lam) = A^-1 b, dL_V/dlam_j = -(A^-1 g_v)_j e^lam_j w*_j."""
    n = len(y)
    a = x.T @ x / n + np.diag(np.exp(lam))
    w = np.linalg.solve(a, x.T @ y / n)
    g_v = xv.T @ (xv @ w - yv) / len(yv)
    return w, -np.linalg.solve(a, g_v) * np.exp(lam) * w


def test_exact_method_equals_ridge_closed_form(x64):
    x, y, xv, yv, lam = _ridge()
    w, expected = _ridge_closed_form(x, y, xv, yv, lam)
    got = hypergradient(
        _train_loss,
        _val_loss,
        jnp.asarray(w),
        jnp.asarray(lam),
        method="exact",
        train_args=(x, y),
        val_args=(xv, yv),
    )
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-10, atol=1e-14)

    # ...and the closed form against central finite differences of L_V(w*(lam)).
    def outer(lmb):
        wl, _ = _ridge_closed_form(x, y, xv, yv, lmb)
        return 0.5 * np.mean((xv @ wl - yv) ** 2)

    u = np.random.default_rng(5).normal(size=lam.shape)
    fd = (outer(lam + 1e-6 * u) - outer(lam - 1e-6 * u)) / 2e-6
    np.testing.assert_allclose(expected @ u, fd, rtol=1e-7)


def test_cg_and_neumann_converge_to_exact(x64):
    x, y, xv, yv, lam = _ridge()
    w, expected = _ridge_closed_form(x, y, xv, yv, lam)
    h = x.T @ x / len(y) + np.diag(np.exp(lam))
    alpha = 1.0 / np.linalg.eigvalsh(h).max()
    kw = dict(train_args=(x, y), val_args=(xv, yv))
    errors = {}
    for method in ("neumann", "cg"):
        errs = []
        for terms in (0, 2, 5, 20, 200):
            g = hypergradient(
                _train_loss,
                _val_loss,
                jnp.asarray(w),
                jnp.asarray(lam),
                method=method,
                num_terms=terms,
                alpha=alpha,
                **kw,
            )
            errs.append(np.linalg.norm(np.asarray(g) - expected) / np.linalg.norm(expected))
        errors[method] = errs
    assert errors["cg"][-1] < 1e-8  # CG is exact after d = 6 iterations
    assert errors["cg"][3] < 1e-8
    assert errors["neumann"][-1] < 1e-4
    neu = errors["neumann"]
    assert all(b <= a + 1e-12 for a, b in zip(neu[:-1], neu[1:], strict=True))
    # The identity approximation is the 0-term Neumann series.
    ident = hypergradient(
        _train_loss,
        _val_loss,
        jnp.asarray(w),
        jnp.asarray(lam),
        method="identity",
        alpha=alpha,
        **kw,
    )
    n0 = hypergradient(
        _train_loss,
        _val_loss,
        jnp.asarray(w),
        jnp.asarray(lam),
        method="neumann",
        num_terms=0,
        alpha=alpha,
        **kw,
    )
    np.testing.assert_allclose(np.asarray(ident), np.asarray(n0), rtol=1e-14)


def test_a_traced_term_count_compiles_once_and_matches_the_static_counts(x64):
    x, y, xv, yv, lam = _ridge()
    w, _ = _ridge_closed_form(x, y, xv, yv, lam)
    h = x.T @ x / len(y) + np.diag(np.exp(lam))
    alpha = 1.0 / np.linalg.eigvalsh(h).max()
    kw = dict(train_args=(x, y), val_args=(xv, yv), alpha=alpha)
    for method in ("neumann", "cg"):

        def hg(n, method=method):
            return hypergradient(
                _train_loss, _val_loss, jnp.asarray(w), jnp.asarray(lam), method=method,
                num_terms=n, **kw,
            )  # fmt: skip

        traced = jax.jit(hg)
        for n in (0, 1, 4):
            np.testing.assert_allclose(traced(n), hg(n), rtol=1e-12, atol=1e-15)
        assert traced._cache_size() == 1
    with pytest.raises(TypeError, match="num_terms must be an integer scalar"):
        jax.jit(lambda n: neumann_inverse_hvp(lambda v: v, jnp.ones(2), n, 0.5))(1.0)


def test_k_unrolled_sgd_steps_from_the_optimum_equal_k_minus_1_neumann_terms(x64):
    """Lorraine et al., Theorem 2 (exact for a quadratic inner loss)."""
    x, y, xv, yv, lam = _ridge(seed=1)
    w, _ = _ridge_closed_form(x, y, xv, yv, lam)
    lr = 0.05
    for k in (1, 3, 10):
        unrolled = unrolled_hypergradient(
            _train_loss,
            _val_loss,
            jnp.asarray(w),
            jnp.asarray(lam),
            optax.sgd(lr),
            k,
            train_args=(x, y),
            val_args=(xv, yv),
        )
        neumann = hypergradient(
            _train_loss,
            _val_loss,
            jnp.asarray(w),
            jnp.asarray(lam),
            num_terms=k - 1,
            alpha=lr,
            train_args=(x, y),
            val_args=(xv, yv),
        )
        np.testing.assert_allclose(np.asarray(unrolled), np.asarray(neumann), rtol=1e-9, atol=1e-14)


def _logistic_problem():
    rng = np.random.default_rng(2)
    x, xv = rng.normal(size=(60, 4)), rng.normal(size=(30, 4))
    w_true = np.array([1.5, -2.0, 0.5, 0.0])
    y = (x @ w_true + 0.3 * rng.normal(size=60) > 0).astype(np.float64)
    yv = (xv @ w_true > 0).astype(np.float64)
    return x, y, xv, yv


def _logit_train(w, lam, x, y):
    z = x @ w
    return jnp.mean(jnp.logaddexp(0.0, z) - y * z) + 0.5 * jnp.sum(jnp.exp(lam) * w**2)


def _logit_val(w, lam, xv, yv):
    z = xv @ w
    # Depends on lam directly too, so the direct term is exercised.
    return jnp.mean(jnp.logaddexp(0.0, z) - yv * z) + 0.01 * jnp.sum(lam**2)


@jax.jit
def _newton_step(w, lam, x, y):
    g = jax.grad(_logit_train)(w, lam, x, y)
    h = jax.hessian(_logit_train)(w, lam, x, y)
    return w - jnp.linalg.solve(h, g)


def _newton(lam, x, y, iters=30):
    w = jnp.zeros(x.shape[1])
    for _ in range(iters):
        w = _newton_step(w, lam, x, y)
    return w


def test_nonlinear_hypergradient_matches_finite_differences(x64):
    x, y, xv, yv = _logistic_problem()
    lam = jnp.log(jnp.array([0.1, 0.05, 0.2, 0.3]))
    w = _newton(lam, x, y)
    outer = lambda lmb: float(_logit_val(_newton(lmb, x, y), lmb, xv, yv))
    u = jnp.asarray(np.random.default_rng(3).normal(size=4))
    eps = 1e-5
    fd = (outer(lam + eps * u) - outer(lam - eps * u)) / (2 * eps)
    for method, terms in (("exact", 0), ("cg", 4)):
        g = hypergradient(
            _logit_train,
            _logit_val,
            w,
            lam,
            method=method,
            num_terms=terms,
            train_args=(x, y),
            val_args=(xv, yv),
        )
        np.testing.assert_allclose(float(jnp.vdot(g, u)), fd, rtol=1e-6)


def test_jit_and_eager_agree_on_pytrees():
    x, y, xv, yv = (np.asarray(a, np.float32) for a in _logistic_problem())
    params = {"w": jnp.zeros(4), "b": jnp.zeros(())}
    hparams = {"w": jnp.full(4, -2.0), "b": jnp.asarray(-3.0)}

    def train(p, h, x, y):
        z = x @ p["w"] + p["b"]
        reg = sum(jnp.sum(jnp.exp(h[k]) * p[k] ** 2) for k in p)
        return jnp.mean(jnp.logaddexp(0.0, z) - y * z) + 0.5 * reg

    def val(p, h, x, y):
        z = x @ p["w"] + p["b"]
        return jnp.mean(jnp.logaddexp(0.0, z) - y * z)

    step = jax.jit(
        lambda p: jax.tree.map(lambda a, g: a - 0.5 * g, p, jax.grad(train)(p, hparams, x, y))
    )
    for _ in range(200):  # the inner fit (jitted: only the hypergradient is compared eagerly)
        params = step(params)
    for method in ("neumann", "cg", "identity", "exact"):
        f = lambda p, h, m=method: hypergradient(
            train, val, p, h, method=m, num_terms=5, alpha=0.5, train_args=(x, y), val_args=(xv, yv)
        )
        eager, jitted = f(params, hparams), jax.jit(f)(params, hparams)
        assert jax.tree.structure(eager) == jax.tree.structure(hparams)
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7), eager, jitted
        )


def test_neumann_divergence_is_flagged():
    hvp = lambda v: 3.0 * v  # H = 3I; alpha = 1 gives (I - alpha H) = -2I: terms grow
    v = jnp.ones(3)
    _, info = neumann_inverse_hvp(hvp, v, 5, 1.0, return_info=True)
    assert bool(info.diverged)
    good, info = neumann_inverse_hvp(hvp, v, 60, 0.2, return_info=True)
    assert not bool(info.diverged)
    np.testing.assert_allclose(np.asarray(good), np.full(3, 1 / 3), rtol=1e-5)
    x, y, xv, yv, lam = _ridge()
    w, _ = _ridge_closed_form(x, y, xv, yv, lam)
    _, hinfo = hypergradient(
        _train_loss,
        _val_loss,
        jnp.asarray(w, jnp.float32),
        jnp.asarray(lam, jnp.float32),
        alpha=50.0,
        num_terms=5,
        train_args=(x, y),
        val_args=(xv, yv),
        return_info=True,
    )
    assert bool(hinfo.diverged)


def test_standalone_solvers_on_pytrees(x64):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    h = a @ a.T + 5 * np.eye(5)
    loss = lambda p: (
        0.5 * (jnp.concatenate([p["u"], p["v"]]) @ h @ jnp.concatenate([p["u"], p["v"]]))
    )
    params = {"u": jnp.zeros(2), "v": jnp.zeros(3)}
    b = {"u": jnp.asarray(rng.normal(size=2)), "v": jnp.asarray(rng.normal(size=3))}
    expected = np.linalg.solve(h, np.concatenate([b["u"], b["v"]]))
    hvp = hvp_fn(loss, params)
    cg = cg_inverse_hvp(hvp, b, 5)
    np.testing.assert_allclose(np.concatenate([cg["u"], cg["v"]]), expected, rtol=1e-8)
    neu = neumann_inverse_hvp(hvp, b, 2000, 1.0 / np.linalg.eigvalsh(h).max())
    np.testing.assert_allclose(np.concatenate([neu["u"], neu["v"]]), expected, rtol=1e-5)
    zero = cg_inverse_hvp(hvp, b, 0)
    assert float(jnp.sum(jnp.abs(zero["u"]))) == 0.0


def test_bad_input_names_the_argument():
    x, y, xv, yv, lam = _ridge()
    w = jnp.zeros(6)
    kw = dict(train_args=(x, y), val_args=(xv, yv))
    with pytest.raises(ValueError, match="method must be one of"):
        hypergradient(_train_loss, _val_loss, w, lam, method="bfgs", **kw)
    with pytest.raises(ValueError, match="alpha is required"):
        hypergradient(_train_loss, _val_loss, w, lam, method="neumann", **kw)
    with pytest.raises(ValueError, match="alpha must be > 0; got -0.1"):
        hypergradient(_train_loss, _val_loss, w, lam, alpha=-0.1, **kw)
    with pytest.raises(ValueError, match="num_terms must be an int >= 0; got -1"):
        hypergradient(_train_loss, _val_loss, w, lam, alpha=0.1, num_terms=-1, **kw)
    # the same mistake gets the same exception everywhere: a float count is a TypeError
    with pytest.raises(TypeError, match="num_terms must be an int"):
        hypergradient(_train_loss, _val_loss, w, lam, alpha=0.1, num_terms=2.0, **kw)
    with pytest.raises(TypeError, match="num_steps must be an int"):
        unrolled_hypergradient(_train_loss, _val_loss, w, lam, optax.sgd(0.1), 2.0, **kw)
    with pytest.raises(ValueError, match="train_loss must return a scalar"):
        hypergradient(lambda p, h, a, b: (a @ p - b) ** 2, _val_loss, w, lam, alpha=0.1, **kw)
    with pytest.raises(ValueError, match="train_loss\\(params, hparams, \\*train_args\\) failed"):
        hypergradient(_train_loss, _val_loss, jnp.zeros(5), lam, alpha=0.1, **kw)
    with pytest.raises(ValueError, match="MAX_EXACT_PARAMS"):
        big = jnp.zeros(MAX_EXACT_PARAMS + 1)
        hypergradient(
            lambda p, h: jnp.sum(p**2) * h,
            lambda p, h: jnp.sum(p),
            big,
            jnp.asarray(1.0),
            method="exact",
        )
    with pytest.raises(ValueError, match="num_steps must be an int >= 0"):
        unrolled_hypergradient(_train_loss, _val_loss, w, lam, optax.sgd(0.1), -1, **kw)


def test_hvp_modes_agree_on_a_nonlinear_pytree_problem(x64):
    """linearize / fwd_rev / rev_rev form the same products: equal Neumann hypergradients and
    equal bilevel updates, to float64 rounding; an unknown mode is refused by name."""
    from jaxml.implicit import HVP_MODES, bilevel

    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=30)
    params = {"w": jnp.asarray(rng.normal(size=(4, 3)) * 0.5), "v": jnp.asarray(rng.normal(size=3))}
    hparams = {"w": jnp.full((4, 3), -2.0), "v": jnp.full((3,), -1.0)}

    def train(p, h, x, y):
        pred = jnp.tanh(x @ p["w"]) @ p["v"]
        decay = sum(jnp.sum(jnp.exp(h[k]) * p[k] ** 2) for k in p)
        return 0.5 * jnp.mean((pred - y) ** 2) + 0.5 * decay

    def val(p, h, x, y):
        return 0.5 * jnp.mean((jnp.tanh(x @ p["w"]) @ p["v"] - y) ** 2)

    for method in ("neumann",):
        got = {
            m: hypergradient(
                train,
                val,
                params,
                hparams,
                method=method,
                num_terms=4,
                alpha=0.3,
                train_args=(x, y),
                val_args=(x[:10], y[:10]),
                hvp_mode=m,
            )
            for m in HVP_MODES
        }
        for m in HVP_MODES[1:]:
            for k in params:
                np.testing.assert_allclose(got[m][k], got["linearize"][k], rtol=1e-10, atol=1e-14)
    states = {}
    for m in HVP_MODES:
        opt = bilevel(train, val, optax.sgd(0.1), optax.adam(0.1), alpha=0.1, hvp_mode=m)
        batches = (jnp.asarray(x)[None].repeat(3, 0), jnp.asarray(y)[None].repeat(3, 0))
        states[m] = jax.jit(opt.update)(opt.init(params, hparams), batches, (x, y))[0]
    for m in HVP_MODES[1:]:
        for a, b in zip(
            jax.tree.leaves(states[m]), jax.tree.leaves(states["linearize"]), strict=True
        ):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="hvp_mode"):
        hypergradient(
            train,
            val,
            params,
            hparams,
            alpha=0.1,
            train_args=(x, y),
            val_args=(x, y),
            hvp_mode="hessian",
        )
    with pytest.raises(ValueError, match="hvp_mode"):
        bilevel(train, val, optax.sgd(0.1), optax.adam(0.1), alpha=0.1, hvp_mode="fwd")
