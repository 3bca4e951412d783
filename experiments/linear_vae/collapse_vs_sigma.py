"""Lucas et al. (2019), sec. 6: posterior collapse of deep Gaussian VAEs vs the observation noise.

"Don't Blame the ELBO! A Linear VAE Perspective on Posterior Collapse" (NeurIPS 2019), the deep-VAE
experiment "collapse vs sigma^2": the share of (eps, delta)-collapsed latent dimensions grows with
the (fixed) observation variance sigma^2, as the linear model predicts (pPCA with fixed sigma^2
zeroes every column whose covariance eigenvalue is <= sigma^2); learning sigma^2 from a small
initial value ends with (almost) no collapse, while a large initial value may stay collapsed.

    python -m experiments.linear_vae.collapse_vs_sigma --scale quick

Every configuration (a geometric grid of fixed sigma^2 values plus learned sigma^2 from a small and
a large initial value) trains in ONE compiled program (:mod:`jaxml.vae.sigma_sweep`) run as
scans of ``steps_per_call`` steps, all seeing the same mini-batches (a function of the step
index: a resumed run is bit-identical).

Verdict rule (all must hold; :data:`THRESHOLDS`), on the fixed-sigma^2 runs (test split): (1) the
collapsed fraction grows by >= 0.5 from the smallest to the largest sigma^2; (2) Spearman(measured,
linear prediction) >= 0.9 and every measured fraction lies between the linear predictions at the
neighbouring grid values (a shift of at most one grid step, ~2.2x in sigma^2 at quick scale);
(3) learned sigma^2 from the smallest init ends <= 0.25 collapsed; (4) no run diverged. The
large-init learned runs ("may remain collapsed") are reported, not judged.
"""

import dataclasses
import math
import time
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax
from scipy import stats

from experiments.harness import Summary, experiment_main, train_loop, write_outputs
from experiments.harness.config import require_at_least
from experiments.harness.plotting import plt, save_figure
from jaxml.data import load_digits, load_mnist1d
from jaxml.vae import (
    GaussianVAE,
    covariance_eigh,
    init_vae_sweep,
    linear_band,
    make_vae_sweep_eval,
    make_vae_sweep_step,
    sweep_collapse_records,
)

PAPER = (
    "Lucas et al. 2019, Don't Blame the ELBO! (NeurIPS), sec. 6: deep Gaussian VAE posterior "
    "collapse vs observation variance sigma^2"
)
CLAIM = (
    "With a fixed observation variance sigma^2 the fraction of collapsed latent dimensions of a "
    "deep Gaussian VAE grows with sigma^2, following the linear (pPCA) prediction of eigenvalues "
    "<= sigma^2; learning sigma^2 from a small initial value ends with little collapse, while a "
    "large initial value may remain collapsed. Checked: growth >= 0.5 from the smallest to the "
    "largest fixed sigma^2; Spearman(measured, linear prediction) >= 0.9 and every point within "
    "one grid step of the linear curve; learned sigma^2 from a small init <= 0.25 collapsed."
)

# The verdict's thresholds (fixed; a config cannot loosen them).
THRESHOLDS = {
    "min collapse growth, largest vs smallest fixed sigma^2": 0.5,
    "min Spearman(collapsed, linear prediction)": 0.9,
    "max shift vs linear curve (grid steps)": 1,
    "max collapsed fraction, learned sigma^2 from smallest init": 0.25,
    "max diverged runs": 0,
}
DATASETS = ("digits", "mnist1d")
FIGURE = "collapse_vs_sigma.png"


@dataclasses.dataclass(frozen=True)
class Config:
    """Collapse-vs-sigma^2 sweep. Defaults are the quick scale (digits, 2 CPU cores)."""

    scale: str = "quick"
    seed: int = 0
    dataset: str = "digits"
    latent_dim: int = 16
    hidden: tuple[int, ...] = (256,)
    num_steps: int = 8000
    batch_size: int = 128
    learning_rate: float = 1e-3
    # Fixed sigma^2: geometric, 1e-3 .. 1 (digits covariance: top-16 eigenvalues 0.065 .. 0.70).
    # 0.001, 0.00215, 0.00464, 0.01, ..., 0.464, 1.0 (10 per decade / 3, to 3 digits)
    sigma2_grid: tuple[float, ...] = tuple(float(f"{10 ** (e / 3):.3g}") for e in range(-9, 1))
    # Learned sigma^2 from these initial values: small (below every top-k eigenvalue) and large
    # (above all of them; from 10 the model first collapses completely while sigma^2 comes down).
    learned_inits: tuple[float, ...] = (0.001, 1.0, 10.0)
    eps: float = 0.01
    delta: float = 0.01
    active_threshold: float = 0.01
    eval_samples: int = 8
    eval_every: int = 250
    checkpoint_every: int = 2000
    steps_per_call: int = 250  # steps per compiled call (one scan); divides the periods above
    # A dimension is "weakly used" when its mean test KL is < weak_kl nats (reported only).
    weak_kl: float = 0.1

    SCALES: ClassVar[dict] = {
        "full": dict(num_steps=30_000, hidden=(512, 512), latent_dim=32, eval_every=1000)
        | dict(sigma2_grid=(0.0003, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0))
        | dict(learned_inits=(0.0003, 1.0, 10.0), checkpoint_every=5000, steps_per_call=1000),
        "tiny": dict(num_steps=20, latent_dim=4, hidden=(16,), batch_size=32, eval_samples=2)
        | dict(sigma2_grid=(0.01, 0.3), learned_inits=(0.01,), eval_every=10, checkpoint_every=10)
        | dict(steps_per_call=1),
    }

    def __post_init__(self):  # hidden, eps, delta: checked by jaxml.vae when run
        names = ("latent_dim", "batch_size", "num_steps", "eval_every", "checkpoint_every")
        require_at_least(self, 1, *names, "eval_samples", "steps_per_call")
        periods = (self.num_steps, self.eval_every, self.checkpoint_every)
        grid, inits = list(self.sigma2_grid), list(self.learned_inits)
        for name, wrong in (
            ("dataset", self.dataset not in DATASETS),
            ("sigma2_grid", len(grid) < 2 or grid != sorted(grid) or min(grid) <= 0),
            ("learned_inits", any(not v > 0 for v in inits)),
            ("learning_rate", not self.learning_rate > 0),
            ("steps_per_call", any(n % self.steps_per_call for n in periods)),
        ):
            if wrong:  # the grid: >= 2 increasing values > 0; datasets: DATASETS
                raise ValueError(f"{name} is invalid (see Config): got {getattr(self, name)!r}")


def plot(config: Config, m: dict, path: Path) -> None:
    """(a) collapsed fraction vs sigma^2 and the linear curve, (b) test ELBO / KL, (c) learned."""
    grid, fixed, learned = np.asarray(m["sigma2_grid"]), m["fixed"], m["learned"]
    evals, k = np.asarray(m["eigenvalues"]), config.latent_dim
    xs_all = np.concatenate([grid, [r["final_sigma2"] for r in learned], config.learned_inits])
    xmin, xmax = xs_all.min() / 2.5, xs_all.max() * 2.5
    fig, (ax, ax_elbo, ax_hist) = plt.subplots(
        1, 3, figsize=(16, 4.8), gridspec_kw={"width_ratios": [1.4, 1, 1]}
    )
    top = np.sort(evals[:k])
    steps_x, steps_y = np.r_[xmin, top, xmax], np.r_[0.0, np.arange(1, k + 1) / k, 1.0]
    label = f"linear model (pPCA): top-{k} eigenvalues <= $\\sigma^2$"
    ax.step(steps_x, steps_y, where="post", color="gray", lw=1.6, label=label)
    label = "deep VAE, fixed $\\sigma^2$ (test)"
    ax.plot(grid, [r["collapsed_fraction"] for r in fixed], "o-", color="C0", lw=2, label=label)
    ax_elbo.plot(grid, [r["elbo"] for r in fixed], "o-", color="C0", label="ELBO, fixed")
    ax_elbo.plot(grid, [r["kl"] for r in fixed], "s--", color="C0", mfc="none", label="KL, fixed")
    ax_col = ax_hist.twinx()
    hist = m["history"]
    for j, r in enumerate(learned):
        c, mk, y, i = f"C{j + 1}", "*DPX"[j % 4], r["collapsed_fraction"], r["index"]
        s0, s1 = r["init_sigma2"], r["final_sigma2"]
        ax.plot([s0, s1], [y, y], ls=":", color=c, lw=1.3)
        ax.plot(s0, y, mk, mfc="none", mec=c, ms=10)
        ax.plot(s1, y, mk, color=c, ms=12, label=f"learned $\\sigma^2$ {s0:.3g} -> {s1:.3g}")
        ax_elbo.plot(s1, r["elbo"], mk, color=c, ms=10, label=f"ELBO, learned from {s0:.3g}")
        ax_elbo.plot(s1, r["kl"], "s", color=c, mfc="none", ms=8)
        steps = [h["step"] for h in hist]
        ax_hist.plot(steps, [h["sigma2"][i] for h in hist], color=c, lw=2, label=f"init {s0:.3g}")
        ax_col.plot(steps, [h["collapsed"][i] for h in hist], color=c, ls="--", lw=1.5)
    pos = evals[(evals > xmin) & (evals < xmax)]
    ax.plot(pos, np.full_like(pos, -0.06), "|", color="0.6", ms=10, mew=1)
    ax.plot(
        top, np.full_like(top, -0.06), "|", color="k", ms=12, mew=1.4, label="top-k eigenvalues"
    )
    ax.set(xscale="log", xlim=(xmin, xmax), ylim=(-0.1, 1.05), xlabel="$\\sigma^2$ (final)")
    ax.set_ylabel(f"collapsed fraction ($\\epsilon$={config.eps}, $\\delta$={config.delta})")
    ax.set_title(f"{config.dataset}: collapsed latent dims of a deep VAE, k={k}")
    ax_elbo.set(xscale="log", yscale="symlog", xlabel="$\\sigma^2$", ylabel="nats / example")
    ax_elbo.set_title("test ELBO (solid) and KL(q||p) (dashed)")
    ax_hist.set(yscale="log", xlabel="step", ylabel="learned $\\sigma^2$ (solid)")
    ax_hist.set_title("learned $\\sigma^2$ runs during training")
    ax_col.set(ylabel="collapsed fraction, val (dashed)", ylim=(-0.05, 1.05))
    ax_col.grid(False)
    ax_col.spines["right"].set_visible(True)
    for a, loc in ((ax, "upper left"), (ax_elbo, "lower left"), (ax_hist, "center right")):
        a.legend(fontsize=8, loc=loc)
    save_figure(fig, path)


def run(config: Config, workdir: Path) -> dict:
    """Trains the whole sweep as one vmapped program; writes metrics, config and the figure."""
    workdir, t0 = Path(workdir), time.perf_counter()
    data = {"digits": load_digits, "mnist1d": load_mnist1d}[config.dataset](seed=config.seed)
    x_train = jnp.asarray(data.train.x)
    x_val, x_test = jnp.asarray(data.val.x), jnp.asarray(data.test.x)
    num_train, data_dim = x_train.shape
    if config.latent_dim >= data_dim:
        raise ValueError(f"latent_dim must be < data dim {data_dim}, got {config.latent_dim}")
    evals = np.asarray(covariance_eigh(x_train)[1], np.float64)

    model = GaussianVAE(data_dim=data_dim, latent_dim=config.latent_dim, hidden=config.hidden)
    optimizer = optax.adam(config.learning_rate)
    key = jax.random.key(config.seed)
    # Every configuration: the fixed grid, then the learned inits.
    sigma2s = tuple(config.sigma2_grid) + tuple(config.learned_inits)
    flags = (False,) * len(config.sigma2_grid) + (True,) * len(config.learned_inits)
    init = lambda k: init_vae_sweep(model, optimizer, k, sigma2s, flags)  # noqa: E731
    states0 = jax.jit(init)(jax.random.fold_in(key, 1))
    per_call = config.steps_per_call
    sizes = {"num_train": num_train, "batch_size": config.batch_size, "steps_per_call": per_call}
    sweep_chunk = make_vae_sweep_step(model, optimizer, jax.random.fold_in(key, 2), **sizes)

    def chunk_and_log(states, chunk_index, x):
        states, logs = sweep_chunk(states, chunk_index, x)  # logs [T, configs]
        return states, {f"elbo_{f.__name__}": f(logs["elbo"][-1]) for f in (jnp.min, jnp.max)}

    chunk_jit = jax.jit(chunk_and_log, donate_argnums=0)
    thresholds = {n: getattr(config, n) for n in ("eps", "delta", "active_threshold")}
    evaluate = jax.jit(make_vae_sweep_eval(model, **thresholds, num_samples=config.eval_samples))
    eval_key = jax.random.fold_in(key, 3)

    def eval_fn(states):
        ev = jax.device_get(evaluate(states, x_val, eval_key))
        names = ("elbo", "kl", "collapsed", "active", "sigma2")
        return {n: ev[n] for n in names}  # [configs] arrays per eval record

    result = train_loop(  # in units of chunks of per_call steps
        states0,
        lambda s, i: chunk_jit(s, i, x_train),
        num_steps=config.num_steps // per_call,
        checkpoint_dir=workdir / "ckpt",
        checkpoint_every=config.checkpoint_every // per_call,
        eval_fn=eval_fn,
        eval_every=config.eval_every // per_call,
        desc=f"{config.dataset}/collapse_vs_sigma x{len(sigma2s)} ({per_call} steps/it)",
        config=config,
    )
    history = [h | {"step": h["step"] * per_call} for h in result.history]
    resumed_from = result.resumed_from * per_call
    test, val = (jax.device_get(evaluate(result.state, x, eval_key)) for x in (x_test, x_val))
    runs = sweep_collapse_records(test, sigma2s, flags, evals, weak_kl=config.weak_kl)
    for r in runs:
        r["collapsed_fraction_val"] = float(val["collapsed"][r["index"]])
        if r["learned"]:  # its trajectory: the most collapse seen during training (validation)
            i = r["index"]
            peak = max(history, key=lambda h, i=i: h["collapsed"][i])
            r["max_collapsed_during_training"] = peak["collapsed"][i]
            r["max_collapsed_step"] = peak["step"]
            r["sigma2_at_max_collapsed"] = peak["sigma2"][i]
    fixed, learned = [r for r in runs if not r["learned"]], [r for r in runs if r["learned"]]
    collapse = [r["collapsed_fraction"] for r in fixed]
    linear = [r["linear_prediction"] for r in fixed]

    def spearman(a, b) -> float | None:  # None when undefined (a constant input)
        rho = stats.spearmanr(a, b).statistic if np.ptp(a) > 0 and np.ptp(b) > 0 else math.nan
        return float(rho) if math.isfinite(rho) else None

    train_seconds = result.train_seconds
    steps_run = config.num_steps - resumed_from
    metrics = {
        **{name: getattr(config, name) for name in ("dataset", "latent_dim", "weak_kl")},
        "sigma2_grid": list(config.sigma2_grid),
        "learned_inits": list(config.learned_inits),
        "fixed": fixed,
        "learned": learned,
        "collapsed_fraction_fixed": collapse,
        "active_units_fixed": [r["active_units"] for r in fixed],
        "elbo_fixed": [r["elbo"] for r in fixed],
        "linear_prediction_fixed": linear,
        "learned_final_sigma2": [r["final_sigma2"] for r in learned],
        "learned_collapsed_fraction": [r["collapsed_fraction"] for r in learned],
        "eigenvalues": evals.tolist(),
        "spearman_sigma2_collapse": spearman([r["final_sigma2"] for r in fixed], collapse),
        "spearman_deep_vs_linear": spearman(linear, collapse),
        # Runs whose final test ELBO or sigma^2 is NaN/inf (diverged): reported, fail the claim.
        "nonfinite_runs": [
            r["index"] for r in runs if not np.isfinite([r["elbo"], r["final_sigma2"]]).all()
        ],
        "history": history,
        "resumed_from_step": resumed_from,
        "train_seconds": train_seconds,
        "steps_per_s": steps_run / train_seconds if train_seconds > 0 else None,
    }
    plot(config, metrics, workdir / FIGURE)
    metrics["wall_seconds"] = time.perf_counter() - t0
    return write_outputs(workdir, config, metrics, figures=[FIGURE])


def summarize(metrics: dict) -> Summary:
    """The verdict: see the module docstring; every number compared is in :data:`THRESHOLDS`."""
    t = list(THRESHOLDS.values())  # growth, Spearman, grid steps, learned bar, diverged
    fixed, learned = metrics["fixed"], metrics["learned"]
    numbers = {
        f"collapsed @ sigma2={r['init_sigma2']:.3g}": f"{r['collapsed_fraction']:.3f} (linear "
        f"{r['linear_prediction']:.3f}, AU {r['active_units']})"
        for r in fixed
    }
    for r in learned:
        numbers[f"learned from {r['init_sigma2']:.3g}"] = (
            f"sigma2 -> {r['final_sigma2']:.4g}, collapsed {r['collapsed_fraction']:.3f} "
            f"(linear {r['linear_prediction']:.3f}, AU {r['active_units']}, mean KL < "
            f"{metrics['weak_kl']:g} in {r['weak_fraction']:.3f}; peak collapse "
            f"{r['max_collapsed_during_training']:.3f} at step {r['max_collapsed_step']})"
        )
    measured = [r["collapsed_fraction"] for r in fixed]
    linear = [r["linear_prediction"] for r in fixed]
    gaps = [abs(m - p) for m, p in zip(measured, linear, strict=True)]
    rho, rho_lin = metrics["spearman_sigma2_collapse"], metrics["spearman_deep_vs_linear"]
    rho_lin = None if rho_lin is None else round(rho_lin, 3)
    numbers["Spearman(sigma2, collapsed)"] = None if rho is None else round(rho, 3)
    numbers["Spearman(collapsed, linear prediction)"] = rho_lin
    numbers["max / mean |collapsed - linear|"] = f"{max(gaps):.3f} / {np.mean(gaps):.3f}"
    numbers["wall time (s)"] = round(metrics.get("wall_seconds", float("nan")), 1)

    lo, hi = measured[0], measured[-1]  # (1) growth
    # (2) follows the linear prediction: rank correlation and the one-grid-step band
    band = linear_band(linear, t[2])
    outside = [
        f"sigma2={r['init_sigma2']:.3g} {m:.2f} not in [{b[0]:.2f}, {b[1]:.2f}]"
        for r, m, b in zip(fixed, measured, band, strict=True)
        if not b[0] <= m <= b[1]
    ]
    # (3) learned sigma^2 from the smallest init; (4) diverged runs
    small = min(learned, key=lambda r: r["init_sigma2"]) if learned else None
    little = small is not None and small["collapsed_fraction"] <= t[3]
    bad = metrics.get("nonfinite_runs") or []
    parts = [
        f"collapse grows by {hi - lo:.2f} from sigma2={fixed[0]['init_sigma2']:.3g} to "
        f"{fixed[-1]['init_sigma2']:.3g} ({lo:.2f} -> {hi:.2f}; need >= {t[0]})",
        f"Spearman(collapsed, linear) {rho_lin} (need >= {t[1]})",
        f"max |collapsed - linear| {max(gaps):.3f}, mean {np.mean(gaps):.3f}; "
        + (
            f"outside the {t[2]}-grid-step band of the linear curve: " + ", ".join(outside)
            if outside
            else f"every sigma2 within {t[2]} grid step of the linear curve"
        ),
    ]
    parts.append(
        "no learned-sigma2 run to judge"
        if small is None
        else f"learned sigma2 from {small['init_sigma2']:.3g} ends at {small['final_sigma2']:.3g} "
        f"with {small['collapsed_fraction']:.2f} collapsed ({'<=' if little else '>'} {t[3]})"
    )
    parts += [  # the large inits: reported, not part of the verdict
        f"from {r['init_sigma2']:.3g}: sigma2 -> {r['final_sigma2']:.3g}, "
        f"{r['collapsed_fraction']:.2f} collapsed at the end (peak "
        f"{r['max_collapsed_during_training']:.2f} at step {r['max_collapsed_step']}; not judged)"
        for r in learned
        if r is not small
    ]
    if bad:
        parts.append(f"runs {bad} diverged (non-finite ELBO or sigma2)")
    ranks = rho_lin is not None and metrics["spearman_deep_vs_linear"] >= t[1]
    ok = hi - lo >= t[0] and ranks and not outside and little and len(bad) <= t[4]
    return Summary(numbers, bool(ok), "; ".join(parts), dict(THRESHOLDS))


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
