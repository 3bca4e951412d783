"""Speed of hyperbolic OT alignment and Poincare-embedding training vs POT and gensim.

In one process:

(a) one alignment step on two 1,000-point sets of the 10-dimensional Poincare ball (the ANCHORS
    problem, eps = 0.05 std(cost)): the Poincare cost matrix, entropic OT and the orthogonal
    (tangent Procrustes) map update, at a fixed number of Sinkhorn iterations on both sides (no
    early stop, so both do the same work). jaxml: ``PoincareCost`` + ott ``Sinkhorn`` (kernel
    and log-sum-exp modes) under one ``jax.jit`` (float32), single and ``vmap``-batched over
    restarts; POT: a NumPy cost matrix + ``ot.sinkhorn`` + NumPy SVD (float64), the restarts
    one after another.
(b) Poincare-embedding training on the WordNet mammal closure at equal epochs (d = 5, 10
    negatives, burn-in 10, batch 10): relations/s of ``train_poincare_embeddings`` vs gensim's
    ``PoincareModel`` (one core, float64), and the reconstruction MAP each reaches (both scored
    by ``jaxml.hyperbolic.reconstruction_metrics``), for jaxml at lr 0.3 on its batch-mean loss
    and at lr 3.0 (the same per-relation step size as a batch-sum update).

(c) rooflines (jaxml.perf): the matmul FLOP/s and copy bandwidth measured in this process; the
    Sinkhorn step's FLOPs and bytes from XLA's cost analysis with ott's outer ``while`` loop
    multiplied by its trip count (``iterations / inner_iterations``, exact at a fixed iteration
    count) and, analytically, ``4 n^2`` FLOPs per kernel-mode iteration (two matrix-vector
    products); the embedding epoch's from XLA with its scan body times the number of batches.
    A plain NumPy float32 Sinkhorn loop (kernel mode, same iterations) is the machine reference.

    python -m experiments.benchmarks.hyperbolic_speed                # quick
    python -m experiments.benchmarks.hyperbolic_speed --scale tiny   # seconds

POT and gensim come from ``pip install -r requirements-bench.txt``; without them their columns
are skipped (reported as missing). Writes
results/benchmarks/hyperbolic_speed.json. Ratios are measured side by side in this process;
absolute times depend on the (shared, noisy) machine: see ../shared/ANCHORS.md.
"""

import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from ott.geometry import geometry
from ott.problems.linear import linear_problem
from ott.solvers.linear import sinkhorn

from experiments.harness import device_info, parse_config, write_json_atomic
from jaxml.hyperbolic import (
    PoincareCost,
    make_poincare_trainer,
    reconstruction_metrics,
    train_poincare_embeddings,
    wordnet_hierarchy,
)
from jaxml.hyperbolic import poincare as P
from jaxml.hyperbolic.sinkhorn_fast import sinkhorn_restarts, sinkhorn_stabilized
from jaxml.perf import (
    ProgramCost,
    format_roofline,
    interleaved_times,
    measure_peaks,
    program_cost,
    roofline,
)

INNER_ITERATIONS = 10  # ott's Sinkhorn default: the error is checked every 10 iterations


@dataclasses.dataclass(frozen=True)
class Config:
    scale: str = "quick"
    num_points: int = 1000
    dim: int = 10
    eps_scale: float = 0.05
    sinkhorn_iterations: int = 500
    restarts: int = 8
    repeats: int = 5
    matmul_n: int = 2048
    embed_dim: int = 5
    embed_epochs: int = 30
    embed_negatives: int = 10
    embed_burn_in: int = 10
    # The loss is a batch mean, so lr 0.3 (Nickel & Kiela's setting, Figure 1) moves each
    # relation 1/batch as far as gensim's per-relation step; lr 3.0 = the same per-relation step.
    embed_lrs: tuple[float, ...] = (0.3, 3.0)
    root: str = "mammal.n.01"
    out: str = "results/benchmarks/hyperbolic_speed.json"
    SCALES: ClassVar[dict] = {
        "full": {"embed_epochs": 200, "repeats": 7},
        "tiny": {
            "num_points": 100,
            "restarts": 2,
            "repeats": 1,
            "embed_epochs": 2,
            "sinkhorn_iterations": 20,
            "root": "monkey.n.01",
            "matmul_n": 256,
        },
    }


def _points(seed: int, n: int, d: int) -> np.ndarray:
    """Points spread like an embedded hierarchy: random directions, many near the boundary."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, d))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return (v * (0.995 * (1.0 - rng.random(n) ** 4))[:, None]).astype(np.float32)


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# --- (a) the alignment step ---------------------------------------------------------------


def _np_poincare_cost(x, y):
    sq = np.sum((x[:, None, :] - y[None, :, :]) ** 2, -1)
    den = (1 - np.sum(x * x, 1))[:, None] * (1 - np.sum(y * y, 1))[None, :]
    return np.arccosh(1 + 2 * sq / den)


def _np_logmap0(x):
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.arctanh(np.minimum(n, 1 - 1e-15)) * x / np.maximum(n, 1e-300)


def _pot_step(w, x, y, eps_scale, num_iterations):
    import ot

    cost = _np_poincare_cost(x @ w.T, y)
    a = np.full(x.shape[0], 1.0 / x.shape[0])
    b = np.full(y.shape[0], 1.0 / y.shape[0])
    plan = ot.sinkhorn(
        a, b, cost, eps_scale * cost.std(), numItermax=num_iterations, stopThr=0.0, warn=False
    )
    u, _, vt = np.linalg.svd(_np_logmap0(y).T @ plan.T @ _np_logmap0(x))
    return u @ vt, plan


def _jax_step(w, x, y, eps_scale, num_iterations, lse_mode):
    # The cost is materialized once: a PointCloud geometry would recompute it (all_pairs) in
    # every Sinkhorn iteration, which XLA does not hoist out of the loop.
    cost = PoincareCost().all_pairs(x @ w.T, y)
    geom = geometry.Geometry(cost_matrix=cost, epsilon=eps_scale, relative_epsilon="std")
    solver = sinkhorn.Sinkhorn(
        lse_mode=lse_mode,
        inner_iterations=INNER_ITERATIONS,
        threshold=-1.0,
        min_iterations=num_iterations,
        max_iterations=num_iterations,
        implicit_diff=None,
    )
    plan = solver(linear_problem.LinearProblem(geom)).matrix
    u, _, vt = jnp.linalg.svd(P.logmap0(y).T @ plan.T @ P.logmap0(x))
    return u @ vt, plan


def _fast_step(w, x, y, eps_scale, num_iterations):
    """The same step with jaxml.hyperbolic.sinkhorn_fast (kernel mode, stabilized when needed)."""
    cost = PoincareCost().all_pairs(x @ w.T, y)
    out = sinkhorn_stabilized(
        cost, eps_scale * jnp.std(cost), num_iterations=num_iterations, check_every=INNER_ITERATIONS
    )
    u, _, vt = jnp.linalg.svd(P.logmap0(y).T @ out.plan.T @ P.logmap0(x))
    return u @ vt, out.plan


def _numpy_sinkhorn(cost, eps_scale, num_iterations):
    """The plain NumPy float32 kernel-mode loop (the machine reference), same iterations."""
    cost = cost.astype(np.float32)
    kernel = np.exp(-cost / np.float32(eps_scale * cost.std()))
    a = np.full(cost.shape[0], 1.0 / cost.shape[0], np.float32)
    b = np.full(cost.shape[1], 1.0 / cost.shape[1], np.float32)
    v = np.ones_like(b)
    for _ in range(num_iterations):
        u = a / (kernel @ v)
        v = b / (kernel.T @ u)
    return u[:, None] * kernel * v[None, :]


def _analytic_cost(config: Config) -> ProgramCost:
    """Kernel-mode Sinkhorn: per iteration two float32 n x n matrix-vector products, 4 n^2
    FLOPs, reading the kernel twice (8 n^2 bytes); cost matrix and SVD left out (< 1%)."""
    its, n = config.sinkhorn_iterations, config.num_points
    flops = 4.0 * its * n * n
    return ProgramCost(
        flops, 8.0 * its * n * n, 0.0, 0.0, flops, (("analytic", its),), 0, "analytic"
    )


def _have(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def bench_alignment(config: Config, peaks) -> dict:
    """One alignment step at a fixed number of Sinkhorn iterations (no early stop on either
    side, so both do the same work): time per step and per restart."""
    x = _points(0, config.num_points, config.dim)
    y = _points(1, config.num_points, config.dim)
    rng = np.random.default_rng(2)
    ws = np.stack(
        [np.linalg.qr(rng.normal(size=(config.dim,) * 2))[0] for _ in range(config.restarts)]
    ).astype(np.float32)
    xj, yj, wj = jnp.asarray(x), jnp.asarray(y), jnp.asarray(ws)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    its = config.sinkhorn_iterations
    out = {
        "num_points": config.num_points,
        "dim": config.dim,
        "restarts": config.restarts,
        "sinkhorn_iterations": its,
    }
    cost_np = _np_poincare_cost(x64 @ ws[0].T.astype(np.float64), y64)
    plan_np = _numpy_sinkhorn(cost_np, config.eps_scale, its)
    t_np = _median_time(lambda: _numpy_sinkhorn(cost_np, config.eps_scale, its), config.repeats)
    out["numpy_float32_loop_seconds"] = t_np
    if _have("ot"):
        _, plan_p = _pot_step(ws[0].astype(np.float64), x64, y64, config.eps_scale, its)
        t_pot = _median_time(
            lambda: _pot_step(ws[0].astype(np.float64), x64, y64, config.eps_scale, its),
            config.repeats,
        )
    else:  # no POT: the NumPy loop stands in as the reference plan and time
        plan_p, t_pot = plan_np.astype(np.float64), float("nan")
        out["pot_missing"] = "POT not installed (pip install -r requirements-bench.txt)"
    out["pot_seconds"] = t_pot
    out["pot_restarts_sequential_seconds"] = t_pot * config.restarts
    for mode, lse in (("kernel", False), ("lse", True)):
        single = jax.jit(lambda w, a, b, lse=lse: _jax_step(w, a, b, config.eps_scale, its, lse))
        batched = jax.jit(
            jax.vmap(
                lambda w, a, b, lse=lse: _jax_step(w, a, b, config.eps_scale, its, lse),
                in_axes=(0, None, None),
            )
        )
        jax.block_until_ready(single(wj[0], xj, yj))  # compile
        jax.block_until_ready(batched(wj, xj, yj))
        t1 = _median_time(lambda s=single: jax.block_until_ready(s(wj[0], xj, yj)), config.repeats)
        tb = _median_time(
            lambda b=batched: jax.block_until_ready(b(wj, xj, yj)), max(1, config.repeats // 2)
        )
        _, plan_j = single(wj[0], xj, yj)
        cost = program_cost(single, wj[0], xj, yj, while_trip_count=its // INNER_ITERATIONS)
        rl, rl_a = roofline(cost, t1, peaks), roofline(_analytic_cost(config), t1, peaks)
        print("  " + format_roofline(f"sinkhorn {mode} (XLA count)", rl), flush=True)
        print("  " + format_roofline(f"sinkhorn {mode} (analytic matvecs)", rl_a), flush=True)
        out[f"jax_{mode}_roofline"] = rl.as_dict()
        out[f"jax_{mode}_roofline_analytic"] = rl_a.as_dict()
        out[f"jax_{mode}_flops"] = cost.flops
        out[f"jax_{mode}_over_numpy_loop"] = t1 / t_np
        out[f"jax_{mode}_seconds"] = t1
        out[f"jax_{mode}_restarts_vmap_seconds"] = tb
        out[f"speedup_{mode}_single"] = t_pot / t1
        out[f"speedup_{mode}_restarts"] = t_pot * config.restarts / tb
        out[f"plan_{mode}_max_abs_diff"] = float(
            np.max(np.abs(np.asarray(plan_j, np.float64) - plan_p))
        )
    step = lambda w, a, b: _fast_step(w, a, b, config.eps_scale, its)  # noqa: E731
    single, batched = jax.jit(step), jax.jit(jax.vmap(step, in_axes=(0, None, None)))
    jax.block_until_ready((single(wj[0], xj, yj), batched(wj, xj, yj)))
    t1 = _median_time(lambda: jax.block_until_ready(single(wj[0], xj, yj)), config.repeats)
    reps = max(1, config.repeats // 2)
    tb = _median_time(lambda: jax.block_until_ready(batched(wj, xj, yj)), reps)
    plan_f = np.asarray(single(wj[0], xj, yj)[1], np.float64)
    out["fast_seconds"] = t1
    out["fast_restarts_vmap_seconds"] = tb
    out["fast_restarts_over_single"] = tb / t1
    out["fast_over_numpy_loop"] = t1 / t_np
    out["speedup_fast_single"] = t_pot / t1
    out["plan_fast_max_rel_diff"] = float(np.max(np.abs(plan_f - plan_p)) / plan_p.max())
    rl = roofline(_analytic_cost(config), t1, peaks)
    out["fast_roofline_analytic"] = rl.as_dict()
    print("  " + format_roofline("sinkhorn_fast (analytic matvecs)", rl), flush=True)
    out["plan_max"] = float(plan_p.max())
    t_np_rl = roofline(_analytic_cost(config), t_np, peaks)
    out["numpy_loop_roofline_analytic"] = t_np_rl.as_dict()
    print("  " + format_roofline("numpy float32 loop (analytic matvecs)", t_np_rl), flush=True)
    t_cost_np = _median_time(lambda: _np_poincare_cost(x64, y64), config.repeats)
    cost_j = jax.jit(lambda a, b: PoincareCost().all_pairs(a, b))
    jax.block_until_ready(cost_j(xj, yj))
    out["cost_matrix_jax_seconds"] = _median_time(
        lambda: jax.block_until_ready(cost_j(xj, yj)), config.repeats
    )
    out["cost_matrix_numpy_seconds"] = t_cost_np
    return out


# --- (a') the Sinkhorn solve alone: sinkhorn_fast vs POT vs NumPy, and restarts -------------

# Issue 18 goals: one solve >= 5x POT at the same iterations, within 2x of the NumPy float32
# loop, plans equal to 1e-6 relative; 8 restarts at most 4x one solve.
GOAL_OVER_POT, GOAL_OVER_NUMPY, GOAL_PLAN_REL, GOAL_RESTARTS = 5.0, 2.0, 1e-6, 4.0


def _read_probe(mib: int, reps: int):
    """``reps`` read passes over a ``mib`` MiB float32 buffer (a reduction that depends on the
    carry, so XLA cannot hoist it): the read bandwidth at that footprint (cache vs DRAM)."""
    x = jnp.linspace(0.0, 1.0, mib * 2**18, dtype=jnp.float32)
    fn = jax.jit(
        lambda c: (c[0], jax.lax.fori_loop(0, reps, lambda i, s: jnp.sum(c[0] * s) * 1e-7, c[1]))
    )
    return fn, (x, jnp.float32(1.0))


def bench_sinkhorn_solve(config: Config) -> dict:
    """The 1000 x 1000 Poincare Sinkhorn solve alone (cost matrix given), every side timed in the
    same interleaved rounds (jaxml.perf.interleaved_times; POT and NumPy as ``external``
    programs): POT ``ot.sinkhorn`` in float64 (NumPy's default) and float32, the plain NumPy
    float32 loop, ``sinkhorn_fast`` (float32), and ``R`` restarts with different costs
    (different rotations) as ``vmap`` and as :func:`sinkhorn_restarts` (sequential); also the
    one-pass solver (``one_pass=True``). The roof is the read bandwidth at
    the program's footprint: a kernel-mode iteration reads the ``n x n`` kernel twice (K, then
    K^T), ``8 n^2`` bytes in float32, also one solve's footprint (K~ and K~^T; the one-pass
    solver's is ``4 n^2``), R restarts' ``R`` times that."""
    n, its, r = config.num_points, config.sinkhorn_iterations, config.restarts
    x = _points(0, n, config.dim).astype(np.float64)
    y = _points(1, n, config.dim).astype(np.float64)
    rng = np.random.default_rng(2)
    ws = [np.linalg.qr(rng.normal(size=(config.dim,) * 2))[0] for _ in range(r)]
    costs64 = np.stack([_np_poincare_cost(x @ w.T, y) for w in ws])
    c64 = costs64[0]
    eps = config.eps_scale * float(c64.std())
    a64 = np.full(n, 1.0 / n)
    cj, cjs = jnp.asarray(c64, jnp.float32), jnp.asarray(costs64, jnp.float32)
    eps_r = jnp.asarray(config.eps_scale * costs64.reshape(r, -1).std(1), jnp.float32)
    kw = {"num_iterations": its, "check_every": INNER_ITERATIONS}
    one = jax.jit(lambda c: sinkhorn_stabilized(c, eps, **kw).plan)
    two = jax.jit(lambda c: sinkhorn_stabilized(c, eps, one_pass=True, **kw).plan)
    vm = jax.jit(jax.vmap(lambda c, e: sinkhorn_stabilized(c, e, **kw).plan))
    seq = jax.jit(lambda c, e: sinkhorn_restarts(c, e, **kw).plan)
    programs = {
        "fast": (lambda c: (c[0], one(c[0])), (cj, one(cj))),
        "fast_one_pass": (lambda c: (c[0], two(c[0])), (cj, two(cj))),
        "restarts_vmap": (lambda c: (c[0], vm(c[0], eps_r)), (cjs, vm(cjs, eps_r))),
        "restarts_seq": (lambda c: (c[0], seq(c[0], eps_r)), (cjs, seq(cjs, eps_r))),
    }
    one_mib = max(1, 8 * n * n // 2**20)
    # footprint MiB -> read passes; 1 GiB is beyond every cache (the VM reports a 480 MiB L3)
    probes = {"read_one_solve": one_mib, f"read_{r}_solves": r * one_mib, "read_dram": 1024}
    if config.scale == "tiny":
        probes = {"read_one_solve": 1, f"read_{r}_solves": r, "read_dram": 16}
    passes = {k: max(2, min(20, 8192 // mib)) for k, mib in probes.items()}
    for name, mib in probes.items():
        programs[name] = _read_probe(mib, passes[name])

    def timed(fn):
        def one_round():
            t0 = time.perf_counter()
            fn()
            return time.perf_counter() - t0

        return one_round

    def one_thread(fn):  # BLAS limited to one thread (a loaded machine punishes spinning pools)
        def run():
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1):
                return fn()

        return run

    plan_np = _numpy_sinkhorn(c64, config.eps_scale, its)
    np_loop = lambda: _numpy_sinkhorn(c64, config.eps_scale, its)  # noqa: E731
    external = {"numpy_f32": timed(np_loop), "numpy_f32_1thread": timed(one_thread(np_loop))}
    out = {"num_points": n, "iterations": its, "restarts": r, "epsilon": eps}
    plans = {"numpy_f32": plan_np.astype(np.float64), "fast": np.asarray(one(cj), np.float64)}
    plans["fast_one_pass"] = np.asarray(two(cj), np.float64)
    if _have("ot"):
        import ot

        def pot(dtype):
            a = a64.astype(dtype)
            c = c64.astype(dtype)
            return lambda: ot.sinkhorn(a, a, c, dtype(eps), numItermax=its, stopThr=0.0, warn=False)

        for name, dtype in (("pot_f64", np.float64), ("pot_f32", np.float32)):
            external[name] = timed(pot(dtype))
            plans[name] = np.asarray(pot(dtype)(), np.float64)
        external["pot_f64_1thread"] = timed(one_thread(pot(np.float64)))
        out["pot_version"] = ot.__version__
    else:
        out["pot_missing"] = "POT not installed (pip install -r requirements-bench.txt)"
    times = interleaved_times(programs, calls=1, repeats=config.repeats, external=external)
    med = {k: v["seconds_per_call"] for k, v in times.items()}
    fastest = {k: v["min_seconds_per_call"] for k, v in times.items()}
    out["seconds"], out["min_seconds"] = med, fastest
    # Bandwidth roofs: read passes over the probe's footprint, fastest round.
    roofs = {}
    for name, mib in probes.items():
        roofs[name] = passes[name] * mib * 2**20 / fastest[name]
    out["read_bandwidth_bytes_per_s"] = roofs
    # Bytes one solve must read: K~ twice per iteration (two products; 8 n^2 in float32). The
    # one-pass solver reads each row block once from memory and once more from cache, so its
    # "achieved" figure can exceed the bandwidth of the footprint.
    per_solve = 8.0 * n * n * its
    bw = {
        "fast": per_solve / fastest["fast"],
        "fast_one_pass": per_solve / fastest["fast_one_pass"],
        "numpy_f32": per_solve / fastest["numpy_f32"],
        "restarts_seq": r * per_solve / fastest["restarts_seq"],
        "restarts_vmap": r * per_solve / fastest["restarts_vmap"],
    }
    out["achieved_read_bytes_per_s"] = bw
    # Ratios: paired per round would mix processes; medians of the same rounds.
    ref = plans.get("pot_f64", plans["numpy_f32"])
    out["plan_rel_diff"] = {
        k: float(np.max(np.abs(p - ref)) / ref.max()) for k, p in plans.items() if p is not ref
    }
    out["plan_rel_diff_fast_vs_numpy_f32"] = float(
        np.max(np.abs(plans["fast"] - plans["numpy_f32"])) / plans["numpy_f32"].max()
    )
    if "pot_f64" in med:
        out["speedup_fast_over_pot_f64"] = med["pot_f64"] / med["fast"]
        out["speedup_fast_over_pot_f32"] = med["pot_f32"] / med["fast"]
        out["speedup_fast_over_pot_fastest_rounds"] = (
            min(fastest["pot_f64"], fastest["pot_f32"]) / fastest["fast"]
        )
        best_pot = min(med["pot_f64"], med["pot_f32"], med["pot_f64_1thread"])
        out["speedup_fast_over_pot"] = best_pot / med["fast"]
        out["meets_goal_over_pot"] = out["speedup_fast_over_pot"] >= GOAL_OVER_POT
    best_np = min(med["numpy_f32"], med["numpy_f32_1thread"])
    out["fast_over_numpy_f32"] = med["fast"] / best_np
    out["fast_over_numpy_f32_fastest_rounds"] = fastest["fast"] / fastest["numpy_f32"]
    out["meets_goal_within_2x_numpy"] = out["fast_over_numpy_f32"] <= GOAL_OVER_NUMPY
    out["restarts_vmap_over_one"] = med["restarts_vmap"] / med["fast"]
    out["restarts_seq_over_one"] = med["restarts_seq"] / med["fast"]
    out["restarts_over_one"] = min(out["restarts_vmap_over_one"], out["restarts_seq_over_one"])
    out["meets_goal_restarts"] = out["restarts_over_one"] <= GOAL_RESTARTS
    fmt = lambda k: f"{med[k]:.3f} s (fastest {fastest[k]:.3f})"  # noqa: E731
    print(f"(a') Sinkhorn solve, {n} x {n}, {its} iterations, interleaved rounds:", flush=True)
    out["one_pass_speedup"] = med["fast"] / med["fast_one_pass"]
    keys = ("fast", "fast_one_pass", "numpy_f32", "numpy_f32_1thread", "pot_f64", "pot_f32")
    keys = (*keys, "pot_f64_1thread")
    for k in (*keys, "restarts_seq", "restarts_vmap"):
        if k in med:
            extra = f", reads {bw[k] / 1e9:.1f} GB/s" if k in bw else ""
            diff = out["plan_rel_diff"].get(k)
            extra += f", plan rel. diff {diff:.1e} vs POT float64" if diff is not None else ""
            print(f"    {k:>14}: {fmt(k)}{extra}", flush=True)
    print(
        "    read bandwidth by footprint (roof): "
        + ", ".join(f"{k} ({probes[k]} MiB) {v / 1e9:.1f} GB/s" for k, v in roofs.items()),
        flush=True,
    )
    if "speedup_fast_over_pot" in out:
        print(
            f"    sinkhorn_fast / POT: x{out['speedup_fast_over_pot']:.2f} (vs its fastest run; "
            f"f64 x{out['speedup_fast_over_pot_f64']:.2f}, f32 "
            f"x{out['speedup_fast_over_pot_f32']:.2f}); goal >= {GOAL_OVER_POT}: "
            f"{'met' if out['meets_goal_over_pot'] else 'NOT met'}",
            flush=True,
        )
    print(
        f"    sinkhorn_fast / NumPy float32 loop (its faster thread count): "
        f"{out['fast_over_numpy_f32']:.2f} (goal <= "
        f"{GOAL_OVER_NUMPY}: {'met' if out['meets_goal_within_2x_numpy'] else 'NOT met'}); "
        f"plan vs NumPy float32 {out['plan_rel_diff_fast_vs_numpy_f32']:.1e} relative; "
        f"{r} restarts / one solve: sequential {out['restarts_seq_over_one']:.2f}, vmap "
        f"{out['restarts_vmap_over_one']:.2f} (goal <= {GOAL_RESTARTS}: "
        f"{'met' if out['meets_goal_restarts'] else 'NOT met'}); roof for {r} restarts at the "
        f"{r}-solve footprint: {r * per_solve / roofs[f'read_{r}_solves'] / fastest['fast']:.2f}"
        f"x one solve's time",
        flush=True,
    )
    return out


# --- (b) embedding training ---------------------------------------------------------------


def _gensim(config: Config, h) -> dict:
    from gensim.models.poincare import PoincareModel

    relations = [(h.names[a], h.names[b]) for a, b in h.edges]
    t0 = time.perf_counter()
    model = PoincareModel(
        relations,
        size=config.embed_dim,
        negative=config.embed_negatives,
        burn_in=config.embed_burn_in,
        seed=0,
    )
    model.train(epochs=config.embed_epochs, batch_size=10, print_every=10**9)
    t_gensim = time.perf_counter() - t0
    gensim_emb = np.stack([model.kv[name] for name in h.names]).astype(np.float64)
    gensim_emb = np.asarray(P.project(gensim_emb, 1e-7))
    rec_g = reconstruction_metrics(gensim_emb.astype(np.float32), h.edges)
    epochs = config.embed_epochs + config.embed_burn_in  # gensim adds its burn-in
    return {
        "gensim_relations_per_second": len(relations) * epochs / t_gensim,
        "gensim_map": float(rec_g.map),
        "gensim_mean_rank": float(rec_g.mean_rank),
        "gensim_seconds": t_gensim,
    }


def bench_embeddings(config: Config, peaks) -> dict:
    h = wordnet_hierarchy(config.root)
    epochs = config.embed_epochs + config.embed_burn_in
    out = {"root": config.root, "relations": len(h.edges), "epochs": epochs, "jax": {}}
    if _have("gensim"):
        out.update(_gensim(config, h))
    else:
        out["gensim_missing"] = "gensim not installed (pip install -r requirements-bench.txt)"
        out["gensim_relations_per_second"] = float("nan")
    rate_g = out["gensim_relations_per_second"]
    for lr in config.embed_lrs:
        kwargs = dict(
            num_negatives=config.embed_negatives,
            burn_in_epochs=config.embed_burn_in,
            batch_size=10,
            learning_rate=lr,
        )
        res = train_poincare_embeddings(
            h.edges,
            h.num_nodes,
            config.embed_dim,
            jax.random.key(0),
            num_epochs=epochs,
            return_info=True,
            **kwargs,
        )
        rec_j = reconstruction_metrics(res.embeddings, h.edges)
        init, epoch = make_poincare_trainer(h.edges, h.num_nodes, config.embed_dim, **kwargs)
        cost = program_cost(epoch, init(jax.random.key(0)), jax.random.key(1))
        rl = roofline(cost, len(h.edges) / res.relations_per_second, peaks)
        print("  " + format_roofline(f"embedding epoch, lr {lr:g}", rl), flush=True)
        out["jax"][f"lr={lr:g}"] = {
            "relations_per_second": res.relations_per_second,
            "speedup": res.relations_per_second / rate_g,
            "map": float(rec_j.map),
            "mean_rank": float(rec_j.mean_rank),
            "seconds": res.train_seconds,
            "epoch_roofline": rl.as_dict(),
        }
    return out


def main(argv=None) -> dict:
    config, _ = parse_config(Config, argv, description=__doc__.splitlines()[0])
    out = {"config": dataclasses.asdict(config), "device": device_info()}
    print(f"[hyperbolic_speed] {config}", flush=True)
    peaks = measure_peaks(matmul_n=config.matmul_n, copy_mib=64 if config.scale == "tiny" else 256)
    out["peaks"] = peaks._asdict()
    print(
        f"machine: matmul {peaks.matmul_flops_per_s / 1e9:.1f} GFLOP/s, copy "
        f"{peaks.copy_bytes_per_s / 1e9:.2f} GB/s (measured in this process)",
        flush=True,
    )
    out["sinkhorn_solve"] = bench_sinkhorn_solve(config)
    out["alignment_step"] = a = bench_alignment(config, peaks)
    print(
        f"(a) alignment step, {a['num_points']} x {a['num_points']}, d = {a['dim']}, "
        f"{a['sinkhorn_iterations']} Sinkhorn iterations: POT {a['pot_seconds']:.3f} s; "
        f"jaxml kernel {a['jax_kernel_seconds']:.3f} s (x{a['speedup_kernel_single']:.2f}), "
        f"lse {a['jax_lse_seconds']:.3f} s (x{a['speedup_lse_single']:.2f}); "
        f"{a['restarts']} restarts (vmap vs POT one after another): kernel "
        f"x{a['speedup_kernel_restarts']:.2f}, lse x{a['speedup_lse_restarts']:.2f}; "
        f"cost matrix jax {a['cost_matrix_jax_seconds']:.4f} s vs numpy "
        f"{a['cost_matrix_numpy_seconds']:.4f} s; max |plan diff| "
        f"{a['plan_kernel_max_abs_diff']:.1e} / {a['plan_lse_max_abs_diff']:.1e} "
        f"(max entry {a['plan_max']:.1e})",
        flush=True,
    )
    print(
        f"    NumPy float32 loop {a['numpy_float32_loop_seconds']:.3f} s; jaxml kernel / NumPy "
        f"x{a['jax_kernel_over_numpy_loop']:.2f}, lse / NumPy x{a['jax_lse_over_numpy_loop']:.2f}; "
        f"sinkhorn_fast {a['fast_seconds']:.3f} s (/ NumPy x{a['fast_over_numpy_loop']:.2f}, "
        f"{a['restarts']} vmapped restarts / one x{a['fast_restarts_over_single']:.2f}, max plan "
        f"diff {a['plan_fast_max_rel_diff']:.1e} of the max entry)",
        flush=True,
    )
    out["embedding_training"] = b = bench_embeddings(config, peaks)
    jax_rows = "; ".join(
        f"{k}: {v['relations_per_second']:,.0f} rel/s (x{v['speedup']:.1f}), MAP {v['map']:.3f},"
        f" rank {v['mean_rank']:.2f}"
        for k, v in b["jax"].items()
    )
    print(
        f"(b) embeddings, {b['relations']} relations x {b['epochs']} epochs: gensim "
        f"{b['gensim_relations_per_second']:,.0f} rel/s, MAP "
        f"{b.get('gensim_map', float('nan')):.3f}, rank "
        f"{b.get('gensim_mean_rank', float('nan')):.2f}; jaxml {jax_rows}",
        flush=True,
    )
    write_json_atomic(Path(config.out), out)
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
