"""IFT x linear VAE: the decoder variance sigma^2 tuned by the hypergradient of the held-out ELBO.

Composes :func:`jaxml.implicit.bilevel` (Lorraine et al. 2020) with the linear VAE of
:mod:`jaxml.vae` (Lucas et al. 2019) on 8x8 digits. Three ways to set sigma^2; per seed, every run
takes the same inner Adam steps on the same mini-batches from the same initial weights:

- hypergradient: ``h = log sigma^2`` is a hyperparameter, the weights minimize the training -ELBO
  at fixed h, h follows the IFT hypergradient of the validation -ELBO (CG inverse HVP), after a
  short inner warm-up at the initial sigma^2 (the IFT needs weights near their optimum);
- learned: sigma^2 is one more weight of the training ELBO (its Adam step is the hyper step spread
  over the T inner steps, same cosine decay, so both can travel as far in log sigma^2);
- fixed: the sigma^2 grid of ``experiments.linear_vae.collapse_vs_sigma`` (1e-3 .. 1).

Measured on the test split: the (eps, delta)-collapsed fraction of the latent dimensions and the
exact pPCA log marginal likelihood of the decoder (:func:`jaxml.vae.linear_vae_heldout`).
Why sigma^2, not per-latent KL weights: at a fixed sigma^2 the held-out ELBO (KL weight 1) is
itself maximized by collapsing every dimension whose eigenvalue is <= sigma^2, so KL weights tuned
on it can only return to 1; sigma^2 decides collapse (sec. 4). Rule: :data:`THRESHOLDS`.

    python -m experiments.compose.ift_vae --scale quick
"""

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.harness import Summary, experiment_main, judge, train_loop, write_outputs
from experiments.harness.config import require_at_least
from experiments.harness.plotting import plt, save_figure
from jaxml.data import load_digits
from jaxml.implicit import bilevel
from jaxml.train import batch_sampler, optax_scan, seed_keys
from jaxml.vae import (
    LinearVAEParams,
    covariance_eigh,
    linear_vae_elbo,
    linear_vae_heldout,
    linear_vae_init,
    linear_vae_sigma2_loss,
)

PAPER = (
    "Lorraine, Vicol & Duvenaud 2020 (AISTATS), implicit-differentiation hypergradients x Lucas "
    "et al. 2019 (NeurIPS), Don't Blame the ELBO!: linear VAE posterior collapse vs sigma^2"
)
CLAIM = (
    "Tuning the linear VAE's decoder variance sigma^2 by the IFT hypergradient of the held-out "
    "ELBO steers away from posterior collapse at least as well as learning sigma^2 by ELBO "
    "maximization: over >= 3 seeds and every initial sigma^2, its test collapsed fraction is <= "
    "the learned-sigma^2 run's on every seed and its mean test log-likelihood is >= the "
    "learned-sigma^2 run's - 0.1 nats/example; the fixed-sigma^2 sweep collapses (growth >= 0.5)."
)
THRESHOLDS = {
    "min seeds": 3,
    "max collapsed fraction, hypergradient - learned (every seed and init)": 0.0,
    "min mean test log-lik, hypergradient - learned (per init, nats/example)": -0.1,
    "min collapse growth, largest vs smallest fixed sigma^2 (mean over seeds)": 0.5,
    "max skipped hypersteps (fraction, any run)": 0.1,
    "max non-finite runs": 0,
}
FIGURE = "ift_vae.png"
METHODS = ("hyper", "learned", "fixed")
_MARKERS = (("learned", "s", "C1", "learned $\\sigma^2$"), ("hyper", "*", "C3", "hypergradient"))
# run record field -> linear_vae_heldout key (test split)
_TEST_KEYS = dict(final_sigma2="sigma2", test_elbo="elbo", test_log_likelihood="log_likelihood")
_TEST_KEYS |= dict(collapsed_fraction="collapsed_fraction")


@dataclasses.dataclass(frozen=True)
class Config:
    """Defaults are the quick scale (digits, 2 CPU cores)."""

    scale: str = "quick"
    seeds: tuple[int, ...] = (0, 1, 2)
    latent_dim: int = 16
    batch_size: int = 128
    inner_steps: int = 20  # T inner Adam steps per hyperstep
    hypersteps: int = 80
    warmup_hypersteps: int = 4  # hyper runs: inner steps only (h held) for the first ones
    learning_rate: float = 1e-2
    outer_lr: float = 0.2  # Adam on log sigma^2, peak per hyperstep (learned: / T per step)
    cg_iterations: int = 10
    init_sigma2: tuple[float, ...] = (0.001, 0.1, 1.0)
    # the fixed grid of experiments.linear_vae.collapse_vs_sigma: 0.001, 0.00215, ..., 1.0
    sigma2_grid: tuple[float, ...] = tuple(float(f"{10 ** (e / 3):.3g}") for e in range(-9, 1))
    eps: float = 0.01
    delta: float = 0.01
    eval_every: int = 10
    checkpoint_every: int = 40

    SCALES: ClassVar[dict] = {
        "full": dict(seeds=(0, 1, 2, 3, 4), hypersteps=300, inner_steps=50, cg_iterations=20)
        | dict(warmup_hypersteps=4, outer_lr=0.05, eval_every=20),
        "tiny": dict(seeds=(0,), latent_dim=4, batch_size=32, inner_steps=3, hypersteps=4)
        | dict(warmup_hypersteps=1, cg_iterations=3, init_sigma2=(0.01, 1.0))
        | dict(sigma2_grid=(0.01, 0.3), eval_every=2, checkpoint_every=4),
    }

    def __post_init__(self):
        names = ("latent_dim", "batch_size", "inner_steps", "hypersteps", "cg_iterations")
        require_at_least(self, 1, *names, "eval_every", "checkpoint_every")
        grid = list(self.sigma2_grid)
        for name, wrong in (
            ("seeds", not self.seeds or len(set(self.seeds)) != len(self.seeds)),
            ("sigma2_grid", len(grid) < 2 or grid != sorted(grid) or min(grid) <= 0),
            ("init_sigma2", not self.init_sigma2 or min(self.init_sigma2) <= 0),
            ("warmup_hypersteps", not 0 <= self.warmup_hypersteps < self.hypersteps),
            ("learning_rate", not self.learning_rate > 0),
            ("outer_lr", not self.outer_lr > 0),
        ):
            if wrong:
                raise ValueError(f"{name} is invalid (see Config): got {getattr(self, name)!r}")


def run(config: Config, workdir: Path) -> dict:
    """Trains every (method, seed, sigma^2) run in one vmapped program per hyperstep."""
    workdir, t0, c = Path(workdir), time.perf_counter(), config
    splits = [load_digits(seed=s) for s in c.seeds]
    x_train, x_val, x_test = (
        jnp.stack([jnp.asarray(getattr(d, name).x) for d in splits])
        for name in ("train", "val", "test")
    )
    num_seeds, num_train, data_dim = x_train.shape
    keys = seed_keys(c.seeds)
    inits, grid, k, T = list(c.init_sigma2), list(c.sigma2_grid), c.latent_dim, c.inner_steps
    # Run r of a method: seed index seed_of[m][r], initial/fixed sigma^2 s2_of[m][r].
    seed_of = {
        m: np.repeat(np.arange(num_seeds), len(grid if m == "fixed" else inits)) for m in METHODS
    }
    s2_of = {m: np.tile(grid if m == "fixed" else inits, num_seeds) for m in METHODS}

    def init_params(m):  # the same initial weights for every run of a seed
        ks = jax.vmap(lambda key: jax.random.fold_in(key, 1))(keys)[seed_of[m]]
        mus = jnp.mean(x_train, axis=1)[seed_of[m]]
        make = lambda key, mu, s2: linear_vae_init(key, data_dim, k, mu=mu)._replace(  # noqa: E731
            log_sigma2=jnp.log(s2)
        )
        return jax.vmap(make)(ks, mus, jnp.asarray(s2_of[m], jnp.float32))

    inner = optax.adam(c.learning_rate)
    labels = LinearVAEParams("w", "w", "w", "w", "s")  # sigma^2 gets the spread hyper step
    H = c.hypersteps - c.warmup_hypersteps
    outer = optax.adam(optax.cosine_decay_schedule(c.outer_lr, H))
    spread = optax.adam(optax.cosine_decay_schedule(c.outer_lr / T, c.hypersteps * T))
    learned_opt = optax.multi_transform({"w": inner, "s": spread}, labels)
    fixed_opt = optax.multi_transform({"w": inner, "s": optax.set_to_zero()}, labels)
    loss = linear_vae_sigma2_loss  # -ELBO at sigma^2 = exp(h): training and held-out levels
    solver = bilevel(loss, loss, inner, outer, method="cg", num_terms=c.cg_iterations)

    def make_state0():
        p_h, p_l, p_f = (init_params(m) for m in METHODS)
        return {
            "hyper": jax.vmap(solver.init)(p_h, p_h.log_sigma2),
            "learned": (p_l, jax.vmap(learned_opt.init)(p_l)),
            "fixed": (p_f, jax.vmap(fixed_opt.init)(p_f)),
        }

    state0 = jax.jit(make_state0)()
    sampler = batch_sampler(num_train, c.batch_size)
    batch_keys = jax.vmap(lambda key: jax.random.fold_in(key, 2))(keys)

    def batches(step):  # [S, T, B, d]: the mini-batches of hyperstep `step`, per seed
        ts = step * T + jnp.arange(T)
        idx = jax.vmap(lambda key: jax.vmap(lambda t: sampler(key, t))(ts))(batch_keys)
        return jax.vmap(lambda x, i: x[i])(x_train, idx)

    def elbo_steps(opt):  # T steps of -ELBO with sigma^2 learned / held by `opt`, vmapped
        def scan(p, o, b):
            res = optax_scan(lambda q, x: -linear_vae_elbo(q, x), opt, p, o, batches=(b,))
            return res.params, res.opt_state, res.losses[-1]

        return jax.vmap(scan)

    def step(state, i):
        xb, hs = batches(i), state["hyper"]
        upd = lambda s, b, xv: solver.update(s, (b,), (xv,))  # noqa: E731
        new_hs, info = jax.vmap(upd)(hs, xb[seed_of["hyper"]], x_val[seed_of["hyper"]])
        # Warm-up hypersteps: the inner steps only, the hyperparameter and its optimizer held.
        warm = i < c.warmup_hypersteps
        held = jax.tree.map(lambda new, old: jnp.where(warm, old, new), new_hs, hs)
        hs = new_hs._replace(
            hparams=held.hparams, outer_opt_state=held.outer_opt_state, num_skipped=held.num_skipped
        )
        learned = elbo_steps(learned_opt)(*state["learned"], xb[seed_of["learned"]])
        fixed = elbo_steps(fixed_opt)(*state["fixed"], xb[seed_of["fixed"]])
        logs = {"loss_learned": jnp.max(learned[2]), "loss_fixed": jnp.max(fixed[2])}
        return {"hyper": hs, "learned": learned[:2], "fixed": fixed[:2]}, logs

    step_jit = jax.jit(step, donate_argnums=0)

    def final_params(state):  # [hyper, learned, fixed]: the hyper runs carry sigma^2 = exp(h)
        hyper = state["hyper"].params._replace(log_sigma2=state["hyper"].hparams)
        return [hyper, state["learned"][0], state["fixed"][0]]

    @jax.jit
    def evaluate(state, x):  # {method: linear_vae_heldout of every run on its seed's x}
        # One vmap over all runs: three vmapped evaluations in one program deadlocked XLA:CPU
        # here (jax 0.10.2, 2 cores: batched Cholesky / triangular solves run concurrently).
        every = jax.tree.map(lambda *a: jnp.concatenate(a), *final_params(state))
        held = jax.vmap(lambda p, x: linear_vae_heldout(p, x, eps=c.eps, delta=c.delta))
        out = held(every, x[np.concatenate([seed_of[m] for m in METHODS])])
        starts = np.cumsum([0] + [len(seed_of[m]) for m in METHODS])
        return {
            m: jax.tree.map(lambda a, i=i: a[starts[i] : starts[i + 1]], out)
            for i, m in enumerate(METHODS)
        }

    def eval_fn(state):  # validation split: sigma^2, collapse and log-lik of every run
        names = {"sigma2": "sigma2", "collapsed": "collapsed_fraction", "ll": "log_likelihood"}
        evs = jax.device_get(evaluate(state, x_val)).items()
        return {f"{m}_{n}": ev[key] for m, ev in evs for n, key in names.items()}

    result = train_loop(
        state0,
        lambda s, i: step_jit(s, jnp.int32(i)),
        num_steps=c.hypersteps,
        checkpoint_dir=workdir / "ckpt",
        checkpoint_every=c.checkpoint_every,
        eval_fn=eval_fn,
        eval_every=c.eval_every,
        desc=f"ift_vae x{sum(len(v) for v in seed_of.values())} runs",
        config=c,
    )
    runs, test = {}, jax.device_get(evaluate(result.state, x_test))
    skipped = np.asarray(result.state["hyper"].num_skipped)
    for m, ev in test.items():  # + how collapsed each run was along the way (validation)
        path = np.mean([h[f"{m}_collapsed"] for h in result.history], axis=0)
        runs[m] = [
            {"seed": int(c.seeds[seed_of[m][r]]), "init_sigma2": float(s2_of[m][r])}
            | {name: float(ev[key][r]) for name, key in _TEST_KEYS.items()}
            | {"mean_collapsed_during_training": float(path[r])}
            | ({"skipped_hypersteps": int(skipped[r])} if m == "hyper" else {})
            for r in range(len(seed_of[m]))
        ]
    finite = lambda r: np.isfinite([r["final_sigma2"], r["test_log_likelihood"]]).all()  # noqa: E731
    bad = [f"{m}/{r['seed']}/{r['init_sigma2']}" for m in METHODS for r in runs[m] if not finite(r)]
    metrics = {"seeds": list(c.seeds), "init_sigma2": inits, "sigma2_grid": grid, "latent_dim": k}
    metrics |= {"bilevel_hypersteps": H, "inner_steps_total": c.hypersteps * T, "runs": runs}
    metrics |= {"nonfinite_runs": bad, "history": result.history}
    metrics |= {"eigenvalues_seed0": np.asarray(covariance_eigh(x_train[0])[1]).tolist()}
    metrics["train_seconds"] = result.train_seconds
    plot(c, metrics, workdir / FIGURE)
    metrics["wall_seconds"] = time.perf_counter() - t0
    return write_outputs(workdir, c, metrics, figures=[FIGURE])


def _mean_by(rows, key, value):
    """``{key value: mean of value over seeds}`` in first-seen order."""
    out = {}
    for r in rows:
        out.setdefault(r[key], []).append(r[value])
    return {a: float(np.mean(b)) for a, b in out.items()}


def plot(config: Config, m: dict, path: Path) -> None:
    """(a) collapsed fraction and (b) test log-lik vs final sigma^2; (c) sigma^2 in training."""
    runs, k, grid = m["runs"], config.latent_dim, m["sigma2_grid"]
    fig, (ax, ax_ll, ax_s) = plt.subplots(1, 3, figsize=(16, 4.8))
    top = np.sort(np.asarray(m["eigenvalues_seed0"])[:k])
    lo, hi = min(grid + m["init_sigma2"]) / 2, max(grid + m["init_sigma2"]) * 2
    steps_y = np.r_[0, np.arange(1, k + 1) / k, 1]
    ax.step(np.r_[lo, top, hi], steps_y, where="post", color="gray", label="linear (seed 0)")
    for a, key in ((ax, "collapsed_fraction"), (ax_ll, "test_log_likelihood")):
        fixed = _mean_by(runs["fixed"], "init_sigma2", key)
        a.plot(grid, list(fixed.values()), "o-", color="C0", label="fixed $\\sigma^2$ (mean)")
        for method, mk, color, name in _MARKERS:
            xs, ys = [r["final_sigma2"] for r in runs[method]], [r[key] for r in runs[method]]
            a.plot(xs, ys, mk, color=color, ms=10, mfc="none", ls="", label=name)
    steps = [h["step"] for h in m["history"]]
    for j, s0 in enumerate(m["init_sigma2"]):
        for method, ls in (("hyper", "-"), ("learned", "--")):
            idx = [i for i, r in enumerate(runs[method]) if r["init_sigma2"] == s0]
            ys = np.mean([[h[f"{method}_sigma2"][i] for i in idx] for h in m["history"]], axis=1)
            ax_s.plot(steps, ys, ls, color=f"C{j + 4}", label=f"{method}, init {s0:g}")
    ax.set(xscale="log", xlim=(lo, hi), ylim=(-0.05, 1.05), ylabel="collapsed fraction (test)")
    ax.set_xlabel("$\\sigma^2$ (final)"), ax_ll.set_xlabel("$\\sigma^2$ (final)")
    ax_ll.set(xscale="log", xlim=(lo, hi), yscale="symlog", ylabel="test log p(x), nats/example")
    ax.set_title(f"digits linear VAE, k={k}: posterior collapse")
    ax_ll.set_title("exact pPCA log-likelihood of the decoder")
    ax_s.set(yscale="log", xlabel=f"hyperstep ({config.inner_steps} inner steps each)")
    ax_s.set(ylabel="$\\sigma^2$ (mean over seeds)", title="hypergradient (-) vs learned (--)")
    for a in (ax, ax_ll, ax_s):
        a.legend(fontsize=7)
    save_figure(fig, path)


def summarize(metrics: dict) -> Summary:
    """The verdict: every condition of :data:`THRESHOLDS` (see CLAIM)."""
    t = list(THRESHOLDS.values())
    runs, seeds = metrics["runs"], metrics["seeds"]
    pair = {(r["seed"], r["init_sigma2"]): r for r in runs["learned"]}
    numbers, failures = {}, [f"{len(seeds)} seeds < {t[0]}"] if len(seeds) < t[0] else []
    worse = [  # (1) per seed and init: hypergradient collapsed fraction <= learned + t[1]
        f"seed {h['seed']} init {h['init_sigma2']:g}: {h['collapsed_fraction']:.3f} > {c:.3f}"
        for h in runs["hyper"]
        if h["collapsed_fraction"]
        - (c := pair[(h["seed"], h["init_sigma2"])]["collapsed_fraction"])
        > t[1]
    ]
    if worse:
        failures.append("hypergradient collapses more than learned sigma^2: " + ", ".join(worse))
    mean = lambda rows, key: float(np.mean([r[key] for r in rows]))  # noqa: E731
    for s0 in metrics["init_sigma2"]:  # (2) per init: mean paired test log-lik difference
        hs = [r for r in runs["hyper"] if r["init_sigma2"] == s0]
        ls = [pair[(r["seed"], s0)] for r in hs]
        diff = mean(hs, "test_log_likelihood") - mean(ls, "test_log_likelihood")
        numbers[f"init sigma2={s0:g}: mean val collapsed along training, hyper / learned"] = (
            f"{mean(hs, 'mean_collapsed_during_training'):.3f} / "
            f"{mean(ls, 'mean_collapsed_during_training'):.3f} (reported, not judged)"
        )
        numbers[f"init sigma2={s0:g}: hyper / learned"] = (
            f"sigma2 {mean(hs, 'final_sigma2'):.4g} / {mean(ls, 'final_sigma2'):.4g}, collapsed "
            f"{mean(hs, 'collapsed_fraction'):.3f} / {mean(ls, 'collapsed_fraction'):.3f}, test "
            f"log-lik {mean(hs, 'test_log_likelihood'):.3f} / {mean(ls, 'test_log_likelihood'):.3f}"
            f" (diff {diff:+.3f})"
        )
        if diff < t[2]:
            failures.append(f"init {s0:g}: mean test log-lik diff {diff:+.3f} < {t[2]}")
    coll = _mean_by(runs["fixed"], "init_sigma2", "collapsed_fraction")
    ll = _mean_by(runs["fixed"], "init_sigma2", "test_log_likelihood")
    best = max(ll, key=ll.get)
    sweep = ", ".join(f"{s:g}: {v:.2f}" for s, v in coll.items())
    numbers["fixed sweep collapsed (sigma2: fraction)"] = sweep
    numbers["best fixed sigma2 (test log-lik, oracle)"] = f"{best:g}: {ll[best]:.4g}"
    growth = list(coll.values())[-1] - list(coll.values())[0]
    failures += [f"fixed-sigma^2 collapse growth {growth:.2f} < {t[3]}"] if growth < t[3] else []
    skip = max(r["skipped_hypersteps"] for r in runs["hyper"]) / max(
        metrics["bilevel_hypersteps"], 1
    )
    numbers["max skipped hypersteps (fraction)"] = round(skip, 3)
    bad = metrics["nonfinite_runs"]
    failures += [f"skipped hypersteps {skip:.2f} > {t[4]}"] if skip > t[4] else []
    failures += [f"non-finite runs {bad}"] if len(bad) > t[5] else []
    numbers["wall time (s)"] = round(metrics.get("wall_seconds", float("nan")), 1)
    ok, verdict = judge(
        failures, f"{len(seeds)} seeds, inits {metrics['init_sigma2']}, fixed growth {growth:.2f}"
    )
    return Summary(numbers, ok, verdict, dict(THRESHOLDS))


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
