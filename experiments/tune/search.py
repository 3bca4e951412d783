"""Tune the digits MLP with one proposer into an Optuna database (the Auptimizer CLI).

    python -m experiments.tune.search --proposer tpe --n-trials 20 --n-parallel 2 \
        --storage sqlite:///runs/tune/tune.db --study tpe-0 --workdir runs/tune --scale quick

Black-box proposers (random, grid, tpe, hyperband, cmaes) tune a learning rate and an L2 decay
per layer; ``ift`` starts from random per-layer values and tunes one decay per weight by
hypergradients. Every trial (config, status, intermediate validation losses, score, wall time,
training steps) is stored in ``--storage`` (default ``sqlite:///<workdir>/tune.db``); run the
same command again after a crash to resume, or on another machine with a PostgreSQL URL to add
workers. ``--spec FILE`` runs any JSON spec instead (see jaxml.tune.spec). Browse the results with
``optuna-dashboard <storage URL>``.
"""

import argparse
import json
import sys
from pathlib import Path

from jaxml.tune import PROPOSERS, load_spec, run_study
from jaxml.tune.digits import DIGITS_SCALES, digits_spec


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--proposer", choices=PROPOSERS, default="random")
    p.add_argument("--n-trials", type=int, default=10, help="COMPLETE+PRUNED trials wanted")
    p.add_argument("--n-parallel", type=int, default=1, help="worker processes on this machine")
    p.add_argument("--storage", default=None, help="SQLAlchemy URL (default: <workdir>/tune.db)")
    p.add_argument("--study", default=None, help="study name (default: <proposer>-seed<seed>)")
    p.add_argument("--workdir", default="results/tune/search")
    p.add_argument(
        "--scale", choices=[s for s in DIGITS_SCALES if s != "full"] + ["full"], default="quick"
    )
    p.add_argument("--seed", type=int, default=0, help="data split, init and sampler seed")
    p.add_argument("--retries", type=int, default=1, help="re-runs of a failed job")
    p.add_argument("--heartbeat", type=int, default=5, help="seconds between heartbeats")
    p.add_argument("--spec", default=None, help="a JSON spec file (overrides the flags above)")
    return p


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.spec is not None:
        spec = load_spec(args.spec)
    else:
        spec = digits_spec(
            args.proposer,
            args.n_trials,
            args.workdir,
            scale=args.scale,
            seed=args.seed,
            n_parallel=args.n_parallel,
            storage=args.storage,
            study_name=args.study or f"{args.proposer}-seed{args.seed}",
            retries=args.retries,
            heartbeat_interval=args.heartbeat,
        )
    print(f"[tune/search] {spec.proposer}: study {spec.study_name!r} in {spec.storage_url}")
    summary = run_study(spec)
    out = Path(spec.workdir) / f"summary-{spec.study_name}.json"
    out.write_text(json.dumps(summary, indent=1, default=str))
    print(json.dumps({"states": summary["states"], "best": summary["best"]}, default=str))
    print(f"[tune/search] summary in {out}; browse: optuna-dashboard {spec.storage_url}")
    return summary


if __name__ == "__main__":
    try:
        main()
    except (ValueError, TypeError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
