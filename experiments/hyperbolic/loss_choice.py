"""Which loss trains the deep registration: alternating plan/map steps or the Sinkhorn divergence.

Not a figure (no verdict): the measurement behind ``DeepRegistration.loss``'s default
(docs/hyperbolic.md, "Loss choice"). On the same problems and from the same isometric-HOT
solution, deep HOT is trained with ``deep_loss="alternating"`` and ``deep_loss="divergence"``
(the same ``deep_outer`` x ``deep_inner`` map steps, the same restarts) and scored by P@1 / P@10,
seconds and process CPU seconds per alignment. Problems: synthetic random trees (two independent
Poincare embeddings, ``--tree-size`` nodes) and WordNet 3.0 vs 3.3 mammals with 0% of the
relations removed, ``--seeds`` each. The first seed of each problem includes compilation (reported
separately as ``first_seconds``); the other seeds reuse the compiled programs.

    python -m experiments.hyperbolic.loss_choice --workdir results/hyperbolic/loss_choice
"""

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

from experiments.harness import write_json_atomic
from jaxml.hyperbolic import (
    align,
    match_by_lemmas,
    permute_hierarchy,
    precision_at_k,
    synthetic_hierarchy,
    train_poincare_embeddings,
    true_match_from_permutation,
    wordnet_hierarchy,
)
from jaxml.hyperbolic.registration import LOSSES
from jaxml.train import seed_keys

# The fast Poincare schedule (poincare_embeddings quick scale; issue 18).
EMBED = dict(num_epochs=200, burn_in_epochs=10, batch_size=32, learning_rate=10.0, num_negatives=20)


def _embed(h, dim, seeds):
    return np.asarray(
        train_poincare_embeddings(
            h.edges, h.num_nodes, dim, seed_keys(seeds), lr_decay="linear", **EMBED
        )
    )


def _problems(args):
    for seed in args.seeds:
        tree = synthetic_hierarchy(seed, num_nodes=args.tree_size)
        emb = _embed(tree, args.dim, [2 * seed, 2 * seed + 1])
        perm = np.random.default_rng(seed).permutation(args.tree_size)
        y = np.empty_like(emb[1])
        y[perm] = emb[1]
        yield f"synthetic n={args.tree_size}", seed, emb[0], y, true_match_from_permutation(perm)
    source = wordnet_hierarchy("mammal.n.01", version="3.0")
    target, _ = permute_hierarchy(wordnet_hierarchy("mammal.n.01", version="3.3"), 1)
    truth = match_by_lemmas(source.lemmas, target.lemmas)
    xs = _embed(source, args.dim, [2 * s for s in args.seeds])
    ys = _embed(target, args.dim, [2 * s + 1 for s in args.seeds])
    for i, seed in enumerate(args.seeds):
        yield "wordnet mammals 0%", seed, xs[i], ys[i], truth


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("results/hyperbolic/loss_choice"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tree-size", type=int, default=100)
    parser.add_argument("--dim", type=int, default=5)
    parser.add_argument("--restarts", type=int, default=2)
    parser.add_argument("--deep-outer", type=int, default=5)
    parser.add_argument("--deep-inner", type=int, default=20)
    args = parser.parse_args(argv)
    rows = []
    for problem, seed, x, y, truth in _problems(args):
        key = jax.random.key(seed)
        iso = align(x, y, key=key, num_restarts=8, num_iters=20)
        for loss in LOSSES:
            w0, c0 = time.perf_counter(), time.process_time()
            res = align(
                x,
                y,
                key=key,
                registration="mlp",
                init=iso,
                num_restarts=args.restarts,
                deep_outer=args.deep_outer,
                deep_inner=args.deep_inner,
                deep_loss=loss,
            )
            jax.block_until_ready(res.log_plan)
            row = dict(
                problem=problem,
                seed=seed,
                loss=loss,
                seconds=time.perf_counter() - w0,
                cpu_seconds=time.process_time() - c0,
                cost=float(res.cost),
                **{f"p_at_{k}": float(precision_at_k(res.log_plan, truth, k)) for k in (1, 10)},
            )
            rows.append(row)
            print(json.dumps(row), flush=True)
    table = {}
    for problem in dict.fromkeys(r["problem"] for r in rows):
        for loss in LOSSES:
            sel = [r for r in rows if r["problem"] == problem and r["loss"] == loss]
            table[f"{problem} / {loss}"] = {
                "p_at_1": [r["p_at_1"] for r in sel],
                "p_at_10": [r["p_at_10"] for r in sel],
                "first_seconds": sel[0]["seconds"],
                "seconds_after_compile": [r["seconds"] for r in sel[1:]],
                "cpu_seconds_after_compile": [r["cpu_seconds"] for r in sel[1:]],
            }
    args.workdir.mkdir(parents=True, exist_ok=True)
    out = {"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows, "table": table}
    write_json_atomic(args.workdir / "loss_choice.json", out)
    print("| problem / loss | P@1 per seed | P@10 per seed | s (compiled) | CPU s (compiled) |")
    print("|---|---|---|---|---|")
    for name, t in table.items():
        fmt = lambda v: " ".join(f"{a:.3f}" for a in v)  # noqa: E731
        print(
            f"| {name} | {fmt(t['p_at_1'])} | {fmt(t['p_at_10'])} | "
            f"{np.mean(t['seconds_after_compile']):.1f} | "
            f"{np.mean(t['cpu_seconds_after_compile']):.1f} |"
        )
    return out


if __name__ == "__main__":
    main()
