"""One process of a multi-process DC-S3GD step-time run (started by ``launch_local``).

Every process runs the same program over the devices of all processes (``jax.distributed`` with
gloo CPU collectives); process 0 writes the JSON result. By hand, on one machine::

    for i in 0 1; do
      JAXML_COORDINATOR=127.0.0.1:12355 JAXML_NUM_PROCESSES=2 JAXML_PROCESS_ID=$i \\
      XLA_FLAGS=--xla_force_host_platform_device_count=4 \\
      python -m experiments.dcs3gd._worker --out /tmp/mp.json &
    done; wait

On several machines, run the same line on each with ``JAXML_COORDINATOR=<host of process 0>:PORT``.
"""

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file written by process 0")
    parser.add_argument("--model", default="cnn:32,64", help="'cnn:32,64' or 'mlp:256,256'")
    parser.add_argument("--global_batch", type=int, default=512)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--check_steps", type=int, default=3)
    parser.add_argument("--watchdog_s", type=float, default=300.0)
    args = parser.parse_args(argv)

    from jaxml.parallel import Watchdog, device_mesh, initialize_from_env

    t0 = time.perf_counter()
    info = initialize_from_env(initialization_timeout_s=60)
    import jax

    from experiments.dcs3gd import steptime

    mesh = device_mesh(None, steptime.AXIS)
    # The watchdog bounds the whole measurement: a dead peer cannot leave this process hanging.
    with Watchdog(args.watchdog_s, what="multi-process measurement"):
        result = steptime.measure(
            mesh,
            model=args.model,
            global_batch=args.global_batch,
            calls=args.calls,
            repeats=args.repeats,
            check_steps=args.check_steps,
        )
    result.update(
        num_processes=info.num_processes,
        local_devices=jax.local_device_count(),
        process_wall_s=time.perf_counter() - t0,
    )
    if info.process_id == 0:
        Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"process {info.process_id}: done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
