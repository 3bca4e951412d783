"""Shared pieces of the compression figures: data, the trained dense model, resumable runs.

Each (model, scheme, method) run is cached as one JSON record under ``workdir/ckpt/runs/``
(``experiments.harness.cached_record``) the moment it finishes, so a killed figure run started
again with the same workdir skips what is done (the runs are seconds each, so per-run resume is
the useful granularity here).
"""

import dataclasses
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from experiments.harness import cache_key, cached_record
from experiments.harness.config import require_at_least
from jaxml.compress.classify import fit, recover
from jaxml.data.digits import load_digits
from jaxml.models import evaluate, make_classifier


@dataclasses.dataclass(frozen=True)
class CompressionConfig:
    """The dense-training and L-C recovery settings the compression figures share (their
    ``Config`` subclasses this). Defaults are the quick scale; :data:`FULL` and :data:`TINY` are
    the shared parts of the other scales."""

    scale: str = "quick"
    seed: int = 0
    hidden: tuple[int, ...] = (128, 128)
    features: tuple[int, ...] = (16, 32)
    batch_size: int = 128
    dense_steps: int = 800
    dense_lr: float = 2e-3
    recover_steps: int = 500
    recover_lr: float = 1e-3
    l_steps: int = 25
    mu_init: float = 1e-3
    mu_growth: float = 1.5
    bound: float = 0.02

    def __post_init__(self):
        require_at_least(self, 1, "batch_size", "dense_steps", "recover_steps", "l_steps")
        if not 0 < self.bound < 1:
            raise ValueError(f"bound must lie in (0, 1); got {self.bound}")


FULL = {
    "hidden": (256, 256),
    "features": (32, 64),
    "dense_steps": 3000,
    "recover_steps": 2000,
    "l_steps": 50,
    "mu_growth": 1.22,
}
TINY = {"hidden": (16,), "dense_steps": 20, "recover_steps": 10, "l_steps": 5, "batch_size": 32}


class Trained(NamedTuple):
    model: object
    params: object
    x: jax.Array
    y: jax.Array
    x_val: jax.Array
    y_val: jax.Array
    x_test: jax.Array
    y_test: jax.Array
    eval_val: object
    eval_test: object


def train_dense(config, name: str) -> Trained:
    """Digits in ``name``'s layout, the model, and its dense training (``config.dense_steps``)."""
    data = load_digits(seed=config.seed, flatten=(name == "mlp"))
    model = make_classifier(
        name,
        num_classes=data.num_classes,
        input_shape=data.input_shape,
        hidden=config.hidden,
        features=config.features,
    )
    x, y = jnp.asarray(data.train.x), jnp.asarray(data.train.y)
    key = jax.random.key(config.seed)
    params = jax.jit(
        lambda k, x, y: fit(
            model.apply,
            model.init(k, x[:1]),
            x,
            y,
            optimizer=optax.adam(config.dense_lr),
            num_steps=config.dense_steps,
            batch_size=config.batch_size,
            key=jax.random.fold_in(k, 1),
        )
    )(key, x, y)
    ev = jax.jit(lambda p, a, b: evaluate(model.apply, p, a, b)["accuracy"])
    xv, yv = jnp.asarray(data.val.x), jnp.asarray(data.val.y)
    xt, yt = jnp.asarray(data.test.x), jnp.asarray(data.test.y)
    return Trained(
        model,
        params,
        x,
        y,
        xv,
        yv,
        xt,
        yt,
        lambda p: float(ev(p, xv, yv)),
        lambda p: float(ev(p, xt, yt)),
    )


def make_runner(config, t: Trained, make_scheme, method: str):
    """``runner(arg) -> (stored, aux, params_to_run)``: one recovery run of ``make_scheme(arg)``.

    Compiled once: ``arg`` (e.g. the density) is a traced argument, so a sweep or a search over
    it reuses the program.
    """

    @jax.jit
    def run(params, x, y, arg):
        scheme = make_scheme(arg)
        stored, aux = recover(
            scheme,
            t.model.apply,
            params,
            x,
            y,
            method=method,
            optimizer=optax.adam(config.recover_lr),
            num_steps=config.recover_steps,
            batch_size=config.batch_size,
            key=jax.random.key(config.seed + 7),
            l_steps=config.l_steps,
            mu_init=config.mu_init,
            mu_growth=config.mu_growth,
        )
        return stored, aux, scheme.decompress(stored, aux)

    # Params and data are arguments, not closed-over constants: XLA would constant-fold the
    # pruning sort of constant weights at compile time (tens of seconds).
    return lambda arg: run(t.params, t.x, t.y, arg)


def cached(workdir: Path, config, key: str, compute) -> dict:
    """``compute()``'s record, or the one saved by an earlier run of the same config."""
    stamp = cache_key(config={k: getattr(config, k) for k in config.__dataclass_fields__})
    return cached_record(workdir, f"runs/{key}", stamp, compute)
