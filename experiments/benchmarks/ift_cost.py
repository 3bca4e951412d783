"""Cost of IFT hyperparameter optimization relative to plain training (Lorraine et al. 2020).

Both sides run the same inner loop (:func:`jaxml.train.optax_scan`), so the ratio isolates the
hyperstep. In one process, on the ANCHORS.md problem (digits, MLP 64-H-H-10 with one log weight
decay per weight, T = 10 inner SGD steps of batch 128 at lr 0.1, a 400-example validation set):

- time and XLA peak-memory estimate of one bilevel update (T inner steps + a 5-term Neumann
  hyperstep; also the CG variant) divided by those of T plain steps of the same inner loss;
- the unrolled-differentiation baseline (K inner steps differentiated through) for growing K;
- the three ways of forming Hessian-vector products (``hvp_mode``: linearize once, a JVP of the
  gradient per product, reverse over reverse) and the same bilevel update on a hand-written
  plain-function MLP loss (no flax), so the flax-model path can be compared with it;
- a roofline for every program (jaxml.perf): the matmul FLOP/s and copy bandwidth measured in
  this process in the same interleaved rounds, each program's FLOPs and bytes from XLA's cost
  analysis with scan bodies multiplied by their trip counts, the achieved fraction of peak and
  the bound.

All programs are timed interleaved (one call chain of each per round). Times and ratios are
medians over rounds; the rooflines and the "(fastest)" ratios use each program's fastest round.

    python -m experiments.benchmarks.ift_cost                 # H = 256 and 1024
    python -m experiments.benchmarks.ift_cost --hidden 256 --repeats 7
    python -m experiments.benchmarks.ift_cost --inner_steps 30

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
from jaxml.implicit import HVP_MODES, bilevel, chunked_mean, unrolled_hypergradient
from jaxml.implicit.hparams import init_log_decay, l2_penalty
from jaxml.models import MLP, cross_entropy
from jaxml.perf import (
    format_roofline,
    interleaved_times,
    peak_programs,
    peaks_from_times,
    program_cost,
    roofline,
)
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
    calls: int = 3
    repeats: int = 5
    matmul_n: int = 2048
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
            "matmul_n": 256,
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

    # The same network and losses written as plain functions (no flax, no checks): the
    # "plain-function path" the flax-model path is compared with.
    def apply_fn(p, xb):
        layers = p["params"]
        for name in ("dense_0", "dense_1"):
            xb = jax.nn.relu(xb @ layers[name]["kernel"] + layers[name]["bias"])
        return xb @ layers["head"]["kernel"] + layers["head"]["bias"]

    def ce(logits, yb):
        return jnp.mean(
            jax.nn.logsumexp(logits, -1) - jnp.take_along_axis(logits, yb[:, None], 1)[:, 0]
        )

    def train_fn(p, h, xb, yb):
        pairs = zip(jax.tree.leaves(p), jax.tree.leaves(h), strict=True)
        decay = sum(jnp.sum(jnp.exp(d) * w * w) for w, d in pairs)
        return ce(apply_fn(p, xb), yb) + 0.5 * decay

    def val_fn(p, h, xb, yb):
        return ce(apply_fn(p, xb), yb)

    losses = {"flax": (train_loss, val_loss), "plain_fn": (train_fn, val_fn)}
    return params, hparams, batches, (xv, yv), losses


def measure(config: Config, width: int) -> dict:
    params, hparams, batches, val, losses = _setup(config, width)
    inner = optax.sgd(config.lr)
    fresh = lambda: jax.tree.map(jnp.copy, (params, inner.init(params)))  # noqa: E731
    row = {"width": width, "num_params": int(sum(a.size for a in jax.tree.leaves(params)))}

    # Plain training: the same T inner steps (same loss, decays fixed, the same
    # jaxml.train.optax_scan loop bilevel runs), no hyperstep; flax and plain-function losses.
    def make_plain(train_loss):
        def plain(state):
            loss = lambda q, *batch: train_loss(q, hparams, *batch)  # noqa: E731
            res = optax_scan(loss, inner, *state, batches=batches)
            return res.params, res.opt_state

        return jax.jit(plain, donate_argnums=0)

    programs, args = {}, {}
    for path, (tl, _) in losses.items():
        name = "plain" if path == "flax" else f"plain_{path}"
        programs[name] = (make_plain(tl), fresh())
        args[name] = fresh()

    # (name, loss path, solver, hvp mode, chunked validation loss)
    variants = [(f"neumann_{m}", "flax", "neumann", m, False) for m in HVP_MODES]
    variants += [
        ("neumann_plain_fn", "plain_fn", "neumann", "linearize", False),
        ("cg", "flax", "cg", "linearize", False),
        ("neumann_chunked", "flax", "neumann", "linearize", True),
    ]
    for name, path, solver, mode, chunked in variants:
        tl, vl = losses[path]
        opt = bilevel(
            tl,
            chunked_mean(vl, config.val_chunk) if chunked else vl,
            inner,
            optax.adam(1e-2),
            method=solver,
            num_terms=config.num_terms,
            alpha=config.lr,
            hvp_mode=mode,
        )
        upd = jax.jit(lambda s, o=opt: o.update(s, batches, val)[0], donate_argnums=0)
        programs[f"bilevel_{name}"] = (upd, opt.init(params, hparams))
        args[f"bilevel_{name}"] = opt.init(params, hparams)

    # The matmul and copy peaks run in the same rounds; rooflines use the fastest round of each
    # program and of the peaks (the least disturbed by other jobs on a shared machine).
    copy_mib = 64 if config.scale == "tiny" else 256
    programs.update(peak_programs(config.matmul_n, copy_mib))
    times = interleaved_times(programs, calls=config.calls, repeats=config.repeats)
    peaks = peaks_from_times(times, config.matmul_n, copy_mib)
    row["peaks"] = peaks._asdict()
    print(
        f"  machine: matmul {peaks.matmul_flops_per_s / 1e9:.1f} GFLOP/s (n = {peaks.matmul_n}), "
        f"copy {peaks.copy_bytes_per_s / 1e9:.2f} GB/s (fastest interleaved rounds)",
        flush=True,
    )
    for name in [n for n in programs if n.startswith("peak_")]:
        del programs[name]
    for name, (fn, _) in programs.items():
        t = times[name]["min_seconds_per_call"]
        cost = program_cost(fn, args[name])
        rl = roofline(cost, t, peaks)
        mem = compiled_memory_bytes(fn, args[name])
        row[name] = {
            "ms": 1e3 * times[name]["seconds_per_call"],
            "min_ms": 1e3 * t,
            "flops": cost.flops,
            "bytes": cost.bytes_accessed,
            "matmul_flops_analytic": cost.matmul_flops,
            "xla_flops_once": cost.xla_flops_once,
            "roofline": rl.as_dict(),
            "memory": mem,
        }
        print("  " + format_roofline(f"H={width} {name}", rl), flush=True)
    base = {"plain": row["plain"], "plain_fn": row["plain_plain_fn"]}
    for name in programs:
        if name.startswith("bilevel_"):
            ref = base["plain_fn" if name.endswith("plain_fn") else "plain"]
            row[name]["time_ratio"] = row[name]["ms"] / ref["ms"]
            row[name]["time_ratio_min"] = row[name]["min_ms"] / ref["min_ms"]
            m, mp = row[name]["memory"], ref["memory"]
            if m and mp:
                row[name]["peak_ratio"] = m["peak_estimate_bytes"] / mp["peak_estimate_bytes"]
                row[name]["temp_ratio"] = m["temp_bytes"] / max(mp["temp_bytes"], 1)
    row["plain_T_steps_ms"] = row["plain"]["ms"]
    modes = {m: row[f"bilevel_neumann_{m}"]["ms"] for m in HVP_MODES}
    row["fastest_hvp_mode"] = min(modes, key=modes.get)
    row["flax_over_plain_fn_update"] = (
        row["bilevel_neumann_linearize"]["ms"] / row["bilevel_neumann_plain_fn"]["ms"]
    )
    train_loss, val_loss = losses["flax"]

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
        f"\n{'H':>6} {'params':>9} {'variant':>26} {'ms':>9} {'time ratio':>10} {'(fastest)':>9} "
        f"{'peak mem ratio':>14} {'% matmul peak':>13} {'bound':>8}"
    )
    for r in rows:
        for name, v in r.items():
            if not name.startswith("bilevel_"):
                continue
            print(
                f"{r['width']:>6} {r['num_params']:>9,} {name[8:]:>26} {v['ms']:>9.2f} "
                f"{v['time_ratio']:>10.2f} {v['time_ratio_min']:>9.2f} "
                f"{v.get('peak_ratio', float('nan')):>14.2f} "
                f"{100 * v['roofline']['flop_fraction']:>13.1f} {v['roofline']['bound']:>8}"
            )
        print(
            f"        plain T steps {r['plain_T_steps_ms']:.2f} ms; fastest HVP mode "
            f"{r['fastest_hvp_mode']}; flax / plain-function update "
            f"{r['flax_over_plain_fn_update']:.2f}"
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
