"""Shared pieces of the compression figures: data, the trained dense model, resumable runs.

Each (model, scheme, method) run is cached as one JSON record under ``workdir/ckpt/runs/``
(``experiments.harness.cached_record``) the moment it finishes, so a killed figure run started
again with the same workdir skips what is done (the runs are seconds each, so per-run resume is
the useful granularity here).

The SmallCNN's training and recovery run as a Python loop over jitted chunks of
:data:`CNN_CHUNK` fully unrolled steps (:func:`jaxml.compress.classify.fit_steps`,
:func:`~jaxml.compress.classify.recover_steps`) instead of one compiled ``lax.scan``: inside an XLA
CPU loop its convolution gradients take a generic kernel, ~14 ms a step against ~1.7 ms for the
same step with no loop around it (a quick-scale recovery: ~7.5 s -> ~1 s CPU). The same steps,
batches and updates; the floats differ at rounding level (other conv kernels). The MLP keeps the
single scan (no convolution; its numbers stay bitwise what they were).
"""

import dataclasses
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from experiments.harness import cache_key, cached_record
from experiments.harness.config import require_at_least
from jaxml.compress.classify import (
    fit,
    fit_steps,
    recover,
    recover_init,
    recover_result,
    recover_steps,
)
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
CNN_CHUNK = 2  # steps per jitted, fully unrolled chunk of the CNN's training loops (see above)


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
    chunk: int | None  # steps per jitted unrolled chunk (None: one compiled scan)


def _chunks(total: int, size: int) -> list[int]:
    """``total`` steps as chunks of ``size`` (and one shorter remainder)."""
    return [size] * (total // size) + ([total % size] if total % size else [])


def _run_chunks(make, programs: dict, state, total: int, size: int, *args):
    """``state`` after ``total`` steps in :func:`_chunks` of ``size``: ``make(n)`` is the
    ``(state, *args) -> state`` function of ``n`` steps, jitted once per ``n`` into ``programs``."""
    for n in _chunks(total, size):
        if n not in programs:
            programs[n] = jax.jit(make(n))
        state = programs[n](state, *args)
    return state


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
    opt = optax.adam(config.dense_lr)
    chunk = CNN_CHUNK if name == "cnn" else None
    if chunk is None:
        params = jax.jit(
            lambda k, x, y: fit(
                model.apply,
                model.init(k, x[:1]),
                x,
                y,
                optimizer=opt,
                num_steps=config.dense_steps,
                batch_size=config.batch_size,
                key=jax.random.fold_in(k, 1),
            )
        )(key, x, y)
    else:

        def make(n):  # state: ((params, opt_state), steps done)
            def n_steps(state, k, x, y):
                (p, s), t0 = state
                out = fit_steps(
                    model.apply,
                    p,
                    s,
                    x,
                    y,
                    optimizer=opt,
                    num_steps=n,
                    batch_size=config.batch_size,
                    key=jax.random.fold_in(k, 1),
                    start_step=t0,
                    unroll=n,
                )
                return out, t0 + n

            return n_steps

        p0 = jax.jit(lambda k, x: model.init(k, x[:1]))(key, x)
        start = ((p0, opt.init(p0)), jnp.zeros((), jnp.int32))
        (params, _), _ = _run_chunks(make, {}, start, config.dense_steps, chunk, key, x, y)
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
        chunk,
    )


def make_runner(config, t: Trained, make_scheme, method: str):
    """``runner(arg) -> (stored, aux, params_to_run)``: one recovery run of ``make_scheme(arg)``.

    Compiled once: ``arg`` (e.g. the density) is a traced argument, so a sweep or a search over
    it reuses the program (with ``t.chunk``: the init, chunk and result programs).
    """

    common = {
        "method": method,
        "optimizer": optax.adam(config.recover_lr),
        "l_steps": config.l_steps,
        "mu_init": config.mu_init,
        "mu_growth": config.mu_growth,
    }
    train = {"batch_size": config.batch_size, "key": jax.random.key(config.seed + 7)}

    @jax.jit
    def run(params, x, y, arg):
        scheme = make_scheme(arg)
        stored, aux = recover(
            scheme, t.model.apply, params, x, y, num_steps=config.recover_steps, **common, **train
        )
        return stored, aux, scheme.decompress(stored, aux)

    # Params and data are arguments, not closed-over constants: XLA would constant-fold the
    # pruning sort of constant weights at compile time (tens of seconds).
    if t.chunk is None:
        return lambda arg: run(t.params, t.x, t.y, arg)

    init = jax.jit(lambda params, arg: recover_init(make_scheme(arg), params, **common))

    @jax.jit
    def finish(state, arg):
        scheme = make_scheme(arg)
        stored, aux = recover_result(scheme, state, method=method)
        return stored, aux, scheme.decompress(stored, aux)

    def make(n):
        return lambda s, x, y, a: recover_steps(
            make_scheme(a), t.model.apply, s, x, y, num_steps=n, unroll=n, **common, **train
        )

    programs = {}  # shared by every arg: one program per chunk length

    def runner(arg):
        state = init(t.params, arg)
        state = _run_chunks(make, programs, state, config.recover_steps, t.chunk, t.x, t.y, arg)
        return finish(state, arg)

    return runner


def cached(workdir: Path, config, key: str, compute) -> dict:
    """``compute()``'s record, or the one saved by an earlier run of the same config."""
    stamp = cache_key(config={k: getattr(config, k) for k in config.__dataclass_fields__})
    return cached_record(workdir, f"runs/{key}", stamp, compute)
