"""Throughput of a structured-pruned MLP run as a genuinely smaller dense network (Condensa).

A ``jaxml.models`` MLP (64 -> H -> H -> 10, digits-shaped inputs) is neuron-pruned by
:class:`jaxml.compress.NeuronPrune` (the head kept whole) and turned into a smaller dense MLP by
:func:`jaxml.compress.shrink_mlp`; its forward pass on a batch is timed against the dense model's
in this process (compiled, chained calls, median of repeats), and the logits are checked equal.

    python -m experiments.benchmarks.compress_throughput
    python -m experiments.benchmarks.compress_throughput --hidden 1024 --batch 2048

Writes results/benchmarks/compress_throughput.json. The ratio is measured side by side in one
process; absolute times depend on the machine and on its load.
"""

import dataclasses
import sys
from typing import ClassVar

import jax
import jax.numpy as jnp

from experiments.harness import device_info, parse_config, time_calls, write_json_atomic
from jaxml.compress import Layers, NeuronPrune, shrink_mlp
from jaxml.models import make_classifier


@dataclasses.dataclass(frozen=True)
class Config:
    scale: str = "quick"
    hidden: int = 512
    densities: tuple[float, ...] = (0.75, 0.5, 0.25, 0.1)
    batch: int = 2048
    calls: int = 20
    repeats: int = 5
    seed: int = 0
    out: str = "results/benchmarks/compress_throughput.json"
    SCALES: ClassVar[dict] = {
        "full": {"hidden": 2048, "batch": 8192, "calls": 50, "repeats": 7},
        "tiny": {"hidden": 32, "densities": (0.5,), "batch": 64, "calls": 2, "repeats": 2},
    }

    def __post_init__(self):
        if self.hidden < 1 or self.batch < 1 or self.calls < 1 or self.repeats < 1:
            raise ValueError("hidden, batch, calls and repeats must be >= 1")
        if not self.densities or any(not 0 < d <= 1 for d in self.densities):
            raise ValueError(f"densities must lie in (0, 1]; got {self.densities}")


def _rate(apply, params, x, config) -> float:
    step = jax.jit(lambda p, xb: xb + 1e-30 * jnp.mean(apply(p, xb)))
    t = time_calls(lambda xb: step(params, xb), x, calls=config.calls, repeats=config.repeats)
    return t["calls_per_s"] * config.batch


def main(argv=None) -> dict:
    config, _ = parse_config(Config, argv, description=__doc__.splitlines()[0])
    model = make_classifier(
        "mlp", num_classes=10, input_shape=(64,), hidden=(config.hidden, config.hidden)
    )
    key = jax.random.key(config.seed)
    params = jax.jit(model.init)(key, jnp.ones((1, 64)))
    x = jax.random.uniform(jax.random.fold_in(key, 1), (config.batch, 64))
    dense_rate = _rate(model.apply, params, x, config)
    rows = []
    print(f"dense MLP 64-{config.hidden}-{config.hidden}-10: {dense_rate:,.0f} examples/s")
    print(f"{'density':>8} {'hidden':>12} {'examples/s':>12} {'speed-up':>9} {'max |dlogit|':>12}")
    for d in config.densities:
        pruned, _ = jax.jit(NeuronPrune(d, Layers(exclude=("head",))).compress)(params)
        small = shrink_mlp(pruned)
        err = float(jnp.max(jnp.abs(small.apply(small.params, x) - model.apply(pruned, x))))
        rate = _rate(small.apply, small.params, x, config)
        rows.append(
            {
                "density": d,
                "hidden": list(small.hidden),
                "examples_per_s": rate,
                "speedup": rate / dense_rate,
                "max_abs_logit_diff": err,
            }
        )
        print(
            f"{d:>8.2f} {str(small.hidden):>12} {rate:>12,.0f} {rate / dense_rate:>8.2f}x "
            f"{err:>12.2e}"
        )
    result = {
        "config": dataclasses.asdict(config),
        "dense_examples_per_s": dense_rate,
        "rows": rows,
        "device": device_info(),
    }
    write_json_atomic(config.out, result)
    print(f"wrote {config.out}")
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
