"""Constrained density search: the lowest density whose accuracy stays within a bound.

Condensa (Joseph et al. 2019, Sec. 4) models accuracy as a function of density with a Gaussian
process and samples where the GP is least sure which side of the accuracy bound a density lies
on (a level-set acquisition), restricted to densities below the best feasible one found so far
(the constraint: a sample there is the only kind that can lower the answer).

Here, in ``u = log10(density)`` (densities span decades):

1. evaluate ``hi`` and ``lo``;
2. fit a GP (tinygp, squared-exponential kernel, constant mean; amplitude from the sample
   variance, length scale by maximum marginal likelihood over a grid);
3. on a grid of ``u`` inside the bracket (the highest infeasible sample below the current
   answer, the answer; its middle ``1 - 2 guard``; at least ``xtol`` from every sample), take the
   straddle acquisition ``beta * sigma(u) - |mu(u) - target|`` (Bryan et al. 2005) and evaluate
   its argmax;
4. repeat until ``max_evals`` evaluations or no candidate is left.

The answer is the lowest *evaluated* density whose accuracy is >= ``target`` (never a GP guess).
``evaluate`` runs host-side (it trains a model); the GP fit and acquisition are small JAX calls.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import tinygp
from tqdm.auto import tqdm

from jaxml import _validation as v

__all__ = ["SearchResult", "search_density"]


class SearchResult(NamedTuple):
    """What :func:`search_density` returns.

    Attributes:
        density: the lowest evaluated density with accuracy >= target (NaN if none).
        target: the accuracy bound.
        densities: ``[k]`` evaluated densities, in evaluation order.
        accuracies: ``[k]`` their accuracies.
        grid: ``[g]`` densities of the final GP's posterior.
        mean, std: ``[g]`` the final GP's posterior mean and standard deviation on ``grid``.
    """

    density: float
    target: float
    densities: np.ndarray
    accuracies: np.ndarray
    grid: np.ndarray
    mean: np.ndarray
    std: np.ndarray


_SCALES = np.array([0.03, 0.05, 0.1, 0.2, 0.35, 0.6, 1.0])
_PAD_NOISE = 1e6


@jax.jit
def _fit(u, y, noise, grid, mean, amp, scales):
    """Log-likelihood and posterior (mean, var) on ``grid`` for each length scale in ``scales``.

    ``u``/``y``/``noise`` have a fixed padded length: padded points sit far away (no covariance
    with anything) with a huge noise, so they change no posterior and add the same constant to
    every scale's likelihood; one compiled program serves every search step.
    """

    def one(scale):
        gp = tinygp.GaussianProcess(
            amp * tinygp.kernels.ExpSquared(scale=scale), u, diag=noise, mean=mean
        )
        cond = gp.condition(y, grid).gp
        return gp.log_probability(y), cond.loc, cond.variance

    return jax.vmap(one)(scales)


def _posterior(u, y, grid, noise, size):
    """Posterior mean and std of a constant-mean SE GP fitted to ``(u, y)``, on ``grid``.

    Amplitude: the sample variance (at least 1e-4); length scale: the maximum marginal
    likelihood among ``_SCALES`` times the grid's span.
    """
    n = len(u)
    pad = size - n
    span = float(grid[-1] - grid[0])
    mean = float(np.mean(y))
    amp = max(float(np.var(y)), 1e-4)
    u_p = np.concatenate([u, grid[-1] + 1e3 * span * (1 + np.arange(pad))])
    y_p = np.concatenate([y, np.full(pad, mean)])
    noise_p = np.concatenate([np.full(n, noise), np.full(pad, _PAD_NOISE)])
    lp, loc, var = _fit(
        jnp.asarray(u_p),
        jnp.asarray(y_p),
        jnp.asarray(noise_p),
        jnp.asarray(grid),
        jnp.asarray(mean),
        jnp.asarray(amp),
        jnp.asarray(span * _SCALES),
    )
    best = int(np.argmax(np.asarray(lp)))
    return np.asarray(loc[best]), np.sqrt(np.maximum(np.asarray(var[best]), 0.0))


def search_density(
    evaluate: Callable[[float], float],
    *,
    target: float,
    lo: float = 0.01,
    hi: float = 1.0,
    max_evals: int = 10,
    xtol: float = 0.01,
    beta: float = 1.96,
    noise: float = 1e-4,
    grid_size: int = 400,
    guard: float = 0.2,
    progress: bool = True,
) -> SearchResult:
    """Finds the lowest density in ``[lo, hi]`` whose ``evaluate(density) >= target``.

    Args:
        evaluate: ``density -> accuracy`` (host-side: e.g. an L-C run and a test evaluation).
        target: the accuracy bound, e.g. the dense accuracy minus 0.02.
        lo, hi: the density range, ``0 < lo < hi <= 1``.
        max_evals: the budget of ``evaluate`` calls (>= 2; Condensa uses 10).
        xtol: the resolution in ``log10(density)``: no two samples closer than this.
        beta: the straddle's width in standard deviations.
        noise: the GP's observation variance (accuracy is measured on a finite test set).
        grid_size: candidate densities (log-spaced).
        guard: the acquisition only looks at the middle ``1 - 2 guard`` of the bracket (the
            highest infeasible sample below the answer, the answer) in log-density, so every
            sample shrinks the bracket by at least ``guard`` (a safeguard like Brent's).
        progress: show a tqdm bar.

    Returns:
        A :class:`SearchResult`.
    """
    v.check_callable(evaluate, "evaluate")
    v.check_scalar(target, "target")
    v.check_scalar(lo, "lo", minimum=0.0, maximum=1.0, min_open=True)
    v.check_scalar(hi, "hi", minimum=0.0, maximum=1.0, min_open=True)
    if not lo < hi:
        raise ValueError(f"lo must be < hi; got lo={lo}, hi={hi}")
    max_evals = v.check_int(max_evals, "max_evals", minimum=2)
    v.check_positive(xtol, "xtol")
    v.check_positive(beta, "beta")
    v.check_positive(noise, "noise")
    grid_size = v.check_int(grid_size, "grid_size", minimum=10)
    v.check_scalar(guard, "guard", minimum=0.0, maximum=0.5, max_open=True)
    v.check_bool(progress, "progress")
    grid_u = np.linspace(np.log10(lo), np.log10(hi), grid_size)
    xs, ys = [], []
    bar = tqdm(total=max_evals, desc="density search", disable=not progress)

    def sample(x):
        acc = float(evaluate(float(x)))
        if not np.isfinite(acc):
            raise ValueError(f"evaluate must return a finite accuracy; got {acc} at density {x}")
        xs.append(float(x))
        ys.append(acc)
        bar.update(1)
        bar.set_postfix(density=f"{x:.4f}", acc=f"{acc:.4f}")

    sample(hi)
    if ys[0] >= target:
        sample(lo)
    while len(xs) < max_evals and ys[0] >= target:
        feasible = [x for x, y in zip(xs, ys, strict=True) if y >= target]
        u_best = np.log10(min(feasible))
        u = np.log10(np.asarray(xs))
        below = [np.log10(x) for x, y in zip(xs, ys, strict=True) if y < target and x < 10**u_best]
        u_low = max(below) if below else grid_u[0]
        width = u_best - u_low
        far = np.min(np.abs(grid_u[:, None] - u[None, :]), axis=1) >= xtol
        inner = (grid_u >= u_low + guard * width) & (grid_u <= u_best - guard * width)
        cand = far & inner
        if not cand.any():
            break
        mu, sd = _posterior(u, np.asarray(ys), grid_u, noise, max_evals)
        score = np.where(cand, beta * sd - np.abs(mu - target), -np.inf)
        sample(10 ** grid_u[int(np.argmax(score))])
    bar.close()
    xs_a, ys_a = np.asarray(xs), np.asarray(ys)
    mu, sd = _posterior(np.log10(xs_a), ys_a, grid_u, noise, max_evals)
    ok = ys_a >= target
    answer = float(xs_a[ok].min()) if ok.any() else float("nan")
    return SearchResult(answer, float(target), xs_a, ys_a, 10**grid_u, mu, sd)
