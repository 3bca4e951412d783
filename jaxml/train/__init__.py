"""The training toolkit every trainer and figure shares: sampling, scanned optax steps, sweeps."""

from jaxml.train.sampler import RULES, Sampler, batch_indices, batch_sampler, sampled_step
from jaxml.train.scan import ScanResult, optax_scan, scan_steps
from jaxml.train.sweep import seed_keys, stack_configs, sweep, sweep_logs, sweep_size

__all__ = [
    "RULES",
    "Sampler",
    "ScanResult",
    "batch_indices",
    "batch_sampler",
    "optax_scan",
    "sampled_step",
    "scan_steps",
    "seed_keys",
    "stack_configs",
    "sweep",
    "sweep_logs",
    "sweep_size",
]
