"""Lorraine et al. (2020), Fig. 3-style: hypergradient accuracy vs number of inverse-HVP terms.

A problem where the exact IFT hypergradient is computable: multinomial logistic regression (and a
small MLP) on 8x8 digits with one L2 decay per weight (log space, drawn log-uniformly), trained to
its optimum (L-BFGS, float64). We compare Neumann (alpha = 1 / lambda_max(H), the largest stable
inner learning rate) and conjugate gradient against the exact solve, for 0..50 terms; the identity
approximation is the 0-term Neumann point.

    python -m experiments.ift.hypergradient_accuracy --scale quick
"""

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from experiments.harness import Summary, experiment_main, write_outputs
from experiments.harness.loop import progress_enabled
from experiments.harness.plotting import plt, save_figure
from jaxml.data import load_digits
from jaxml.implicit import hvp_fn, hypergradient, tree_norm, tree_vdot
from jaxml.implicit.hparams import l2_penalty
from jaxml.models import MLP, cross_entropy

PAPER = "Lorraine et al. 2020, Optimizing Millions of Hyperparameters (sec. 5.1, Fig. 3)"
CLAIM = (
    "Neumann-series and conjugate-gradient approximations of the inverse Hessian give "
    "hypergradients that approach the exact IFT hypergradient as the number of terms grows; "
    "the identity (0-term) approximation is the crudest."
)


@dataclasses.dataclass(frozen=True)
class Config:
    """Hypergradient accuracy vs terms. Defaults are the quick scale."""

    scale: str = "quick"
    seed: int = 0
    models: tuple[str, ...] = ("logreg", "mlp")
    mlp_hidden: int = 16
    num_train: int = 500
    terms: tuple[int, ...] = (0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 50)
    decay_low: float = 1e-3
    decay_high: float = 1e-1
    lbfgs_steps: int = 400
    min_best_cosine: float = 0.95

    SCALES: ClassVar[dict] = {
        "full": {"num_train": 1200, "mlp_hidden": 32, "lbfgs_steps": 2000,
                 "terms": (0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200)},
        "tiny": {"num_train": 60, "mlp_hidden": 4, "terms": (0, 2, 5), "lbfgs_steps": 50,
                 "models": ("logreg",), "min_best_cosine": 0.0},
    }

    def __post_init__(self):
        if not self.terms or min(self.terms) < 0:
            raise ValueError(f"terms must be non-empty and >= 0, got {self.terms}")
        for m in self.models:
            if m not in ("logreg", "mlp"):
                raise ValueError(f"models must be 'logreg' and/or 'mlp', got {m!r}")
        if not 0 < self.decay_low <= self.decay_high:
            raise ValueError("need 0 < decay_low <= decay_high")


def _problem(config: Config, model_name: str, data):
    x, y = jnp.asarray(data.train.x[: config.num_train]), jnp.asarray(data.train.y[
        : config.num_train])
    xv, yv = jnp.asarray(data.val.x), jnp.asarray(data.val.y)
    hidden = () if model_name == "logreg" else (config.mlp_hidden,)
    model = MLP(hidden=hidden, num_outputs=10, activation=jnp.tanh)
    key = jax.random.key(config.seed)
    params = model.init(key, x[:1])
    lo, hi = np.log(config.decay_low), np.log(config.decay_high)
    keys = jax.random.split(jax.random.fold_in(key, 1), len(jax.tree.leaves(params)))
    leaves, treedef = jax.tree.flatten(params)
    hparams = jax.tree.unflatten(treedef, [jax.random.uniform(k, p.shape, p.dtype, lo, hi)
                                           for k, p in zip(keys, leaves, strict=True)])

    def train_loss(p, h):
        return cross_entropy(model.apply(p, x), y) + l2_penalty(p, h)

    def val_loss(p, h):
        return cross_entropy(model.apply(p, xv), yv)

    return params, hparams, train_loss, val_loss


def _minimize(loss, params, steps):
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(loss)

    @jax.jit
    def step(carry, _):
        p, s = carry
        value, grad = value_and_grad(p, state=s)
        updates, s = opt.update(grad, s, p, value=value, grad=grad, value_fn=loss)
        return (optax.apply_updates(p, updates), s), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    return params


def _lambda_max(hvp, like, iters=100):
    v = jax.tree.map(lambda a: jnp.ones_like(a) / np.sqrt(a.size), like)
    for _ in range(iters):
        hv = hvp(v)
        norm = tree_norm(hv)
        v = jax.tree.map(lambda a, nrm=norm: a / nrm, hv)
    return float(tree_vdot(v, hvp(v)))


def _compare(g, exact):
    cos = float(tree_vdot(g, exact) / (tree_norm(g) * tree_norm(exact) + 1e-300))
    rel = float(tree_norm(jax.tree.map(jnp.subtract, g, exact)) / tree_norm(exact))
    return cos, rel


def evaluate_model(config: Config, name: str, data) -> dict:
    """Exact, Neumann, CG and identity hypergradients for one model at its optimum (float64)."""
    params, hparams, train_loss, val_loss = _problem(config, name, data)
    params = jax.tree.map(lambda a: a.astype(jnp.float64), params)
    hparams = jax.tree.map(lambda a: a.astype(jnp.float64), hparams)
    params = _minimize(lambda p: train_loss(p, hparams), params, config.lbfgs_steps)
    grad_norm = float(tree_norm(jax.grad(train_loss)(params, hparams)))
    lam_max = _lambda_max(jax.jit(hvp_fn(train_loss, params, hparams)), params)
    alpha = 1.0 / lam_max  # the largest step for which the Neumann series converges

    def hg(p, h, n, method):
        return hypergradient(train_loss, val_loss, p, h, method=method, num_terms=n, alpha=alpha)

    hg = jax.jit(hg, static_argnums=(2, 3))
    exact = hg(params, hparams, 0, "exact")
    rows = {"neumann": [], "cg": []}
    bar = tqdm(total=2 * len(config.terms), desc=name, disable=not progress_enabled())
    for method in ("neumann", "cg"):
        for n in config.terms:
            cos, rel = _compare(hg(params, hparams, n, method), exact)
            rows[method].append({"terms": n, "cosine": cos, "rel_error": rel})
            bar.update(1)
    bar.close()
    cos_i, rel_i = _compare(hg(params, hparams, 0, "identity"), exact)
    num_params = sum(a.size for a in jax.tree.leaves(params))
    return {
        "num_params": int(num_params), "num_hparams": int(num_params),
        "inner_grad_norm": grad_norm, "lambda_max": lam_max, "alpha": alpha,
        "identity": {"cosine": cos_i, "rel_error": rel_i}, **rows,
    }


def run(config: Config, workdir: Path) -> dict:
    workdir = Path(workdir)
    t0 = time.perf_counter()
    data = load_digits(seed=config.seed)
    with jax.enable_x64(True):
        results = {name: evaluate_model(config, name, data) for name in config.models}
    _plot(config, results, workdir / "hypergradient_accuracy.png")
    metrics = {"results": results, "min_best_cosine": config.min_best_cosine,
               "wall_seconds": time.perf_counter() - t0}
    return write_outputs(workdir, config, metrics, figures=["hypergradient_accuracy.png"])


def _plot(config, results, path):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    styles = {"logreg": "-", "mlp": "--"}
    for name, r in results.items():
        for method, color in (("neumann", "C0"), ("cg", "C1")):
            terms = [row["terms"] for row in r[method]]
            label = f"{method.upper() if method == 'cg' else 'Neumann'}, {name}"
            axes[0].plot(terms, [row["cosine"] for row in r[method]], styles[name], color=color,
                         marker="o", ms=3, label=label)
            axes[1].plot(terms, [row["rel_error"] for row in r[method]], styles[name],
                         color=color, marker="o", ms=3, label=label)
        axes[0].plot([0], [r["identity"]["cosine"]], "k*", ms=10)
        axes[1].plot([0], [r["identity"]["rel_error"]], "k*", ms=10)
    axes[0].plot([], [], "k*", label="identity (0 terms)")
    axes[0].set(xlabel="inverse-HVP terms (Neumann terms / CG iterations)",
                ylabel="cosine similarity to exact", title="direction")
    axes[1].set(xlabel="inverse-HVP terms (Neumann terms / CG iterations)",
                ylabel="||g - g_exact|| / ||g_exact||", yscale="log", title="relative error")
    axes[0].legend(fontsize=8)
    sizes = ", ".join(f"{k}: {v['num_params']} hparams" for k, v in results.items())
    fig.suptitle(f"digits, one L2 decay per weight ({sizes})", fontsize=10)
    save_figure(fig, path)


def summarize(metrics: dict) -> Summary:
    numbers, ok, parts = {}, True, []
    for name, r in metrics["results"].items():
        n_last = r["neumann"][-1]
        c_last = r["cg"][-1]
        numbers[f"{name}: hyperparameters"] = r["num_hparams"]
        numbers[f"{name}: identity cosine / rel. error"] = (
            f"{r['identity']['cosine']:.3f} / {r['identity']['rel_error']:.3g}")
        numbers[f"{name}: Neumann {n_last['terms']} terms cosine / rel. error"] = (
            f"{n_last['cosine']:.4f} / {n_last['rel_error']:.3g}")
        numbers[f"{name}: CG {c_last['terms']} iters cosine / rel. error"] = (
            f"{c_last['cosine']:.4f} / {c_last['rel_error']:.3g}")
        improves = (n_last["rel_error"] < r["neumann"][0]["rel_error"]
                    and c_last["rel_error"] < r["cg"][0]["rel_error"]
                    and n_last["cosine"] > r["identity"]["cosine"])
        best = max(n_last["cosine"], c_last["cosine"])
        ok = ok and improves and best >= metrics["min_best_cosine"]
        numbers[f"{name}: lambda_max(H), Neumann alpha"] = (
            f"{r['lambda_max']:.3g}, {r['alpha']:.3g}")
        parts.append(f"{name}: cosine identity {r['identity']['cosine']:.3f} -> Neumann "
                     f"{n_last['cosine']:.3f}, CG {c_last['cosine']:.4f}")
    parts.append(f"both errors shrink with terms; best cosine must reach "
                 f"{metrics['min_best_cosine']}")
    return Summary(numbers, ok, "; ".join(parts))


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
