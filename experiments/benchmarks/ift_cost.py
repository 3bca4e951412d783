"""Cost of IFT hyperparameter optimization relative to plain training (Lorraine et al. 2020).

Both sides run the same inner loop (:func:`jaxml.train.optax_scan`), so the ratio isolates the
hyperstep. In one process, on the ANCHORS.md problem (digits, MLP 64-H-H-10 with one log weight
decay per weight, T = 10 inner SGD steps of batch 128 at lr 0.1, a 400-example validation set):

- time and XLA peak-memory estimate of one bilevel update (T inner steps + a 5-term Neumann
  hyperstep; also the CG variant) divided by those of T plain steps of the same inner loss;
- the unrolled-differentiation baseline (K inner steps differentiated through) for growing K.

    python -m experiments.benchmarks.ift_cost                 # H = 256 and 1024
    python -m experiments.benchmarks.ift_cost --hidden 256 --repeats 7

Writes results/benchmarks/ift_cost.json. Ratios are measured side by side in this process; the
absolute times depend on the machine (see ../shared/ANCHORS.md for peers measured on one like it).
"""

import dataclasses
import sys
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.harness import (
    compiled_memory_bytes,
    device_info,
    parse_config,
    time_calls,
    write_json_atomic,
)
from jaxml.data import load_digits
from jaxml.implicit import bilevel, chunked_mean, unrolled_hypergradient
from jaxml.implicit.hparams import init_log_decay, l2_penalty
from jaxml.models import MLP, cross_entropy
from jaxml.train import optax_scan


@dataclasses.dataclass(frozen=True)
class Config:
    scale: str = "quick"
    hidden: tuple[int, ...] = (256, 1024)
    inner_steps: int = 10
    batch_size: int = 128
    lr: float = 0.1
    num_terms: int = 5
    num_val: int = 400
    unrolled_k: tuple[int, ...] = (5, 10, 20, 40)
    val_chunk: int = 80  # the "neumann_chunked" variant evaluates the val loss in chunks
    calls: int = 5
    repeats: int = 5
    out: str = "results/benchmarks/ift_cost.json"
    SCALES: ClassVar[dict] = {
        "full": {"hidden": (256, 1024, 4096), "repeats": 7},
        "tiny": {
            "hidden": (16,),
            "unrolled_k": (2,),
            "calls": 1,
            "repeats": 1,
            "num_val": 40,
            "val_chunk": 20,
        },
    }


def _setup(config: Config, width: int):
    data = load_digits(seed=0)
    x, y = jnp.asarray(data.train.x), jnp.asarray(data.train.y)
    xv = jnp.asarray(np.concatenate([data.val.x, data.test.x])[: config.num_val])
    yv = jnp.asarray(np.concatenate([data.val.y, data.test.y])[: config.num_val])
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(y), size=(config.inner_steps, config.batch_size))
    batches = (x[idx], y[idx])
    model = MLP(hidden=(width, width), num_outputs=10)
    params = model.init(jax.random.key(0), x[:1])
    hparams = init_log_decay(params, decay=1e-4)

    def train_loss(p, h, xb, yb):
        return cross_entropy(model.apply(p, xb), yb) + l2_penalty(p, h)

    def val_loss(p, h, xb, yb):
        return cross_entropy(model.apply(p, xb), yb)

    return params, hparams, batches, (xv, yv), train_loss, val_loss


def measure(config: Config, width: int) -> dict:
    params, hparams, batches, val, train_loss, val_loss = _setup(config, width)
    inner = optax.sgd(config.lr)

    # Plain training: the same T inner steps (same loss, decays fixed, the same
    # jaxml.train.optax_scan loop bilevel runs), no hyperstep.
    def plain(state):
        loss = lambda q, *batch: train_loss(q, hparams, *batch)
        res = optax_scan(loss, inner, *state, batches=batches)
        return res.params, res.opt_state

    plain_jit = jax.jit(plain, donate_argnums=0)
    fresh = lambda: jax.tree.map(jnp.copy, (params, inner.init(params)))  # noqa: E731
    row = {"width": width, "num_params": int(sum(a.size for a in jax.tree.leaves(params)))}
    t_plain = time_calls(plain_jit, fresh(), calls=config.calls, repeats=config.repeats)
    m_plain = compiled_memory_bytes(plain_jit, fresh())
    row["plain_T_steps_ms"] = 1e3 * t_plain["seconds_per_call"]
    row["plain_memory"] = m_plain

    variants = {
        "neumann": ("neumann", val_loss),
        "cg": ("cg", val_loss),
        "neumann_chunked": ("neumann", chunked_mean(val_loss, config.val_chunk)),
    }
    for method, (solver, vloss) in variants.items():
        opt = bilevel(
            train_loss,
            vloss,
            inner,
            optax.adam(1e-2),
            method=solver,
            num_terms=config.num_terms,
            alpha=config.lr,
        )
        upd = jax.jit(lambda s, o=opt: o.update(s, batches, val)[0], donate_argnums=0)
        state = opt.init(params, hparams)
        t = time_calls(upd, state, calls=config.calls, repeats=config.repeats)
        mem = compiled_memory_bytes(upd, opt.init(params, hparams))
        row[f"bilevel_{method}_ms"] = 1e3 * t["seconds_per_call"]
        row[f"bilevel_{method}_time_ratio"] = row[f"bilevel_{method}_ms"] / row["plain_T_steps_ms"]
        row[f"bilevel_{method}_memory"] = mem
        if mem and m_plain:
            row[f"bilevel_{method}_peak_ratio"] = (
                mem["peak_estimate_bytes"] / m_plain["peak_estimate_bytes"]
            )
            row[f"bilevel_{method}_temp_ratio"] = mem["temp_bytes"] / max(m_plain["temp_bytes"], 1)

    unrolled = []
    for k in config.unrolled_k:
        kb = tuple(jnp.resize(b, (k, *b.shape[1:])) for b in batches)
        f = jax.jit(
            lambda p, h, kb=kb, k=k: unrolled_hypergradient(
                train_loss,
                val_loss,
                p,
                h,
                inner,
                k,
                train_args=kb,
                val_args=val,
                batched_train_args=True,
            )
        )
        t = time_calls(
            lambda c, f=f: (c[0], f(*c)),
            (params, hparams),
            calls=config.calls,
            repeats=config.repeats,
        )
        mem = compiled_memory_bytes(f, params, hparams)
        unrolled.append(
            {
                "K": k,
                "ms": 1e3 * t["seconds_per_call"],
                "temp_bytes": mem["temp_bytes"] if mem else None,
            }
        )
    row["unrolled"] = unrolled
    return row


def main(argv=None) -> dict:
    config, _ = parse_config(Config, argv, description=__doc__.splitlines()[0])
    rows = []
    for width in config.hidden:
        print(f"measuring H = {width} ...", flush=True)
        rows.append(measure(config, width))
    print(
        f"\n{'H':>6} {'params':>9} {'variant':>16} {'T plain ms':>11} {'update ms':>10} "
        f"{'time ratio':>10} {'peak mem ratio':>15} {'temp mem ratio':>15}"
    )
    for r in rows:
        for v in ("neumann", "cg", "neumann_chunked"):
            print(
                f"{r['width']:>6} {r['num_params']:>9,} {v:>16} {r['plain_T_steps_ms']:>11.2f} "
                f"{r[f'bilevel_{v}_ms']:>10.2f} {r[f'bilevel_{v}_time_ratio']:>10.2f} "
                f"{r.get(f'bilevel_{v}_peak_ratio', float('nan')):>15.2f} "
                f"{r.get(f'bilevel_{v}_temp_ratio', float('nan')):>15.2f}"
            )
        for u in r["unrolled"]:
            temp = u["temp_bytes"] / 2**20 if u["temp_bytes"] is not None else float("nan")
            print(f"        unrolled K={u['K']:>3}: {u['ms']:8.2f} ms, temp memory {temp:8.2f} MiB")
    out = {"config": dataclasses.asdict(config), "device": device_info(), "rows": rows}
    write_json_atomic(Path(config.out), out)
    print(f"\nwrote {config.out}")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
