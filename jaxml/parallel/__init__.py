"""DC-S3GD (Rigazzi 2019), synchronous data-parallel SGD, pmap/shard_map drivers, multi-process."""

from jaxml.parallel.compensation import adaptive_lambda, delay_compensation
from jaxml.parallel.dc_s3gd import VARIANTS, DCS3GDState, dc_s3gd
from jaxml.parallel.distributed import (
    DistributedInfo,
    DistributedRunError,
    LocalCluster,
    ProcessResult,
    Watchdog,
    free_port,
    host_device_flags,
    initialize_distributed,
    initialize_from_env,
    launch_local,
    requested_host_devices,
    worker_env,
)
from jaxml.parallel.drivers import (
    addressable_rows,
    device_mesh,
    pmap_driver,
    put_replicated,
    put_sharded,
    replicate,
    shard_map_driver,
    shard_sampler,
    split_batch,
)
from jaxml.parallel.hlo import CollectiveDependence, collective_dependence
from jaxml.parallel.hyper import (
    data_parallel_hypergradient,
    dc_bilevel,
    dc_lambda_hypergradient,
    traced_dc_s3gd,
)
from jaxml.parallel.step import make_data_parallel_step
from jaxml.parallel.sweep import data_parallel_sweep, init_sweep_state, sweep_evaluator
from jaxml.parallel.sync_sgd import mean_across, sync_sgd
from jaxml.parallel.timing import RatioInterval, ratio_interval, time_interleaved

__all__ = [
    "VARIANTS",
    "CollectiveDependence",
    "DCS3GDState",
    "DistributedInfo",
    "DistributedRunError",
    "LocalCluster",
    "ProcessResult",
    "RatioInterval",
    "Watchdog",
    "adaptive_lambda",
    "addressable_rows",
    "collective_dependence",
    "data_parallel_sweep",
    "dc_s3gd",
    "delay_compensation",
    "device_mesh",
    "free_port",
    "init_sweep_state",
    "host_device_flags",
    "initialize_distributed",
    "initialize_from_env",
    "launch_local",
    "make_data_parallel_step",
    "mean_across",
    "pmap_driver",
    "put_replicated",
    "put_sharded",
    "ratio_interval",
    "replicate",
    "requested_host_devices",
    "shard_map_driver",
    "shard_sampler",
    "split_batch",
    "sweep_evaluator",
    "sync_sgd",
    "time_interleaved",
    "worker_env",
    "data_parallel_hypergradient",
    "dc_bilevel",
    "dc_lambda_hypergradient",
    "traced_dc_s3gd",
]
