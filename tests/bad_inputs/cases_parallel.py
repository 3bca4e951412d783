"""Bad calls to jaxml.parallel (see tests/bad_inputs/audit.py). One CPU device is enough: the mesh
has one device, and nothing here starts a process (every bad call raises before that)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml import parallel as par
from jaxml.models import MLP
from jaxml.testing import bad_calls
from jaxml.train import batch_sampler

F = "jaxml.parallel."
_VT = (ValueError, TypeError)
_P = {"w": jnp.ones((3,)), "b": jnp.zeros(())}
_G = {"w": jnp.full((3,), 0.5), "b": jnp.ones(())}
_NAN = {"w": jnp.array([0.5, np.nan, 0.5]), "b": jnp.ones(())}
_MESH = par.device_mesh(1, "d")
_MODEL = MLP(hidden=(4,), num_outputs=2)
_X = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
_Y = (np.arange(8) % 2).astype(np.int32)
_SAMPLER = batch_sampler(8, 4, rule="without_replacement")
_ADDR = "127.0.0.1:12355"


def _cases(name, arg, items, errors=_VT):
    return bad_calls(F + name, arg, items, errors)


def _dc(**kw):
    args = {"learning_rate": 0.1, "lam": 0.04, "staleness": 1}
    return par.dc_s3gd(**(args | kw))


def _sync(**kw):
    return par.sync_sgd(**({"learning_rate": 0.1} | kw))


def _we(**kw):
    args = {"process_id": 0, "num_processes": 2, "coordinator_address": _ADDR}
    return par.worker_env(**(args | {"devices_per_process": 1} | kw))


def _init(**kw):
    args = {"coordinator_address": _ADDR, "num_processes": 2, "process_id": 0}
    return par.initialize_distributed(**(args | kw))


def _cluster(**kw):
    args = {"argv": ["-c", "pass"], "num_processes": 1, "devices_per_process": 1}
    return par.LocalCluster(**(args | kw))


def _launch(**kw):
    args = {"argv": ["-c", "pass"], "num_processes": 1, "devices_per_process": 1}
    return par.launch_local(**(args | kw))


def _sweep(**kw):
    args = {"apply_fn": _MODEL.apply, "optimizer_fn": lambda lr: _sync(learning_rate=lr)}
    args |= {"mesh": _MESH, "num_examples": 8, "global_batch": 4, "steps_per_call": 2}
    return par.data_parallel_sweep(**(args | kw))


def _init_sweep(**kw):
    args = {"init_fn": lambda k: _MODEL.init(k, _X[:1]), "optimizer": _sync(), "seeds": [0, 1]}
    return par.init_sweep_state(**(args | {"num_configs": 2, "mesh": _MESH} | kw))


def _step(**kw):
    args = {"apply_fn": _MODEL.apply, "optimizer": _sync(), "axis_name": None}
    return par.make_data_parallel_step(**(args | kw))


def _ratio(**kw):
    args = {"numerator": np.full(9, 1.1), "denominator": np.ones(9)}
    return par.ratio_interval(**(args | kw))


def _timed(**kw):
    step = (lambda s: (s + 1, None), 0.0)
    return par.time_interleaved(**({"steps": {"a": step}, "calls": 1, "repeats": 1} | kw))


_HLO = []  # the compiled text of x -> x + 1, made on first use


def _hlo():
    if not _HLO:
        _HLO.append(jax.jit(lambda x: x + 1.0).lower(1.0).compile().as_text())
    return _HLO[0]


CASES = [
    # ---- optimizers ---------------------------------------------------------------------------
    *_cases(
        "dc_s3gd",
        "staleness",
        [
            ("-1", lambda: _dc(staleness=-1)),
            ("2.0", lambda: _dc(staleness=2.0)),
            ("'1'", lambda: _dc(staleness="1")),
            ("None", lambda: _dc(staleness=None)),
        ],
    ),  # noqa: E501
    *_cases(
        "dc_s3gd",
        "lam",
        [
            ("-0.1", lambda: _dc(lam=-0.1)),
            ("NaN", lambda: _dc(lam=float("nan"))),
            ("'0.04'", lambda: _dc(lam="0.04")),
            ("None", lambda: _dc(lam=None)),
        ],
    ),  # noqa: E501
    *_cases(
        "dc_s3gd",
        "learning_rate",
        [
            ("0", lambda: _dc(learning_rate=0.0)),
            ("-0.1", lambda: _dc(learning_rate=-0.1)),
            ("inf", lambda: _dc(learning_rate=float("inf"))),
            ("'0.1'", lambda: _dc(learning_rate="0.1")),
            ("[0.1, 0.2]", lambda: _dc(learning_rate=jnp.array([0.1, 0.2]))),
        ],
    ),  # noqa: E501
    *_cases(
        "dc_s3gd",
        "momentum",
        [
            ("1.0", lambda: _dc(momentum=1.0)),
            ("-0.5", lambda: _dc(momentum=-0.5)),
            ("NaN", lambda: _dc(momentum=float("nan"))),
            ("'0.9'", lambda: _dc(momentum="0.9")),
        ],
    ),  # noqa: E501
    *_cases(
        "dc_s3gd",
        "variant",
        [("'fresh'", lambda: _dc(variant="fresh")), ("None", lambda: _dc(variant=None))],
    ),  # noqa: E501
    *_cases(
        "dc_s3gd",
        "mean_square_decay",
        [
            ("1.0", lambda: _dc(mean_square_decay=1.0)),
            ("-0.1", lambda: _dc(mean_square_decay=-0.1)),
            ("'0.95'", lambda: _dc(mean_square_decay="0.95")),
        ],
    ),  # noqa: E501
    *_cases(
        "dc_s3gd", "eps", [("0", lambda: _dc(eps=0.0)), ("NaN", lambda: _dc(eps=float("nan")))]
    ),  # noqa: E501
    *_cases(
        "dc_s3gd",
        "axis_name",
        [("[]", lambda: _dc(axis_name=[])), ("a dict", lambda: _dc(axis_name={"a": 1}))],
    ),  # noqa: E501
    *_cases("dc_s3gd", "flatten", [("'yes'", lambda: _dc(flatten="yes"))]),
    *_cases(
        "dc_s3gd", "params", [("update without params", lambda: _dc().update(_G, _dc().init(_P)))]
    ),  # noqa: E501
    *_cases(
        "sync_sgd",
        "learning_rate",
        [
            ("0", lambda: _sync(learning_rate=0)),
            ("None", lambda: _sync(learning_rate=None)),
            ("NaN", lambda: _sync(learning_rate=float("nan"))),
        ],
    ),  # noqa: E501
    *_cases(
        "sync_sgd",
        "momentum",
        [("1.5", lambda: _sync(momentum=1.5)), ("'0.9'", lambda: _sync(momentum="0.9"))],
    ),  # noqa: E501
    *_cases("sync_sgd", "axis_name", [("()", lambda: _sync(axis_name=()))]),
    *_cases("sync_sgd", "flatten", [("1", lambda: _sync(flatten=1))]),
    *_cases(
        "mean_across",
        "axis_name",
        [
            ("a list in a tuple", lambda: par.mean_across((["d"],))),
            ("3.5", lambda: par.mean_across(3.5)),
        ],
    ),  # noqa: E501
    *_cases("mean_across", "flatten", [("'no'", lambda: par.mean_across("d", flatten="no"))]),
    # ---- compensation -------------------------------------------------------------------------
    *_cases(
        "delay_compensation",
        "params",
        [
            ("other structure", lambda: par.delay_compensation(_G, {"w": _P["w"]}, _P, 0.1)),
            (
                "other shape",
                lambda: par.delay_compensation(_G, {"w": jnp.ones(4), "b": _P["b"]}, _P, 0.1),
            ),
            ("NaN", lambda: par.delay_compensation(_G, _NAN, _P, 0.1)),
        ],
    ),  # noqa: E501
    *_cases(
        "delay_compensation",
        "stale_grads",
        [
            ("NaN", lambda: par.delay_compensation(_NAN, _P, _P, 0.1)),
            ("empty", lambda: par.delay_compensation({}, {}, {}, 0.1)),
        ],
    ),  # noqa: E501
    *_cases(
        "delay_compensation",
        "stale_params",
        [
            (
                "other shape",
                lambda: par.delay_compensation(_G, _P, {"w": jnp.ones(2), "b": _P["b"]}, 0.1),
            )
        ],
    ),  # noqa: E501
    *_cases(
        "delay_compensation",
        "lam",
        [
            ("-1", lambda: par.delay_compensation(_G, _P, _P, -1.0)),
            ("NaN", lambda: par.delay_compensation(_G, _P, _P, float("nan"))),
            ("'0.1'", lambda: par.delay_compensation(_G, _P, _P, "0.1")),
            ("a list", lambda: par.delay_compensation(_G, _P, _P, [0.1, 0.2])),
        ],
    ),  # noqa: E501
    *_cases(
        "adaptive_lambda",
        "lam0",
        [
            ("-2", lambda: par.adaptive_lambda(-2.0, _G)),
            ("None", lambda: par.adaptive_lambda(None, _G)),
        ],
    ),  # noqa: E501
    *_cases(
        "adaptive_lambda",
        "eps",
        [
            ("0", lambda: par.adaptive_lambda(2.0, _G, eps=0.0)),
            ("'1e-7'", lambda: par.adaptive_lambda(2.0, _G, eps="1e-7")),
        ],
    ),  # noqa: E501
    *_cases(
        "adaptive_lambda",
        "mean_square",
        [
            ("negative", lambda: par.adaptive_lambda(2.0, {"w": -jnp.ones(3)})),
            ("NaN", lambda: par.adaptive_lambda(2.0, _NAN)),
            ("empty", lambda: par.adaptive_lambda(2.0, {})),
        ],
    ),  # noqa: E501
    # ---- step, drivers, sweep -----------------------------------------------------------------
    *_cases(
        "make_data_parallel_step",
        "optimizer",
        [
            ("optax.sgd (a function)", lambda: _step(optimizer=optax.sgd)),
            ("None", lambda: _step(optimizer=None)),
        ],
    ),  # noqa: E501
    *_cases("make_data_parallel_step", "apply_fn", [("the model", lambda: _step(apply_fn=_MODEL))]),  # noqa: E501
    *_cases("make_data_parallel_step", "axis_name", [("[]", lambda: _step(axis_name=[]))]),
    *_cases(
        "device_mesh",
        "num_devices",
        [
            ("0", lambda: par.device_mesh(0)),
            ("more than exist", lambda: par.device_mesh(10_000)),
            ("2.0", lambda: par.device_mesh(2.0)),
        ],
    ),  # noqa: E501
    *_cases("device_mesh", "axis_name", [("None", lambda: par.device_mesh(1, None))]),
    *_cases(
        "device_mesh",
        "devices",
        [
            ("strings", lambda: par.device_mesh(1, devices=["cpu"])),
            ("empty", lambda: par.device_mesh(devices=[])),
        ],
    ),  # noqa: E501
    *_cases(
        "split_batch",
        "num_devices",
        [
            ("3 for a batch of 8", lambda: par.split_batch(_X, 3)),
            ("0", lambda: par.split_batch(_X, 0)),
            ("-2", lambda: par.split_batch(_X, -2)),
        ],
    ),  # noqa: E501
    *_cases(
        "split_batch",
        "x",
        [
            ("a scalar", lambda: par.split_batch(jnp.ones(()), 2)),
            ("leaves of 8 and 6 rows", lambda: par.split_batch((_X, _Y[:6]), 2)),
            ("empty", lambda: par.split_batch({}, 2)),
        ],
    ),  # noqa: E501
    *_cases(
        "replicate",
        "num_devices",
        [("0", lambda: par.replicate(_P, 0)), ("'2'", lambda: par.replicate(_P, "2"))],
    ),  # noqa: E501
    *_cases("replicate", "tree", [("empty", lambda: par.replicate({}, 2))]),
    *_cases(
        "shard_sampler",
        "num_devices",
        [
            ("0", lambda: par.shard_sampler(_SAMPLER, 0, "d")),
            ("1.5", lambda: par.shard_sampler(_SAMPLER, 1.5, "d")),
        ],
    ),  # noqa: E501
    *_cases("shard_sampler", "sampler", [("None", lambda: par.shard_sampler(None, 2, "d"))]),
    *_cases("shard_sampler", "axis_name", [("None", lambda: par.shard_sampler(_SAMPLER, 2, None))]),  # noqa: E501
    *_cases(
        "shard_sampler",
        "num_devices",
        [
            (
                "3 for a batch of 4",
                lambda: par.shard_sampler(_SAMPLER, 3, "d")(jax.random.key(0), 0),
            )
        ],
    ),  # noqa: E501
    *_cases("pmap_driver", "step", [("None", lambda: par.pmap_driver(None, axis_name="d"))]),
    *_cases(
        "pmap_driver", "axis_name", [("None", lambda: par.pmap_driver(lambda s: s, axis_name=None))]
    ),  # noqa: E501
    *_cases(
        "pmap_driver",
        "broadcast_argnums",
        [
            ("-1", lambda: par.pmap_driver(lambda s: s, axis_name="d", broadcast_argnums=(-1,))),
            ("'1'", lambda: par.pmap_driver(lambda s: s, axis_name="d", broadcast_argnums="1")),
        ],
    ),  # noqa: E501
    *_cases(
        "pmap_driver",
        "donate_state",
        [("'yes'", lambda: par.pmap_driver(lambda s: s, axis_name="d", donate_state="yes"))],
    ),  # noqa: E501
    *_cases(
        "shard_map_driver",
        "mesh",
        [
            ("None", lambda: par.shard_map_driver(lambda s: s, None)),
            ("a device list", lambda: par.shard_map_driver(lambda s: s, jax.devices())),
        ],
    ),  # noqa: E501
    *_cases(
        "shard_map_driver", "step", [("a string", lambda: par.shard_map_driver("step", _MESH))]
    ),  # noqa: E501
    *_cases(
        "shard_map_driver",
        "state",
        [
            (
                "unstacked (no device axis)",
                lambda: par.shard_map_driver(lambda s: s, _MESH, arg_names=("state",))(
                    jnp.ones(3).sum()
                ),
            )
        ],
    ),  # noqa: E501
    *_cases(
        "shard_map_driver",
        "arg_names",
        [("a string", lambda: par.shard_map_driver(lambda s: s, _MESH, arg_names="state"))],
    ),  # noqa: E501
    *_cases(
        "put_sharded",
        "tree",
        [
            ("no device axis (a scalar)", lambda: par.put_sharded(1.0, _MESH)),
            ("2 rows for 1 device", lambda: par.put_sharded(np.ones((2, 3)), _MESH)),
            ("empty", lambda: par.put_sharded({}, _MESH)),
        ],
    ),  # noqa: E501
    *_cases("put_sharded", "mesh", [("None", lambda: par.put_sharded(np.ones((1, 3)), None))]),
    *_cases("put_replicated", "mesh", [("a string", lambda: par.put_replicated(_X, "mesh"))]),
    *_cases("put_replicated", "tree", [("empty", lambda: par.put_replicated([], _MESH))]),
    *_cases(
        "addressable_rows", "tree", [("a scalar leaf", lambda: par.addressable_rows({"a": 1.0}))]
    ),  # noqa: E501
    *_cases(
        "data_parallel_sweep",
        "global_batch",
        [
            ("0", lambda: _sweep(global_batch=0)),
            ("more than the examples", lambda: _sweep(global_batch=16)),
            ("4.0", lambda: _sweep(global_batch=4.0)),
        ],
    ),  # noqa: E501
    *_cases("data_parallel_sweep", "steps_per_call", [("0", lambda: _sweep(steps_per_call=0))]),
    *_cases("data_parallel_sweep", "mesh", [("None", lambda: _sweep(mesh=None))]),
    *_cases(
        "data_parallel_sweep",
        "optimizer_fn",
        [("an optimizer, not a function", lambda: _sweep(optimizer_fn=None))],
    ),  # noqa: E501
    *_cases("data_parallel_sweep", "rule", [("'shuffle'", lambda: _sweep(rule="shuffle"))]),
    *_cases(
        "data_parallel_sweep",
        "state",
        [
            (
                "unstacked state",
                lambda: _sweep()(np.ones(3), _X, _Y, np.zeros((2, 2), np.uint32), np.ones(2), 0),
            )
        ],
    ),  # noqa: E501
    *_cases(
        "init_sweep_state",
        "seeds",
        [
            ("floats", lambda: _init_sweep(seeds=[0.5, 1.5])),
            ("empty", lambda: _init_sweep(seeds=[])),
            ("2-D", lambda: _init_sweep(seeds=[[0, 1]])),
        ],
    ),  # noqa: E501
    *_cases("init_sweep_state", "num_configs", [("0", lambda: _init_sweep(num_configs=0))]),
    *_cases("init_sweep_state", "optimizer", [("None", lambda: _init_sweep(optimizer=None))]),
    *_cases("init_sweep_state", "mesh", [("a list", lambda: _init_sweep(mesh=[0]))]),
    *_cases(
        "sweep_evaluator",
        "splits",
        [
            ("a list", lambda: par.sweep_evaluator(_MODEL.apply, [(_X, _Y)])),
            (
                "labels of another length",
                lambda: par.sweep_evaluator(_MODEL.apply, {"t": (_X, _Y[:5])}),
            ),
            (
                "NaN in x",
                lambda: par.sweep_evaluator(_MODEL.apply, {"t": (np.full((8, 3), np.nan), _Y)}),
            ),
            ("negative labels", lambda: par.sweep_evaluator(_MODEL.apply, {"t": (_X, -_Y - 1)})),
        ],
    ),  # noqa: E501
    *_cases(
        "sweep_evaluator",
        "apply_fn",
        [("None", lambda: par.sweep_evaluator(None, {"t": (_X, _Y)}))],
    ),  # noqa: E501
    # ---- timing -------------------------------------------------------------------------------
    *_cases(
        "ratio_interval",
        "numerator",
        [
            (
                "5 pairs (too few for 95 %)",
                lambda: _ratio(numerator=np.ones(5), denominator=np.ones(5)),
            ),
            ("a zero time", lambda: _ratio(numerator=np.r_[0.0, np.ones(8)])),
            ("NaN", lambda: _ratio(numerator=np.r_[np.nan, np.ones(8)])),
            ("2-D", lambda: _ratio(numerator=np.ones((3, 3)))),
        ],
    ),  # noqa: E501
    *_cases(
        "ratio_interval",
        "denominator",
        [
            ("8 for 9", lambda: _ratio(denominator=np.ones(8))),
            ("negative", lambda: _ratio(denominator=-np.ones(9))),
        ],
    ),  # noqa: E501
    *_cases(
        "ratio_interval",
        "confidence",
        [("1.0", lambda: _ratio(confidence=1.0)), ("95 (percent)", lambda: _ratio(confidence=95))],
    ),  # noqa: E501
    *_cases("time_interleaved", "calls", [("0", lambda: _timed(calls=0))]),
    *_cases("time_interleaved", "repeats", [("2.5", lambda: _timed(repeats=2.5))]),
    *_cases(
        "time_interleaved",
        "steps",
        [
            ("a list", lambda: _timed(steps=[(lambda s: s, 0)])),
            ("a bare function", lambda: _timed(steps={"a": lambda s: s})),
        ],
    ),  # noqa: E501
    # ---- HLO ----------------------------------------------------------------------------------
    *_cases(
        "collective_dependence",
        "hlo_text",
        [
            ("None", lambda: par.collective_dependence(None)),
            ("no ENTRY", lambda: par.collective_dependence("HloModule m\n")),
        ],
    ),  # noqa: E501
    *_cases(
        "collective_dependence",
        "out_tree",
        [("2 leaves for 1 output", lambda: par.collective_dependence(_hlo(), (1, 2)))],
    ),  # noqa: E501
    # ---- multi-process ------------------------------------------------------------------------
    *_cases(
        "worker_env",
        "process_id",
        [
            ("2 of 2", lambda: _we(process_id=2)),
            ("-1", lambda: _we(process_id=-1)),
            ("'0'", lambda: _we(process_id="0")),
        ],
    ),  # noqa: E501
    *_cases(
        "worker_env",
        "num_processes",
        [
            ("0", lambda: _we(num_processes=0, process_id=0)),
            ("2.0", lambda: _we(num_processes=2.0)),
        ],
    ),  # noqa: E501
    *_cases(
        "worker_env",
        "coordinator_address",
        [
            ("no port", lambda: _we(coordinator_address="localhost")),
            ("None", lambda: _we(coordinator_address=None)),
        ],
    ),  # noqa: E501
    *_cases("worker_env", "devices_per_process", [("0", lambda: _we(devices_per_process=0))]),
    *_cases("worker_env", "base_env", [("int values", lambda: _we(base_env={"A": 1}))]),
    *_cases("initialize_distributed", "process_id", [("3 of 2", lambda: _init(process_id=3))]),
    *_cases(
        "initialize_distributed",
        "num_processes",
        [("0", lambda: _init(num_processes=0)), ("True", lambda: _init(num_processes=True))],
    ),  # noqa: E501
    *_cases(
        "initialize_distributed",
        "heartbeat_timeout_s",
        [("0", lambda: _init(heartbeat_timeout_s=0))],
    ),  # noqa: E501
    *_cases(
        "initialize_distributed",
        "coordinator_address",
        [("'host' without port", lambda: _init(coordinator_address="host"))],
    ),  # noqa: E501
    *_cases(
        "initialize_distributed",
        "cpu_collectives",
        [("'nccl'", lambda: _init(cpu_collectives="nccl"))],
    ),  # noqa: E501
    *_cases(
        "initialize_from_env",
        "initialization_timeout_s",
        [("-5", lambda: par.initialize_from_env(initialization_timeout_s=-5))],
    ),  # noqa: E501
    *_cases(
        "host_device_flags",
        "num_devices",
        [("0", lambda: par.host_device_flags(0)), ("'8'", lambda: par.host_device_flags("8"))],
    ),  # noqa: E501
    *_cases("host_device_flags", "flags", [("a list", lambda: par.host_device_flags(2, ["--a"]))]),  # noqa: E501
    *_cases("requested_host_devices", "flags", [("an int", lambda: par.requested_host_devices(8))]),  # noqa: E501
    *_cases("free_port", "host", [("None", lambda: par.free_port(None))]),
    *_cases(
        "Watchdog",
        "timeout_s",
        [
            ("0", lambda: par.Watchdog(0)),
            ("NaN", lambda: par.Watchdog(float("nan"))),
            ("'60'", lambda: par.Watchdog("60")),
        ],
    ),  # noqa: E501
    *_cases("Watchdog", "exit_code", [("0", lambda: par.Watchdog(1, exit_code=0))]),
    *_cases("LocalCluster", "num_processes", [("0", lambda: _cluster(num_processes=0))]),
    *_cases(
        "LocalCluster",
        "argv",
        [
            ("a string", lambda: _cluster(argv="-c pass")),
            ("an int inside", lambda: _cluster(argv=["-c", 1])),
        ],
    ),  # noqa: E501
    *_cases(
        "LocalCluster", "devices_per_process", [("0", lambda: _cluster(devices_per_process=0))]
    ),  # noqa: E501
    *_cases(
        "LocalCluster",
        "cwd",
        [("missing folder", lambda: _cluster(cwd="/no/such/folder"))],
        (FileNotFoundError,),
    ),  # noqa: E501
    *_cases(
        "launch_local",
        "timeout_s",
        [("0", lambda: _launch(timeout_s=0)), ("-1", lambda: _launch(timeout_s=-1.0))],
    ),  # noqa: E501
    *_cases("launch_local", "peer_exit_grace_s", [("-1", lambda: _launch(peer_exit_grace_s=-1.0))]),  # noqa: E501
    *_cases("launch_local", "num_processes", [("-1", lambda: _launch(num_processes=-1))]),
    *_cases("launch_local", "extra_env", [("int values", lambda: _launch(extra_env={"A": 1}))]),
]

EXEMPT = {
    F + "VARIANTS": "a constant tuple",
    F + "CollectiveDependence": "a NamedTuple result of collective_dependence",
    F + "DCS3GDState": "a NamedTuple state built by dc_s3gd's init",
    F + "DistributedInfo": "a NamedTuple result of initialize_distributed",
    F + "DistributedRunError": "an exception type",
    F + "ProcessResult": "a NamedTuple result of LocalCluster.wait",
    F + "RatioInterval": "a NamedTuple result of ratio_interval",
}

# ---- jaxml.parallel.hyper (IFT x DC-S3GD, issue 19) ---------------------------------------------
_HP = {"log_decay": jnp.zeros(()), "log_lam": jnp.zeros(())}


def _hl(p, h, x, y):
    return jnp.mean((x @ p["w"] + p["b"] - y) ** 2) + jnp.exp(h["log_decay"]) * p["b"] ** 2


_XH, _YH = jnp.ones((2, 4, 3)), jnp.ones((2, 4))


def _tdc(**kw):
    return par.traced_dc_s3gd(**({"learning_rate": 0.1, "lam": 1.0, "staleness": 1} | kw))


def _dph(**kw):
    args = {"axis_name": None, "train_args": (_XH[0], _YH[0]), "val_args": (_XH[1], _YH[1])}
    args |= {"train_loss": _hl, "val_loss": _hl, "params": _P, "hparams": _HP}
    return par.data_parallel_hypergradient(**(args | kw))


def _dlh(**kw):
    state = par.traced_dc_s3gd(0.1, 1.0).init(_P)
    args = {"train_loss": _hl, "val_loss": _hl, "params": _P, "opt_state": state}
    args |= {"hparams": _HP, "log_lam": jnp.zeros(()), "train_batches": (_XH, _YH)}
    args |= {"val_args": (_XH[0], _YH[0]), "learning_rate": 0.1}
    return par.dc_lambda_hypergradient(**(args | kw))


def _dcb(**kw):
    args = {"train_loss": _hl, "val_loss": _hl, "outer_optimizer": optax.adam(0.1)}
    return par.dc_bilevel(**(args | {"learning_rate": 0.1, "unroll_steps": 1} | kw))


CASES += [
    *_cases(
        "traced_dc_s3gd",
        "lam",
        [
            ("-1", lambda: _tdc(lam=-1.0)),
            ("'1'", lambda: _tdc(lam="1")),
            ("[2] array", lambda: _tdc(lam=jnp.ones(2))),
        ],
    ),
    *_cases("traced_dc_s3gd", "staleness", [("0", lambda: _tdc(staleness=0))]),
    *_cases(
        "traced_dc_s3gd",
        "learning_rate",
        [
            ("0", lambda: _tdc(learning_rate=0.0)),
            ("schedule", lambda: _tdc(learning_rate=optax.constant_schedule(0.1))),
        ],
    ),
    *_cases("data_parallel_hypergradient", "train_loss", [("None", lambda: _dph(train_loss=None))]),
    *_cases("data_parallel_hypergradient", "num_terms", [("-1", lambda: _dph(num_terms=-1))]),
    *_cases("data_parallel_hypergradient", "alpha", [("0", lambda: _dph(alpha=0.0))]),
    *_cases("data_parallel_hypergradient", "train_args", [("a str", lambda: _dph(train_args="x"))]),
    *_cases(
        "data_parallel_hypergradient", "axis_name", [("a dict", lambda: _dph(axis_name={"d": 1}))]
    ),
    *_cases("dc_lambda_hypergradient", "train_batches", [("()", lambda: _dlh(train_batches=()))]),
    *_cases(
        "dc_lambda_hypergradient",
        "log_lam",
        [
            ("[2] array", lambda: _dlh(log_lam=jnp.ones(2))),
            ("NaN", lambda: _dlh(log_lam=float("nan"))),
        ],
    ),
    *_cases("dc_lambda_hypergradient", "staleness", [("0", lambda: _dlh(staleness=0))]),
    *_cases("dc_lambda_hypergradient", "val_args", [("an array", lambda: _dlh(val_args=_XH))]),
    *_cases("dc_bilevel", "outer_optimizer", [("'adam'", lambda: _dcb(outer_optimizer="adam"))]),
    *_cases("dc_bilevel", "unroll_steps", [("0", lambda: _dcb(unroll_steps=0))]),
    *_cases("dc_bilevel", "learning_rate", [("-1", lambda: _dcb(learning_rate=-1.0))]),
    *_cases("dc_bilevel", "lam_key", [("3", lambda: _dcb(lam_key=3))]),
    *_cases("dc_bilevel", "hparams", [("no log_lam", lambda: _dcb().init(_P, {"log_decay": 0.0}))]),
    *_cases(
        "dc_bilevel",
        "train_batches",
        [
            (
                "T < unroll_steps",
                lambda: (b := _dcb(unroll_steps=3)).update(
                    b.init(_P, _HP), (_XH, _YH), (_XH[0], _YH[0])
                ),
            ),  # noqa: E501
        ],
    ),
]
