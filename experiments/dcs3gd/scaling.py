"""Rigazzi (2019), DC-S3GD, scaling: step time vs number of devices, sync vs DC-S3GD.

One data-parallel training step of jaxml's SmallCNN (channels 32, 64; synthetic 8x8 digit-like
images, global batch 512) jitted with ``jax.shard_map`` over 1, 2, 4 and 8 devices of one process
(simulated CPU devices at quick scale), for synchronous SGD and DC-S3GD (staleness 1, adaptive
compensation, momentum 0.9); then the same global run as 2 processes x 4 devices
(``jax.distributed`` on 127.0.0.1, gloo CPU collectives), whose losses must match the
single-process run's. The global batch is fixed, so each device's share shrinks as devices are
added (strong scaling).

What a CPU simulation can show: (1) how much DC-S3GD's extra elementwise work (ring buffer,
compensation) costs next to sync SGD. On simulated devices every device's optimizer work runs on
the same few cores, so that cost grows with the device count while each device's share of the
forward/backward pass shrinks -- real devices would not suffer this. (2) From the compiled
program: DC-S3GD's weight update does not depend on the all-reduce issued in the same step (sync
SGD's does), which is what lets a GPU/TPU backend overlap communication with computation.
What it cannot show: the overlap itself. The simulated devices share the machine's few cores
(more devices add no compute), XLA:CPU runs collectives synchronously (no all-reduce-start/done
pairs) and the "network" is shared memory or loopback TCP, so wall time cannot reveal hidden
communication.

Verdict (:func:`summarize`), at the largest device count: the whole 95 % confidence interval of
the DC-S3GD / sync step-time ratio (median of ``repeats`` paired, interleaved repeats; the
interval from order statistics, :func:`jaxml.parallel.ratio_interval`) is <= ``ratio_goal``
(1.05), AND the compiled sync update depends on its all-reduce (else the dependence check is
vacuous), AND the compiled DC-S3GD update does not. An interval that straddles the goal is
"inconclusive" (does not match): on this shared machine one run's median can land on either
side of 1.05, so a single median decides nothing.

    python -m experiments.dcs3gd.scaling --scale quick

Writes ``metrics.json``, ``config.json`` and ``scaling.png`` under the workdir. Nothing to
resume (a few timing runs); a rerun measures again.
"""

if __name__ == "__main__":  # before JAX is imported: 8 simulated CPU devices
    from experiments.dcs3gd.devices import request_host_devices

    request_host_devices(8)

import dataclasses  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import ClassVar  # noqa: E402

import jax  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from experiments.dcs3gd import steptime  # noqa: E402
from experiments.dcs3gd.devices import require_devices  # noqa: E402
from experiments.harness import Summary, device_info, experiment_main, write_outputs  # noqa: E402
from experiments.harness.plotting import plt, save_figure  # noqa: E402
from jaxml.parallel import DistributedRunError, device_mesh, launch_local  # noqa: E402

FRESH_INTERPRETER = True  # 8 simulated devices: XLA_FLAGS must be set before JAX is imported
PAPER = "Rigazzi 2019, DC-S3GD (arXiv 1911.02516): step time and scaling vs synchronous SGD"
CLAIM = (
    "DC-S3GD overlaps the gradient all-reduce with computation, so its step costs no more than a "
    "synchronous step (here: DC-S3GD / sync step time <= 1.05 at the largest device count) and "
    "it scales better when communication is slow; the overlap requires the update not to depend "
    "on the step's own all-reduce (checked in the compiled program: DC-S3GD's does not, sync's "
    "does)."
)
REPO = Path(__file__).resolve().parents[2]
EXCLUSIVE = True  # the verdict rests on wall-clock step times: reproduce runs this alone


@dataclasses.dataclass(frozen=True)
class Config:
    """Step-time scaling. Defaults are the quick scale."""

    scale: str = "quick"
    device_counts: tuple[int, ...] = (1, 2, 4, 8)
    model: str = "cnn:32,64"
    global_batch: int = 512
    calls: int = 20
    repeats: int = 9  # paired repeats; >= 6 for a 95 % interval (9: [2nd, 8th] of the ratios)
    num_processes: int = 2  # 0 skips the multi-process run
    check_steps: int = 3
    ratio_goal: float = 1.05
    multiprocess_timeout_s: int = 300

    SCALES: ClassVar[dict] = {
        "full": {"model": "cnn:64,128", "global_batch": 4096, "calls": 50, "repeats": 11},
        "tiny": {
            "device_counts": (1, 8),
            "model": "cnn:8,16",
            "global_batch": 64,
            "calls": 3,
            "repeats": 2,
            "check_steps": 2,
            "multiprocess_timeout_s": 120,
        },
    }

    def __post_init__(self):
        if not self.device_counts or min(self.device_counts) < 1:
            raise ValueError(f"device_counts must be >= 1, got {self.device_counts}")
        for k in self.device_counts:
            if self.global_batch % k:
                raise ValueError(
                    f"global_batch {self.global_batch} is not divisible by {k} devices"
                )
        for name in ("calls", "repeats", "check_steps", "global_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_processes < 0 or (
            self.num_processes and max(self.device_counts) % self.num_processes
        ):
            raise ValueError(
                f"num_processes {self.num_processes} must be 0 or divide the largest device "
                f"count {max(self.device_counts)}"
            )


def single_process(config: Config) -> dict:
    out = {}
    for k in config.device_counts:
        mesh = device_mesh(k, steptime.AXIS)
        sizes = {"model": config.model, "global_batch": config.global_batch}
        check = config.check_steps if k == max(config.device_counts) else 0
        r = steptime.measure(
            mesh, calls=config.calls, repeats=config.repeats, check_steps=check, **sizes
        )
        out[str(k)] = r
        print(
            f"  {k} devices: sync {r['sync']['step_ms']:.2f} ms, DC-S3GD {r['dc']['step_ms']:.2f}"
        )
    return out


def multi_process(config: Config) -> dict:
    """The same global run (largest device count) as ``num_processes`` processes."""
    total = max(config.device_counts)
    per = total // config.num_processes
    with tempfile.TemporaryDirectory(prefix="dcs3gd-mp-") as tmp:
        out_file = Path(tmp) / "result.json"
        t0 = time.perf_counter()
        flags = {"out": out_file, "model": config.model, "global_batch": config.global_batch}
        flags |= {
            "calls": config.calls,
            "repeats": config.repeats,
            "check_steps": config.check_steps,
        }
        flags["watchdog_s"] = config.multiprocess_timeout_s
        argv = [a for k, x in flags.items() for a in (f"--{k}", str(x))]
        results = launch_local(
            ["-m", "experiments.dcs3gd._worker", *argv],
            num_processes=config.num_processes,
            devices_per_process=per,
            timeout_s=config.multiprocess_timeout_s + 60,
            peer_exit_grace_s=30,
            heartbeat_timeout_s=10,
            cwd=REPO,
            extra_env={"JAXML_PROGRESS": "0"},
        )
        result = json.loads(out_file.read_text())
    result["launch_wall_s"] = time.perf_counter() - t0
    result["process_returncodes"] = [r.returncode for r in results]
    result["devices_per_process"] = per
    return result


def plot(config: Config, single: dict, multi: dict | None, path: Path) -> None:
    ks = [int(k) for k in single]
    fig, (ax_t, ax_r) = plt.subplots(1, 2, figsize=(10.5, 4.0))
    for method, color, label, size in (
        ("sync", "k", "sync SGD", 12),
        ("dc", "C0", "DC-S3GD (tau=1)", 7),
    ):
        ax_t.plot(
            ks,
            [single[str(k)][method]["step_ms"] for k in ks],
            "o-",
            color=color,
            label=f"{label}, 1 process",
        )
        if multi is not None:
            ax_t.plot(
                [multi["num_devices"]],
                [multi[method]["step_ms"]],
                "s",
                color=color,
                ms=size,
                mfc="none",
                mew=2,
                label=f"{label}, {multi['num_processes']} proc x "
                f"{multi['devices_per_process']} dev",
            )
    ax_t.set(
        xlabel="devices",
        ylabel="step time (ms, median)",
        title=f"global batch {config.global_batch}, model {config.model}",
    )
    ax_t.legend(fontsize=8)
    ax_r.plot(
        ks,
        [single[str(k)]["ratio_dc_over_sync"] for k in ks],
        "o-",
        color="C0",
        label="1 process (paired median)",
    )
    ax_r.plot(
        ks,
        [single[str(k)]["ratio_dc_over_sync_min"] for k in ks],
        "o--",
        color="C0",
        alpha=0.6,
        label="1 process, fastest repeats",
    )
    if multi is not None:
        ax_r.plot(
            [multi["num_devices"]],
            [multi["ratio_dc_over_sync"]],
            "s",
            color="C1",
            ms=9,
            label=f"{multi['num_processes']} processes",
        )
    ax_r.axhline(config.ratio_goal, color="gray", ls=":", label=f"goal {config.ratio_goal}")
    ax_r.axhline(1.0, color="gray", lw=0.8)
    ax_r.set(
        xlabel="devices",
        ylabel="DC-S3GD / sync step time",
        title=f"simulated CPU devices on {os.cpu_count()} cores: no real overlap",
    )
    ax_r.legend(fontsize=8)
    for ax in (ax_t, ax_r):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ks))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FixedFormatter([str(k) for k in ks]))
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    save_figure(fig, path)


def run(config: Config, workdir: Path) -> dict:
    require_devices(max(config.device_counts), "experiments.dcs3gd.scaling")
    workdir = Path(workdir)
    t0 = time.perf_counter()
    single = single_process(config)
    multi, multi_error = None, None
    if config.num_processes:
        try:
            multi = multi_process(config)
        except DistributedRunError as e:  # report, don't hide: the figure still shows 1 process
            multi_error = str(e)
        if multi is not None:  # the same global run: the same losses, up to float rounding
            ref = single[str(max(config.device_counts))]["losses"]
            multi["max_loss_difference"] = float(
                max(
                    np.max(np.abs(np.subtract(multi["losses"][m], ref[m])))
                    for m in steptime.METHODS
                )
            )
    plot(config, single, multi, workdir / "scaling.png")
    k_max = str(max(config.device_counts))
    metrics = {
        "single_process": single,
        "multi_process": multi,
        "multi_process_error": multi_error,
        "ratio_goal": config.ratio_goal,
        "ratio_at_max_devices": single[k_max]["ratio_dc_over_sync"],
        "cpu_count": os.cpu_count(),
        "wall_seconds": time.perf_counter() - t0,
        "device": device_info(),
        "backend": jax.default_backend(),
    }
    return write_outputs(workdir, config, metrics, figures=["scaling.png"])


def summarize(metrics: dict) -> Summary:
    """Rule (all must hold, at the largest device count): the 95 % confidence interval of the
    paired DC-S3GD / sync step-time ratio lies entirely at or below ``ratio_goal`` (1.05); the
    compiled synchronous update depends on its all-reduce; the compiled DC-S3GD update does not.
    An interval straddling the goal (or none, with fewer than 6 repeats) is "inconclusive" and
    does not match; one entirely above the goal fails. The multi-process numbers are reported,
    not judged."""
    single = metrics["single_process"]
    ks = sorted(single, key=int)
    numbers = {}
    for k in ks:
        numbers[f"{k} devices: sync / DC-S3GD step (ms)"] = (
            f"{single[k]['sync']['step_ms']:.2f} / {single[k]['dc']['step_ms']:.2f}"
        )
        ci = single[k].get("ratio_ci")
        numbers[f"{k} devices: DC-S3GD / sync (paired median; fastest repeats)"] = (
            f"{single[k]['ratio_dc_over_sync']:.3f}; {single[k]['ratio_dc_over_sync_min']:.3f}"
        )
        numbers[f"{k} devices: 95% interval of the paired ratio"] = (
            f"[{ci['low']:.3f}, {ci['high']:.3f}] (coverage {ci['coverage']:.3f}, n={ci['n']})"
            if ci
            else "none (fewer than 6 repeats)"
        )
    multi = metrics.get("multi_process")
    if multi:
        tag = f"{multi['num_processes']} processes x {multi['devices_per_process']} devices"
        numbers[f"{tag}: sync / DC-S3GD step (ms)"] = (
            f"{multi['sync']['step_ms']:.2f} / {multi['dc']['step_ms']:.2f}"
        )
        numbers[f"{tag}: DC-S3GD / sync (paired median; fastest repeats)"] = (
            f"{multi['ratio_dc_over_sync']:.3f}; {multi['ratio_dc_over_sync_min']:.3f}"
        )
        numbers[f"{tag}: max abs(loss - single-process loss)"] = (
            f"{multi['max_loss_difference']:.2e}"
        )
    elif metrics.get("multi_process_error"):
        numbers["multi-process run"] = "FAILED: " + metrics["multi_process_error"].splitlines()[0]
    k_max = ks[-1]
    sync_dep = single[k_max]["sync"]["params_depend_on_all_reduce"]
    dc_dep = single[k_max]["dc"]["params_depend_on_all_reduce"]
    numbers["update depends on this step's all-reduce: sync / DC-S3GD"] = f"{sync_dep} / {dc_dep}"
    numbers["async collectives in the CPU program"] = single[k_max]["dc"]["async_collectives"]
    ratio, goal = float(single[k_max]["ratio_dc_over_sync"]), float(metrics["ratio_goal"])
    ci = single[k_max].get("ratio_ci")
    low, high = (float(ci["low"]), float(ci["high"])) if ci else (math.nan, math.nan)
    thresholds = {
        f"max DC-S3GD / sync step time at the largest device count ({k_max}), whole 95% "
        "interval": goal,
        "sync's compiled update must depend on its all-reduce": True,
        "DC-S3GD's compiled update must not depend on its all-reduce": True,
    }
    if high <= goal:  # NaN -> False
        timing = f"its whole 95% interval [{low:.3f}, {high:.3f}] is <= {goal}"
    elif low > goal:
        timing = f"its whole 95% interval [{low:.3f}, {high:.3f}] is NOT <= {goal} (above it)"
    elif ci:
        timing = f"inconclusive: its 95% interval [{low:.3f}, {high:.3f}] straddles {goal}"
    else:
        timing = f"inconclusive: no 95% interval (fewer than 6 repeats), median vs {goal}"
    ok = high <= goal and sync_dep is True and dc_dep is False
    verdict = (
        f"at {k_max} devices DC-S3GD / sync = {ratio:.3f} (median of paired repeats), {timing}; "
        f"the compiled DC-S3GD update "
        f"{'does not depend' if dc_dep is False else 'DEPENDS'} on the step's all-reduce and "
        f"sync's {'does' if sync_dep is True else 'does NOT (the dependence check is vacuous)'}; "
        "XLA:CPU runs collectives synchronously (no all-reduce-start/done pairs), so there is no "
        "overlap to gain on CPU and the timing only bounds DC-S3GD's extra elementwise work "
        f"({metrics['cpu_count']} cores shared by all simulated devices)"
    )
    return Summary(numbers, bool(ok), verdict + ".", thresholds)


main = experiment_main(__name__, Config, run)

if __name__ == "__main__":
    main()
