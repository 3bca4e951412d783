"""The experiment harness: configs and CLI, atomic outputs, resumable loops, figures, report."""

from experiments.harness.cache import (
    cache_key,
    cached_record,
    format_stats,
    load_cached,
    save_cached,
    seed_stats,
)
from experiments.harness.checkpoint import Checkpointer
from experiments.harness.config import build_parser, make_config, parse_config, scales_of
from experiments.harness.experiment import (
    Summary,
    default_workdir,
    experiment_main,
    figure_id,
    judge,
    write_outputs,
)
from experiments.harness.io import read_json, to_jsonable, write_json_atomic, write_text_atomic
from experiments.harness.loop import LoopResult, NonFiniteLossError, stack_history, train_loop
from experiments.harness.runtime import (
    compiled_memory_bytes,
    device_info,
    device_peak_bytes,
    max_rss_mb,
    time_calls,
)

__all__ = [
    "cached_record",
    "seed_stats",
    "save_cached",
    "load_cached",
    "format_stats",
    "cache_key",
    "Checkpointer",
    "LoopResult",
    "NonFiniteLossError",
    "Summary",
    "build_parser",
    "compiled_memory_bytes",
    "default_workdir",
    "device_info",
    "device_peak_bytes",
    "experiment_main",
    "figure_id",
    "judge",
    "make_config",
    "max_rss_mb",
    "parse_config",
    "read_json",
    "scales_of",
    "stack_history",
    "time_calls",
    "to_jsonable",
    "train_loop",
    "write_json_atomic",
    "write_outputs",
    "write_text_atomic",
]
