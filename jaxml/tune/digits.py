"""The tuning problem of the comparison: an MLP on the 8x8 digits, per-layer hyperparameters.

Black-box jobs (:func:`mlp_job`) train the MLP with Adam for ``num_steps`` steps under a
per-layer learning rate ``lr_<layer>`` and a per-layer L2 decay ``wd_<layer>`` (the penalty
``1/2 sum_l wd_l |W_l|^2`` of :func:`jaxml.implicit.hparams.l2_penalty`), reporting the
validation cross-entropy every ``eval_every`` steps. The gradient-based twin (:func:`ift_job`)
starts from the same per-layer values but gives every weight its own decay and tunes them with
IFT hypergradients (:func:`jaxml.implicit.bilevel`: ``inner_steps`` Adam steps, then one
Neumann hyperstep), within the same ``num_steps`` inner steps. Both report to the same
:class:`~jaxml.tune.job.Reporter`, so their trials land in the database in the same format.

Training steps are the budget axis: a black-box trial spends ``num_steps``; an IFT trial spends
its inner steps plus ``2 * num_terms + 2`` step-equivalents per hyperstep (one validation and
one training gradient, and ``num_terms`` Hessian-vector products at ~2 gradients each).

Host-side jobs: they jit their own chunk of steps once per process (cached by shape), so every
trial after the first runs compiled code.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml import _validation as chk
from jaxml.data.digits import load_digits
from jaxml.implicit import bilevel
from jaxml.implicit.hparams import l2_penalty
from jaxml.models import MLP, cross_entropy, evaluate
from jaxml.train import batch_sampler, optax_scan, scan_steps
from jaxml.tune.job import Reporter
from jaxml.tune.space import Param
from jaxml.tune.spec import TuneSpec


def layer_names(hidden: tuple[int, ...]) -> tuple[str, ...]:
    """``("dense_0", ..., "head")``: the MLP's layers, each with its own hyperparameters."""
    return tuple(f"dense_{i}" for i in range(len(hidden))) + ("head",)


def digits_space(
    hidden: tuple[int, ...] = (32,),
    *,
    lr_range: tuple[float, float] = (1e-3, 0.3),
    wd_range: tuple[float, float] = (1e-6, 0.1),
) -> tuple[Param, ...]:
    """``lr_<layer>`` and ``wd_<layer>`` for each layer, both on a log scale."""
    hidden = _check_hidden(hidden)
    out = []
    for name in layer_names(hidden):
        out.append(Param(f"lr_{name}", "float", low=lr_range[0], high=lr_range[1], log=True))
        out.append(Param(f"wd_{name}", "float", low=wd_range[0], high=wd_range[1], log=True))
    return tuple(out)


def _check_hidden(hidden: Any) -> tuple[int, ...]:
    if isinstance(hidden, str) or not hasattr(hidden, "__iter__"):
        raise TypeError(f"hidden must be a sequence of ints; got {hidden!r}")
    hidden = tuple(hidden)
    for h in hidden:
        chk.check_int(h, "hidden", minimum=1)
    return hidden


class _Problem(NamedTuple):
    model: MLP
    params0: Any
    train: tuple[jax.Array, jax.Array]
    val: tuple[jax.Array, jax.Array]
    test: tuple[jax.Array, jax.Array]
    key: jax.Array


@functools.lru_cache(maxsize=8)
def _compiled(hidden: tuple[int, ...]):
    """The model and its jitted init/evaluate, shared by every seed (compiled once per shape)."""
    model = MLP(hidden=hidden, num_outputs=10)
    init = jax.jit(model.init)
    ev = jax.jit(lambda p, x, y: evaluate(model.apply, p, x, y))
    return model, init, ev


@functools.lru_cache(maxsize=16)
def _problem(hidden: tuple[int, ...], seed: int, num_train: int | None) -> _Problem:
    data = load_digits(seed=seed)
    model, init, _ = _compiled(hidden)
    split = lambda s, n=None: (jnp.asarray(s.x[:n]), jnp.asarray(s.y[:n]))  # noqa: E731
    if num_train is not None and num_train > data.train.num_examples:
        raise ValueError(
            f"num_train must be <= {data.train.num_examples} (the digits training split); "
            f"got {num_train}"
        )
    train = split(data.train, num_train)
    params0 = init(jax.random.key(seed), train[0][:1])
    return _Problem(
        model, params0, train, split(data.val), split(data.test), jax.random.key(seed + 1)
    )


def _evaluate(hidden, params, xy) -> dict:
    return _compiled(hidden)[2](params, *xy)


def _layer_tree(params: Any, config: dict, prefix: str, transform=lambda v: v) -> Any:
    """A tree like ``params`` whose leaves under layer L are ``transform(config[prefix + L])``."""
    inner = params["params"]
    missing = [f"{prefix}{name}" for name in inner if f"{prefix}{name}" not in config]
    if missing:
        raise ValueError(f"config is missing {missing} (see jaxml.tune.digits.digits_space)")
    return {
        "params": {
            name: jax.tree.map(
                lambda leaf, n=name: jnp.full(
                    (), transform(float(config[f"{prefix}{n}"])), leaf.dtype
                ),
                layer,
            )
            for name, layer in inner.items()
        }
    }


def _per_leaf_sgd(lrs: Any) -> optax.GradientTransformation:
    """Adam directions scaled by each leaf's own learning rate (a traced tree is fine)."""
    return optax.chain(
        optax.scale_by_adam(),
        optax.stateless(lambda updates, _: jax.tree.map(lambda u, lr: -lr * u, updates, lrs)),
    )


@functools.lru_cache(maxsize=8)
def _train_chunk(hidden: tuple[int, ...], num_train: int, batch_size: int, chunk: int):
    model = _compiled(hidden)[0]
    sampler = batch_sampler(num_train, batch_size, rule="epoch")

    def loss_fn(p, log_wd, xb, yb):
        return cross_entropy(model.apply(p, xb), yb) + l2_penalty(p, log_wd)

    def run(params, opt_state, lrs, log_wd, start, x, y, key):
        res = optax_scan(
            lambda p, xb, yb: loss_fn(p, log_wd, xb, yb),
            _per_leaf_sgd(lrs),
            params,
            opt_state,
            batch_fn=lambda t: (x[sampler(key, t)], y[sampler(key, t)]),
            num_steps=chunk,
            start_step=start,
        )
        return res.params, res.opt_state

    return jax.jit(run)


class _Run(NamedTuple):
    """What both jobs start from: the checked budget, the problem and the config as trees."""

    hidden: tuple[int, ...]
    num_steps: int
    eval_every: int
    batch_size: int
    prob: _Problem
    lrs: Any  # per-leaf learning rates (scalars), like params
    log_wd: Any  # per-leaf log decays (scalars), like params


def _start(
    config: dict,
    *,
    hidden: tuple[int, ...] = (32,),
    num_steps: int = 300,
    eval_every: int = 50,
    batch_size: int = 64,
    seed: int = 0,
    num_train: int | None = None,
) -> _Run:
    """The keyword arguments shared by :func:`mlp_job` and :func:`ift_job` (one signature).

    Args:
        config: ``lr_<layer>`` and ``wd_<layer>`` for every layer (:func:`digits_space`).
        hidden: hidden widths; num_steps: Adam steps (a multiple of ``eval_every``);
        eval_every: steps between validation reports; batch_size; seed: data split and init.
        num_train: keep only the first ``num_train`` training examples (a small training set
            is where the decays matter).
    """
    hidden = _check_hidden(hidden)
    num_steps = chk.check_int(num_steps, "num_steps", minimum=1)
    eval_every = chk.check_int(eval_every, "eval_every", minimum=1)
    if num_steps % eval_every:
        raise ValueError(f"num_steps must be a multiple of eval_every; got {num_steps}")
    chk.check_int(batch_size, "batch_size", minimum=1)
    chk.check_int(seed, "seed", minimum=0)
    if num_train is not None:
        chk.check_int(num_train, "num_train", minimum=batch_size)
    prob = _problem(hidden, seed, num_train)
    lrs = _layer_tree(prob.params0, config, "lr_")
    log_wd = _layer_tree(prob.params0, config, "wd_", np.log)
    return _Run(hidden, num_steps, eval_every, batch_size, prob, lrs, log_wd)


def _finish(hidden, prob: _Problem, params, reporter: Reporter) -> float:
    val = _evaluate(hidden, params, prob.val)
    test = _evaluate(hidden, params, prob.test)
    reporter.set("val_accuracy", float(val["accuracy"]))
    reporter.set("test_accuracy", float(test["accuracy"]))
    reporter.set("test_loss", float(test["loss"]))
    return float(val["loss"])


def mlp_job(config: dict, reporter: Reporter, **job: Any) -> float:
    """Trains the MLP under ``config``'s per-layer lr/decay; returns the validation loss.

    Args:
        config: ``lr_<layer>`` and ``wd_<layer>`` for every layer (:func:`digits_space`).
        reporter: receives the validation loss every ``eval_every`` steps.
        **job: ``hidden, num_steps, eval_every, batch_size, seed, num_train`` (see
            :func:`_start`; :data:`DIGITS_SCALES` holds them per scale).
    """
    run = _start(config, **job)
    hidden, prob, every = run.hidden, run.prob, run.eval_every
    params = prob.params0
    opt_state = _per_leaf_sgd(run.lrs).init(params)
    chunk = _train_chunk(hidden, prob.train[0].shape[0], run.batch_size, every)
    for start in range(0, run.num_steps, every):
        params, opt_state = chunk(
            params, opt_state, run.lrs, run.log_wd, start, *prob.train, prob.key
        )
        reporter.add_steps(every)
        val_loss = float(_evaluate(hidden, params, prob.val)["loss"])
        reporter.report(val_loss, start + every)
    return _finish(hidden, prob, params, reporter)


def ift_step_cost(num_terms: int) -> int:
    """Step-equivalents of one hypergradient: 2 gradients + ``num_terms`` HVPs (2 each)."""
    return 2 * num_terms + 2


@functools.lru_cache(maxsize=8)
def _ift_chunk(hidden, num_train, batch_size, inner_steps, hypersteps, outer_lr, num_terms, alpha):
    model = _compiled(hidden)[0]
    sampler = batch_sampler(num_train, batch_size, rule="epoch")

    def train_loss(p, h, xb, yb):
        return cross_entropy(model.apply(p, xb), yb) + l2_penalty(p, h)

    def val_loss(p, h, xv, yv):
        return cross_entropy(model.apply(p, xv), yv)

    def solver(lrs):
        return bilevel(
            train_loss,
            val_loss,
            _per_leaf_sgd(lrs),
            optax.adam(outer_lr),
            method="neumann",
            num_terms=num_terms,
            alpha=alpha,
        )

    def run(state, lrs, start_hyperstep, x, y, xv, yv, key):
        opt = solver(lrs)

        def step(s, t):
            steps = t * inner_steps + jnp.arange(inner_steps)
            idx = jax.vmap(lambda i: sampler(key, i))(steps)
            return opt.update(s, (x[idx], y[idx]), (xv, yv))

        return scan_steps(step, state, num_steps=hypersteps, start_step=start_hyperstep)

    return solver, jax.jit(run)


def ift_job(
    config: dict,
    reporter: Reporter,
    *,
    inner_steps: int = 10,
    outer_lr: float = 0.1,
    num_terms: int = 5,
    neumann_alpha: float = 0.05,
    **job: Any,
) -> float:
    """Bilevel training with one decay per weight, started at ``config``'s per-layer values.

    The learning rates stay as proposed; the decays (log space, one per weight) follow the IFT
    hypergradient of the validation loss (Lorraine et al. 2020, Algorithm 1). Reports the
    validation loss every ``eval_every`` inner steps and counts inner steps plus
    :func:`ift_step_cost` per hyperstep. Records the number of hyperparameters and of refused
    (diverged) hypersteps. ``**job`` are :func:`mlp_job`'s arguments (see :func:`_start`).
    """
    run = _start(config, **job)
    inner_steps = chk.check_int(inner_steps, "inner_steps", minimum=1)
    if run.eval_every % inner_steps:
        raise ValueError(f"eval_every must be a multiple of inner_steps; got {run.eval_every}")
    chk.check_positive(outer_lr, "outer_lr")
    chk.check_int(num_terms, "num_terms", minimum=1)
    chk.check_positive(neumann_alpha, "neumann_alpha")
    prob, params = run.prob, run.prob.params0
    log_wd = jax.tree.map(lambda p, v: jnp.full(p.shape, v, p.dtype), params, run.log_wd)
    per_chunk = run.eval_every // inner_steps
    solver, chunk = _ift_chunk(
        run.hidden,
        prob.train[0].shape[0],
        run.batch_size,
        inner_steps,
        per_chunk,
        float(outer_lr),
        num_terms,
        float(neumann_alpha),
    )
    state = solver(run.lrs).init(params, log_wd)
    for k in range(run.num_steps // run.eval_every):
        state, info = chunk(state, run.lrs, k * per_chunk, *prob.train, *prob.val, prob.key)
        reporter.add_steps(run.eval_every + per_chunk * ift_step_cost(num_terms))
        reporter.report(float(info["val_loss"][-1]), (k + 1) * run.eval_every)
    reporter.set("num_hparams", int(sum(h.size for h in jax.tree.leaves(state.hparams))))
    reporter.set("skipped_hypersteps", int(state.num_skipped))
    reporter.set(
        "mean_log_decay",
        float(np.mean(np.concatenate([np.ravel(h) for h in jax.tree.leaves(state.hparams)]))),
    )
    return _finish(run.hidden, prob, state.params, reporter)


#: Job sizes of the digits problem per scale. "tiny": a smoke run (~10 ms a job); "small": the
#: proposer-comparison figures' job (~50 ms of CPU: they run ~100 jobs within the reproduce
#: budget); "quick": the CLI's default, a realistic short job (~0.8 s of CPU: 4,000 steps of a
#: 128-unit MLP), the job size at which the orchestration overhead target (<= 5%) is measured;
#: "full": the paper-sized job.
DIGITS_SCALES = {
    "tiny": {
        "hidden": [8],
        "num_steps": 20,
        "eval_every": 10,
        "batch_size": 32,
        "num_train": 200,
    },
    "small": {
        "hidden": [32],
        "num_steps": 300,
        "eval_every": 50,
        "batch_size": 64,
        "num_train": 200,
    },
    "quick": {
        "hidden": [128],
        "num_steps": 4000,
        "eval_every": 500,
        "batch_size": 64,
        "num_train": 400,
    },
    "full": {
        "hidden": [128, 128],
        "num_steps": 2000,
        "eval_every": 100,
        "batch_size": 64,
        "num_train": 400,
    },
}
#: Extra arguments of :func:`ift_job` per scale.
IFT_SCALES = {
    "tiny": {"inner_steps": 5, "outer_lr": 0.3, "num_terms": 3},
    "small": {"inner_steps": 10, "outer_lr": 0.3, "num_terms": 5},
    "quick": {"inner_steps": 10, "outer_lr": 0.3, "num_terms": 5},
    "full": {"inner_steps": 10, "outer_lr": 0.3, "num_terms": 5},
}


def digits_spec(
    proposer: str,
    n_trials: int,
    workdir: str,
    *,
    scale: str = "quick",
    seed: int = 0,
    **spec_fields: Any,
) -> TuneSpec:
    """The :class:`~jaxml.tune.spec.TuneSpec` of the digits problem at ``scale``.

    ``seed`` sets both the data split / initialization and the sampler's seed; ``spec_fields``
    (``n_parallel``, ``storage``, ``study_name``, ``retries``...) go to the spec. For "ift" the
    spec's ``ift_job`` is :func:`ift_job` and its job arguments add :data:`IFT_SCALES`.
    """
    chk.check_choice(scale, "scale", tuple(DIGITS_SCALES))
    kwargs = {**DIGITS_SCALES[scale], "seed": seed}
    if proposer == "ift":
        kwargs.update(IFT_SCALES[scale])
    return TuneSpec(
        proposer=proposer,
        n_trials=n_trials,
        params=digits_space(tuple(kwargs["hidden"])),
        job=f"{__name__}:mlp_job",
        ift_job=f"{__name__}:ift_job",
        workdir=workdir,
        job_kwargs=kwargs,
        seed=seed,
        max_resource=kwargs["num_steps"],
        min_resource=kwargs["eval_every"],
        **{"n_startup_trials": max(2, n_trials // 4), **spec_fields},
    )
