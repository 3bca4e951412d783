"""Benchmark: DC-S3GD step time / synchronous SGD step time on 8 devices, and a multi-process run.

In ONE process with 8 devices (simulated CPU devices unless the backend has 8 real ones), the
jitted ``shard_map`` training step of jaxml's SmallCNN (synthetic 8x8 images) is timed for
synchronous SGD and DC-S3GD (staleness 1, adaptive compensation, momentum 0.9; both all-reduce
one raveled gradient vector), interleaved so that load drift on a shared machine hits both alike
(the ratio is the median over repeats of each DC-S3GD repeat's time over the sync repeat just
before it), at a small and a large global batch. Goal: DC-S3GD / sync <= 1.05 at the large
batch. (On simulated devices every device's optimizer work shares the same cores while each device's
forward/backward shrinks with the batch share, so DC-S3GD's extra elementwise work weighs more at
small per-device batches than it would on real devices.) Then the same global run as
2 processes x 4 devices (jax.distributed on 127.0.0.1, gloo) reports its step times. The
achieved FLOP/s is XLA's cost analysis of the step divided by the step time; on a GPU it is also
given as a fraction of the device's float32 peak (datasheet). A roofline (jaxml.perf) places each
step under the matmul FLOP/s and copy bandwidth measured in this process: the step's FLOPs and
bytes come from XLA's cost analysis of the per-device program (the step has no loops, so nothing
is multiplied by a trip count) times the number of devices; on simulated CPU devices all of them
share the host's cores, so the host's measured peaks are the roof, on real devices the peaks of
device 0 times the number of devices.

    python -m experiments.benchmarks.dcs3gd_step                      # writes results/benchmarks/
    python -m experiments.benchmarks.dcs3gd_step --global_batches 1024,4096 --repeats 11

Writes ``results/benchmarks/dcs3gd_step.json``.
"""

if __name__ == "__main__":
    from experiments.dcs3gd.devices import request_host_devices

    request_host_devices(8)

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402

from experiments.dcs3gd import steptime  # noqa: E402
from experiments.harness import device_info, write_json_atomic  # noqa: E402
from jaxml.parallel import DistributedRunError, device_mesh, launch_local  # noqa: E402
from jaxml.perf import format_roofline, measure_peaks, program_cost, roofline  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
GOAL = 1.05
SCALES = {
    "quick": {},
    "full": {"global_batches": "512,2048,8192"},
    "tiny": {
        "global_batches": "64",
        "calls": 1,
        "repeats": 2,
        "skip_multiprocess": True,
        "matmul_n": 256,
        "model": "mlp:32",
    },
}
# Dense float32 peak FLOP/s (no tensor cores / TF32) of GPUs we may meet, by device_kind prefix.
FP32_PEAK = {"NVIDIA H100": 67e12, "NVIDIA H200": 67e12, "NVIDIA A100": 19.5e12}


def peak_flops(kind: str) -> float | None:
    for prefix, peak in FP32_PEAK.items():
        if kind.startswith(prefix):
            return peak
    return None


def multi_process(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="dcs3gd-bench-") as tmp:
        out = Path(tmp) / "mp.json"
        t0 = time.perf_counter()
        launch_local(
            [
                "-m",
                "experiments.dcs3gd._worker",
                "--out",
                str(out),
                "--model",
                args.model,
                "--global_batch",
                str(args.global_batch),
                "--calls",
                str(args.calls),
                "--repeats",
                str(args.repeats),
                "--check_steps",
                "2",
            ],
            num_processes=2,
            devices_per_process=4,
            timeout_s=600,
            peer_exit_grace_s=30,
            cwd=REPO,
        )
        result = json.loads(out.read_text())
    result["launch_wall_s"] = time.perf_counter() - t0
    return result


def add_rooflines(single: dict, mesh, args, global_batch: int, peaks) -> None:
    """Roofline of each method's step (see the module docstring for what the roof is)."""
    k = args.num_devices
    roof = peaks
    if jax.default_backend() != "cpu":
        roof = peaks._replace(
            matmul_flops_per_s=k * peaks.matmul_flops_per_s,
            copy_bytes_per_s=k * peaks.copy_bytes_per_s,
        )
    for m in steptime.METHODS:
        step_fn, state, x, y = steptime.build(m, mesh, model=args.model, global_batch=global_batch)
        cost = program_cost(step_fn, state, x, y)
        single[m]["hlo"] = hlo_facts(step_fn.lower(state, x, y).compile().as_text())
        single[m]["hlo"]["bytes_accessed_per_device"] = cost.bytes_accessed
        single[m]["hlo"]["flops_per_device"] = cost.flops
        cost = cost._replace(flops=k * cost.flops, bytes_accessed=k * cost.bytes_accessed)
        rl = roofline(cost, single[m]["step_ms"] / 1e3, roof)
        single[m]["roofline"] = rl.as_dict()
        print("  " + format_roofline(f"{m} step, global batch {global_batch}", rl), flush=True)
    # What DC-S3GD adds, from the compiled programs: its extra bytes (ring buffer, momentum,
    # mean square, raveled params: O(P) elementwise work) moved at the copy bandwidth, by all
    # devices (simulated devices share the host), against the measured time difference.
    hs, hd = single["sync"]["hlo"], single["dc"]["hlo"]
    extra_bytes = k * (hd["bytes_accessed_per_device"] - hs["bytes_accessed_per_device"])
    extra = {
        "extra_bytes_all_devices": extra_bytes,
        "extra_ms_at_copy_bandwidth": 1e3 * extra_bytes / roof.copy_bytes_per_s,
        "measured_extra_ms": single["dc"]["step_ms"] - single["sync"]["step_ms"],
        "measured_extra_ms_fastest": single["dc"]["min_step_ms"] - single["sync"]["min_step_ms"],
        "extra_ops": {key: hd[key] - hs[key] for key in HLO_OPS},
    }
    single["dc_extra"] = extra
    print(
        f"  DC-S3GD - sync, compiled programs: {extra['extra_ops']} ops; "
        f"{extra_bytes / 1e6:+.2f} MB accessed per step (all devices) = "
        f"{extra['extra_ms_at_copy_bandwidth']:+.3f} ms at the copy bandwidth; measured "
        f"{extra['measured_extra_ms']:+.3f} ms (medians), {extra['measured_extra_ms_fastest']:+.3f}"
        " ms (fastest repeats)",
        flush=True,
    )


def cpu_time_ratio(mesh, args, global_batch: int) -> dict:
    """Process CPU seconds per step of each method, interleaved rounds (``calls`` chained steps
    per round, ``repeats`` rounds): on a loaded shared machine wall time measures the
    scheduler as much as the program, CPU time measures the work (all 8 simulated devices'
    threads). Returns medians, the paired median ratio and its quartiles."""
    built = {
        m: steptime.build(m, mesh, model=args.model, global_batch=global_batch)
        for m in steptime.METHODS
    }
    state = {m: b[1] for m, b in built.items()}
    for m, (fn, _, x, y) in built.items():  # compile + warm up
        for _ in range(2):
            state[m] = fn(state[m], x, y)[0]
        jax.block_until_ready(state[m])
    cpu = {m: [] for m in built}
    for _ in range(args.repeats):
        for m, (fn, _, x, y) in built.items():
            c0 = time.process_time()
            for _ in range(args.calls):
                state[m] = fn(state[m], x, y)[0]
            jax.block_until_ready(state[m])
            cpu[m].append((time.process_time() - c0) / args.calls)
    paired = np.asarray(cpu["dc"]) / np.asarray(cpu["sync"])
    out = {f"{m}_cpu_ms": 1e3 * float(np.median(v)) for m, v in cpu.items()}
    out["cpu_ratio_dc_over_sync"] = float(np.median(paired))
    out["cpu_ratio_quartiles"] = [float(np.quantile(paired, q)) for q in (0.25, 0.75)]
    print(
        f"  CPU time per step (all devices), interleaved: sync {out['sync_cpu_ms']:.2f} ms, "
        f"DC-S3GD {out['dc_cpu_ms']:.2f} ms; paired median ratio "
        f"{out['cpu_ratio_dc_over_sync']:.3f} (quartiles {out['cpu_ratio_quartiles'][0]:.3f}-"
        f"{out['cpu_ratio_quartiles'][1]:.3f})",
        flush=True,
    )
    return out


HLO_OPS = ("fusion", "copy", "all-reduce", "dynamic-update-slice", "parameter", "while")


def hlo_facts(hlo_text: str) -> dict:
    """Counts of a few instruction kinds in the ENTRY computation of a compiled HLO module (the
    per-device program): fusions, copies, all-reduces, in-place updates, parameters, loops."""
    entry, inside = [], False
    for line in hlo_text.splitlines():
        if line.startswith("ENTRY "):
            inside = True
        elif inside and line.startswith("}"):
            break
        elif inside:
            entry.append(line)
    counts = dict.fromkeys(HLO_OPS, 0)
    for line in entry:
        _, _, rhs = line.partition(" = ")
        # "<shape> <op>(" where the shape may be a tuple with spaces: the op is the word just
        # before the first "(" that follows the shape.
        for op in HLO_OPS:
            if f" {op}(" in rhs or rhs.startswith(f"{op}("):
                counts[op] += 1
                break
    return counts


def single_process(args, global_batch: int, peaks=None) -> dict:
    mesh = device_mesh(args.num_devices, steptime.AXIS)
    single = steptime.measure(
        mesh, model=args.model, global_batch=global_batch, calls=args.calls, repeats=args.repeats
    )
    kind = jax.devices()[0].device_kind
    peak = peak_flops(kind) if jax.default_backend() == "gpu" else None
    for m in steptime.METHODS:
        # cost_analysis describes one device's program; every device runs it.
        flops = single[m]["flops_per_step"] * args.num_devices
        achieved = flops / (single[m]["step_ms"] / 1e3)
        single[m]["achieved_flops_per_s"] = achieved
        single[m]["fraction_of_fp32_peak"] = achieved / (peak * args.num_devices) if peak else None
    print(
        f"{args.num_devices} devices, {args.model}, global batch {global_batch}: sync "
        f"{single['sync']['step_ms']:.2f} ms, DC-S3GD {single['dc']['step_ms']:.2f} ms, ratio "
        f"{single['ratio_dc_over_sync']:.3f} (paired median), "
        f"{single['ratio_dc_over_sync_min']:.3f} (fastest repeats)",
        flush=True,
    )
    for m in steptime.METHODS:
        frac = single[m]["fraction_of_fp32_peak"]
        print(
            f"  {m}: {single[m]['achieved_flops_per_s'] / 1e9:.2f} GFLOP/s achieved"
            + (f", {100 * frac:.2f}% of fp32 peak" if frac is not None else " (CPU: no peak)"),
            flush=True,
        )
    if peaks is not None:
        add_rooflines(single, mesh, args, global_batch, peaks)
    single["cpu_time"] = cpu_time_ratio(mesh, args, global_batch)
    return single


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale",
        choices=tuple(SCALES),
        default="quick",
        help="tiny: a smoke run (one small batch, 2 repeats, no multi-process run); full: adds "
        "global batch 8192; explicit flags override",
    )
    parser.add_argument("--model", default="cnn:32,64", help="'cnn:32,64' or 'mlp:256,256'")
    parser.add_argument(
        "--global_batches",
        default="512,2048",
        help="global batch sizes to time; the goal is checked at the last (largest)",
    )
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--num_devices", type=int, default=8)
    parser.add_argument("--skip_multiprocess", action="store_true")
    parser.add_argument("--matmul_n", type=int, default=2048, help="matmul size of the roofline")
    parser.add_argument("--out", default="results/benchmarks/dcs3gd_step.json")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    given = {a.split("=")[0].lstrip("-") for a in argv if a.startswith("--")}
    for name, value in SCALES[args.scale].items():
        if name not in given:
            setattr(args, name, value)

    if jax.device_count() < args.num_devices:
        sys.exit(
            f"needs {args.num_devices} devices, JAX sees {jax.device_count()}: run as "
            "`python -m experiments.benchmarks.dcs3gd_step` (it sets XLA_FLAGS before JAX starts)"
        )
    batches = [int(b) for b in args.global_batches.split(",") if b]
    peaks = measure_peaks(matmul_n=args.matmul_n, copy_mib=64 if args.matmul_n < 1024 else 256)
    print(
        f"machine: matmul {peaks.matmul_flops_per_s / 1e9:.1f} GFLOP/s, copy "
        f"{peaks.copy_bytes_per_s / 1e9:.2f} GB/s (device 0, measured in this process)",
        flush=True,
    )
    per_batch = {str(b): single_process(args, b, peaks) for b in batches}
    primary = per_batch[str(batches[-1])]
    ratio, ci = primary["ratio_dc_over_sync"], primary["ratio_ci"]
    # The goal is met only if the whole 95 % interval of the paired ratio is at or below it;
    # an interval that straddles it is inconclusive (timing noise), as in the scaling figure.
    verdict = "inconclusive" if ci is None or ci["low"] <= GOAL < ci["high"] else "NOT met"
    verdict = "met" if ci is not None and ci["high"] <= GOAL else verdict
    result = {
        "benchmark": "dcs3gd_step",
        "command": "python -m experiments.benchmarks.dcs3gd_step "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "config": vars(args),
        "single_process": per_batch,
        "peaks": peaks._asdict(),
        "global_batch": batches[-1],
        "ratio_dc_over_sync": ratio,
        "ratio_dc_over_sync_min": primary["ratio_dc_over_sync_min"],
        "goal": GOAL,
        "ratio_ci": ci,
        "meets_goal": verdict == "met",
        "verdict": verdict,
        "cpu_count": os.cpu_count(),
        "device": device_info(),
    }
    print(
        f"goal DC-S3GD / sync <= {GOAL} at global batch {batches[-1]}: {verdict} (paired "
        f"median ratio {ratio:.3f}, 95% interval "
        + (f"[{ci['low']:.3f}, {ci['high']:.3f}])" if ci else "none: fewer than 6 repeats)"),
        flush=True,
    )
    if not args.skip_multiprocess:
        args.global_batch = batches[-1]
        try:
            mp = multi_process(args)
            result["multi_process"] = mp
            print(
                f"2 processes x 4 devices, global batch {batches[-1]}: sync "
                f"{mp['sync']['step_ms']:.2f} ms, DC-S3GD {mp['dc']['step_ms']:.2f} ms, ratio "
                f"{mp['ratio_dc_over_sync']:.3f}; 1 process x 8 devices: sync "
                f"{primary['sync']['step_ms']:.2f} ms"
            )
        except DistributedRunError as e:
            result["multi_process_error"] = str(e)
            print(f"multi-process run failed:\n{e}")
    write_json_atomic(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
