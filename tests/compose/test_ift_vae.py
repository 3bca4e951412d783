"""IFT x linear VAE (issue 19, composition 1): the glue, the hypergradient, the figure, the rule."""

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from experiments.compose import ift_vae
from experiments.harness import Summary, make_config, read_json
from experiments.harness.experiment import SMOKE_VERDICT, verdict_label
from jaxml.implicit import hypergradient
from jaxml.vae import (
    linear_vae_elbo,
    linear_vae_from_decoder,
    linear_vae_heldout,
    linear_vae_init,
    linear_vae_sigma2_loss,
    ppca_stationary_point,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _gaussian_data(seed, n, scales):
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(len(scales), len(scales))))[0]
    return rng.normal(size=(n, len(scales))) * np.asarray(scales) @ basis.T + 0.3


# --------------------------------------------------------------------------------------------
# jaxml.vae.hyper against independent computations


_loss = jax.jit(linear_vae_sigma2_loss)
_loss_grads = jax.jit(jax.grad(linear_vae_sigma2_loss, argnums=(0, 1)))


def test_sigma2_loss_is_the_elbo_at_the_hyperparameter(x64):
    x = _gaussian_data(0, 40, [2.0, 1.5, 1.0, 0.5, 0.3])
    p = linear_vae_init(jax.random.key(0), 5, 2, sigma2=3.0)
    h = jnp.log(0.2)
    want = -linear_vae_elbo(p._replace(log_sigma2=h), x)  # eager: the un-jitted path
    np.testing.assert_allclose(linear_vae_sigma2_loss(p, h, x), want, rtol=1e-12)
    np.testing.assert_allclose(_loss(p, h, x), want, rtol=1e-12)
    grads, grad_h = _loss_grads(p, h, x)
    assert float(grads.log_sigma2) == 0.0  # params.log_sigma2 is not read
    fd = (float(_loss(p, h + 1e-6, x)) - float(_loss(p, h - 1e-6, x))) / 2e-6
    np.testing.assert_allclose(grad_h, fd, rtol=1e-7)


def test_heldout_matches_scipy_and_collapse_metric(x64):
    x = _gaussian_data(1, 60, [2.0, 1.0, 0.6, 0.2])
    p = linear_vae_init(jax.random.key(1), 4, 3, sigma2=0.4, scale=0.5)
    p = p._replace(v=p.v.at[2].set(0.0), w=p.w.at[:, 2].set(0.0))  # dim 2 collapsed exactly
    out = linear_vae_heldout(p, x, eps=0.01, delta=0.01)  # eager
    jitted = jax.jit(linear_vae_heldout)(p, x)
    for name in out:
        np.testing.assert_allclose(jitted[name], out[name], rtol=1e-12, err_msg=name)
    w, mu, s2 = np.asarray(p.w), np.asarray(p.mu), 0.4
    want_ll = stats.multivariate_normal(mu, w @ w.T + s2 * np.eye(4)).logpdf(x).mean()
    np.testing.assert_allclose(out["log_likelihood"], want_ll, rtol=1e-10)
    np.testing.assert_allclose(out["sigma2"], s2, rtol=1e-12)
    # the ELBO and the KL in numpy (Lucas et al. eq. for the linear VAE, D diagonal)
    v, d = np.asarray(p.v), np.exp(np.asarray(p.log_d))
    m = (x - mu) @ v.T
    kl = 0.5 * (d + m**2 - 1.0 - np.log(d))
    resid = x - mu - m @ w.T
    recon = -0.5 * (4 * np.log(2 * np.pi * s2) + (np.sum(resid**2, 1) + np.sum(w**2 * d)) / s2)
    np.testing.assert_allclose(out["elbo"], np.mean(recon - kl.sum(1)), rtol=1e-10)
    np.testing.assert_allclose(out["kl_per_dim"], kl.mean(axis=0), rtol=1e-10)
    coll = [(np.sum(kl[:, j] >= 0.01) <= 0.01 * len(x)) for j in range(3)]
    assert coll == [False, False, True]
    np.testing.assert_array_equal(out["collapsed"], coll)
    np.testing.assert_allclose(out["collapsed_fraction"], 1 / 3, rtol=1e-12)


def _optimum(x, k, log_s2):
    """The fixed-sigma^2 global optimum of the training ELBO in closed form (Lucas et al. sec. 4):
    top-k pPCA columns ``U (L - s2)^(1/2)``, the data mean and the optimal encoder."""
    s2 = jnp.exp(log_s2)
    return linear_vae_from_decoder(
        ppca_stationary_point(x, k, list(range(k)), s2), jnp.mean(x, axis=0), s2
    )


@jax.jit
def _ift_and_direct(x_train, x_val, h):
    """(IFT hypergradient, its info, the direct term) of the val loss at the exact optimum."""
    theta = _optimum(x_train, 2, h)
    hg, info = hypergradient(
        linear_vae_sigma2_loss,
        linear_vae_sigma2_loss,
        theta,
        h,
        method="cg",
        num_terms=60,
        train_args=(x_train,),
        val_args=(x_val,),
        return_info=True,
    )
    stationarity = jax.grad(linear_vae_sigma2_loss)(theta, h, x_train)
    worst = jnp.max(jnp.stack([jnp.max(jnp.abs(g)) for g in jax.tree.leaves(stationarity)]))
    return hg, info, jax.grad(linear_vae_sigma2_loss, 1)(theta, h, x_val), worst, theta.w


_val_at_optimum = jax.jit(lambda xt, xv, h: linear_vae_sigma2_loss(_optimum(xt, 2, h), h, xv))


@pytest.mark.parametrize("collapse", [False, True])
def test_ift_hypergradient_equals_finite_differences_of_the_heldout_elbo(x64, collapse):
    """dL_val/dh (IFT at the exact inner optimum) == d/dh L_val(theta*(h), h) by central
    differences of the closed-form optimum; the indirect (response) term matters."""
    x_train = jnp.asarray(_gaussian_data(2, 80, [1.5, 1.0, 0.8, 0.3, 0.1]))
    x_val = jnp.asarray(_gaussian_data(3, 50, [1.2, 1.1, 0.5, 0.4, 0.2]))
    lam = np.linalg.eigvalsh(np.cov(np.asarray(x_train).T, bias=True))[::-1]
    # sigma^2 below both top eigenvalues, or between them (the second column collapses)
    h = jnp.log(np.sqrt(lam[0] * lam[1]) if collapse else 0.5 * lam[2])
    hg, info, direct, worst, w = _ift_and_direct(x_train, x_val, h)
    assert float(worst) < 1e-10  # the closed form is a stationary point of the training loss
    assert bool(jnp.all(w[:, 1] == 0.0)) == collapse
    fd = (
        float(_val_at_optimum(x_train, x_val, h + 1e-5))
        - float(_val_at_optimum(x_train, x_val, h - 1e-5))
    ) / 2e-5
    np.testing.assert_allclose(hg, fd, rtol=1e-6, atol=1e-9)
    assert not bool(info.diverged) and float(info.indirect_norm) > 1e-3 * abs(fd)
    assert abs(float(direct) - fd) > 1e-3 * abs(fd)  # the direct term alone would be wrong


# --------------------------------------------------------------------------------------------
# The figure at tiny scale (smoke: no verdict)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    config = make_config(ift_vae.Config, "tiny")
    workdir = tmp_path_factory.mktemp("ift_vae_tiny")
    return config, ift_vae.run(config, workdir), workdir


def test_tiny_run_writes_metrics_figure_and_summary(tiny_run):
    config, metrics, workdir = tiny_run
    assert (workdir / ift_vae.FIGURE).read_bytes()[:8] == PNG_MAGIC
    on_disk = read_json(workdir / "metrics.json")
    assert on_disk["figures"] == [ift_vae.FIGURE] and on_disk["nonfinite_runs"] == []
    runs = on_disk["runs"]
    n_inits, n_grid = len(config.init_sigma2), len(config.sigma2_grid)
    assert len(runs["hyper"]) == len(runs["learned"]) == n_inits * len(config.seeds)
    assert len(runs["fixed"]) == n_grid * len(config.seeds)
    for r in runs["hyper"] + runs["learned"] + runs["fixed"]:
        assert 0.0 <= r["collapsed_fraction"] <= 1.0 and np.isfinite(r["test_log_likelihood"])
    # Fixed runs keep sigma^2 (float32 log/exp); learned and hypergradient runs move it.
    np.testing.assert_allclose([r["final_sigma2"] for r in runs["fixed"]], config.sigma2_grid, 1e-5)
    for method in ("hyper", "learned"):
        for r in runs[method]:
            assert r["final_sigma2"] != pytest.approx(r["init_sigma2"], rel=1e-4), (method, r)
    hist = on_disk["history"]
    assert [h["step"] for h in hist] == list(range(0, config.hypersteps + 1, config.eval_every))
    assert len(hist[0]["hyper_sigma2"]) == n_inits * len(config.seeds)
    np.testing.assert_allclose(hist[0]["hyper_sigma2"], config.init_sigma2, rtol=1e-5)
    summary = ift_vae.summarize(on_disk)
    assert isinstance(summary, Summary) and summary.thresholds == ift_vae.THRESHOLDS
    assert verdict_label(summary, on_disk) == SMOKE_VERDICT


def test_config_validation():
    with pytest.raises(ValueError, match="sigma2_grid"):
        make_config(ift_vae.Config, "tiny", sigma2_grid=(0.3, 0.01))
    with pytest.raises(ValueError, match="warmup_hypersteps"):
        make_config(ift_vae.Config, "tiny", warmup_hypersteps=4)
    with pytest.raises(ValueError, match="init_sigma2"):
        make_config(ift_vae.Config, "tiny", init_sigma2=(0.0,))


# --------------------------------------------------------------------------------------------
# The verdict rule on crafted metrics


def _row(seed, s2, collapsed, ll, **extra):
    return {
        "seed": seed,
        "init_sigma2": s2,
        "final_sigma2": 0.02,
        "collapsed_fraction": collapsed,
        "test_log_likelihood": ll,
        "mean_collapsed_during_training": collapsed,
    } | extra


def _crafted():
    seeds, inits, grid = [0, 1, 2], [0.001, 1.0], [0.01, 0.1, 1.0]
    runs = {
        "hyper": [_row(s, i, 0.0, 20.0, skipped_hypersteps=0) for s in seeds for i in inits],
        "learned": [_row(s, i, 0.0, 20.05) for s in seeds for i in inits],
        "fixed": [
            _row(s, g, c, 10.0) for s in seeds for g, c in zip(grid, (0, 0.5, 1.0), strict=True)
        ],
    }
    return {
        "seeds": seeds,
        "init_sigma2": inits,
        "sigma2_grid": grid,
        "bilevel_hypersteps": 20,
        "runs": runs,
        "nonfinite_runs": [],
    }


def _breaks(metrics, what):
    m = copy.deepcopy(metrics)
    if what == "seeds":
        m["seeds"] = [0, 1]
    elif what == "collapse":  # one seed's hyper run collapses one dim more than learned
        m["runs"]["hyper"][3]["collapsed_fraction"] = 0.0625
    elif what == "loglik":  # init 1.0 hyper runs 0.2 nats worse than learned (20.05)
        for r in m["runs"]["hyper"]:
            if r["init_sigma2"] == 1.0:
                r["test_log_likelihood"] = 19.85
    elif what == "growth":
        for r in m["runs"]["fixed"]:
            r["collapsed_fraction"] = min(r["collapsed_fraction"], 0.4)
    elif what == "skipped":
        m["runs"]["hyper"][0]["skipped_hypersteps"] = 3
    elif what == "nonfinite":
        m["nonfinite_runs"] = ["hyper/0/1"]
    return m


def test_rule_passes_on_crafted_metrics():
    s = ift_vae.summarize(_crafted())
    assert s.matches, s.verdict
    assert s.verdict.startswith("holds")


@pytest.mark.parametrize("what", ["seeds", "collapse", "loglik", "growth", "skipped", "nonfinite"])
def test_rule_fails_each_condition(what):
    s = ift_vae.summarize(_breaks(_crafted(), what))
    assert not s.matches and "fails 1 condition" in s.verdict, (what, s.verdict)
