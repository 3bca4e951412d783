"""Compressing a classifier end to end: dense training, then direct or L-C accuracy recovery.

The figures and benchmarks share these two drivers; both are pure and jit-safe (jit them at the
call site, e.g. ``jax.jit(lambda p: recover(scheme, model.apply, p, x, y, ...))``).
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxml import _validation as v
from jaxml._validation import PyTree
from jaxml.compress.lc import lc, lc_theta
from jaxml.compress.recovery import direct
from jaxml.models import cross_entropy
from jaxml.train import batch_sampler, optax_scan

__all__ = ["METHODS", "fit", "recover"]

METHODS = ("none", "direct", "lc")


def _batch_fn(x, y, batch_size: int, key):
    n = v.check_same_size({"x rows": x.shape[0], "y length": y.shape[0]})
    sampler = batch_sampler(n, v.check_int(batch_size, "batch_size", minimum=1, maximum=n))

    def batch(t):
        idx = sampler(key, t)
        return jnp.take(x, idx, axis=0), jnp.take(y, idx, axis=0)

    return batch


def _loss(apply_fn):
    return lambda p, xb, yb: cross_entropy(apply_fn(p, xb), yb)


def fit(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    params: PyTree,
    x: jax.Array,
    y: jax.Array,
    *,
    optimizer: optax.GradientTransformation,
    num_steps: int,
    batch_size: int,
    key: jax.Array,
) -> PyTree:
    """``num_steps`` of ``optimizer`` on the cross-entropy of ``apply_fn`` over epoch batches.

    Args:
        apply_fn: ``apply_fn(params, x) -> logits [n, c]``.
        params: the starting parameters.
        x, y: ``[n, ...]`` inputs and ``[n]`` int labels.
    """
    v.check_callable(apply_fn, "apply_fn")
    v.check_optimizer(optimizer)
    v.check_key(key)
    num_steps = v.check_int(num_steps, "num_steps", minimum=1)
    batch = _batch_fn(x, y, batch_size, key)
    out = optax_scan(
        _loss(apply_fn),
        optimizer,
        params,
        optimizer.init(params),
        batch_fn=batch,
        num_steps=num_steps,
    )
    return out.params


def recover(
    scheme: Any,
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    params: PyTree,
    x: jax.Array,
    y: jax.Array,
    *,
    method: str,
    optimizer: optax.GradientTransformation,
    num_steps: int,
    batch_size: int,
    key: jax.Array,
    l_steps: int = 50,
    mu_init: float = 1e-3,
    mu_growth: float = 1.1,
) -> tuple[PyTree, Any]:
    """Compresses a trained classifier with ``scheme`` and recovers its accuracy.

    Args:
        scheme: a compression scheme.
        method: "none" (compress only), "direct" (:func:`jaxml.compress.direct`: fine-tune
            ``num_steps`` with the masks held, re-compress) or "lc" (``num_steps`` of
            :func:`jaxml.compress.lc` with ``l_steps``, ``mu_init``, ``mu_growth``, then compress
            the final ``theta``).
        optimizer, num_steps, batch_size, key: the training run (same budget for both methods).

    Returns:
        ``(stored, aux)``: ``scheme.decompress(stored, aux)`` are the params to evaluate.
    """
    v.check_choice(method, "method", METHODS)
    v.check_callable(apply_fn, "apply_fn")
    v.check_optimizer(optimizer)
    v.check_key(key)
    num_steps = v.check_int(num_steps, "num_steps", minimum=1)
    if method == "none":
        return scheme.compress(params)
    batch = _batch_fn(x, y, batch_size, key)
    if method == "direct":
        return direct(
            scheme, _loss(apply_fn), optimizer, params, batch_fn=batch, num_steps=num_steps
        )
    opt = lc(scheme, optimizer, l_steps=l_steps, mu_init=mu_init, mu_growth=mu_growth)
    out = optax_scan(
        _loss(apply_fn), opt, params, opt.init(params), batch_fn=batch, num_steps=num_steps
    )
    return scheme.compress(lc_theta(out.opt_state))
