"""Bad calls to jaxml.train (see tests/bad_inputs/audit.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml import train as t
from jaxml.testing import bad_calls

F = "jaxml.train."
NAN = float("nan")
_key = jax.random.key(0)
_params = {"w": jnp.ones(3)}
_opt = optax.sgd(0.1)
_opt_state = _opt.init(_params)
_batches = (jnp.ones((4, 3)),)


def _loss(p, x):
    return jnp.mean((x @ p["w"]) ** 2)


def _step(state, step):
    return state + 1.0, state


def _cases(name, arg, items):
    return bad_calls(F + name, arg, items)


CASES = [
    *_cases(
        "batch_sampler",
        "num_examples",
        [
            ("0", lambda: t.batch_sampler(0, 2)),
            ("10.0", lambda: t.batch_sampler(10.0, 2)),
            ("None", lambda: t.batch_sampler(None, 2)),
        ],
    ),
    *_cases(
        "batch_sampler",
        "batch_size",
        [
            ("0", lambda: t.batch_sampler(10, 0)),
            ("larger than n without replacement", lambda: t.batch_sampler(4, 8)),
            ("'2'", lambda: t.batch_sampler(10, "2")),
        ],
    ),
    *_cases(
        "batch_sampler",
        "rule",
        [
            ("unknown", lambda: t.batch_sampler(10, 2, rule="shuffle")),
            ("None", lambda: t.batch_sampler(10, 2, rule=None)),
        ],
    ),
    *_cases(
        "batch_indices",
        "key",
        [("an int", lambda: t.batch_indices(0, 0, num_examples=10, batch_size=2))],
    ),
    *_cases(
        "batch_indices",
        "num_examples",
        [("-1", lambda: t.batch_indices(_key, 0, num_examples=-1, batch_size=2))],
    ),
    *_cases(
        "batch_indices",
        "step",
        [
            ("-1", lambda: t.batch_indices(_key, -1, num_examples=10, batch_size=2)),
            ("1.5", lambda: t.batch_indices(_key, 1.5, num_examples=10, batch_size=2)),
        ],
    ),
    *_cases(
        "sampled_step",
        "step_fn",
        [("None", lambda: t.sampled_step(None, t.batch_sampler(10, 2), _key))],
    ),
    *_cases(
        "sampled_step",
        "sampler",
        [("a string", lambda: t.sampled_step(_step, "epoch", _key))],
    ),
    *_cases(
        "sampled_step",
        "key",
        [("an int", lambda: t.sampled_step(_step, t.batch_sampler(10, 2), 3))],
    ),
    *_cases(
        "optax_scan",
        "loss_fn",
        [("None", lambda: t.optax_scan(None, _opt, _params, _opt_state, batches=_batches))],
    ),
    *_cases(
        "optax_scan",
        "optimizer",
        [
            ("a float", lambda: t.optax_scan(_loss, 0.1, _params, _opt_state, batches=_batches)),
            (
                "a function",
                lambda: t.optax_scan(_loss, optax.sgd, _params, _opt_state, batches=_batches),
            ),
        ],
    ),
    *_cases(
        "optax_scan",
        "params",
        [
            (
                "NaN",
                lambda: t.optax_scan(
                    _loss, _opt, {"w": jnp.full(3, NAN)}, _opt_state, batches=_batches
                ),
            )
        ],
    ),
    *_cases(
        "optax_scan",
        "num_steps",
        [
            (
                "0",
                lambda: t.optax_scan(
                    _loss, _opt, _params, _opt_state, batch_fn=lambda s: _batches, num_steps=0
                ),
            ),
            (
                "2.0",
                lambda: t.optax_scan(
                    _loss, _opt, _params, _opt_state, batch_fn=lambda s: _batches, num_steps=2.0
                ),
            ),
            (
                "missing with batch_fn",
                lambda: t.optax_scan(_loss, _opt, _params, _opt_state, batch_fn=lambda s: _batches),
            ),
        ],
    ),
    *_cases(
        "optax_scan",
        "batches",
        [
            (
                "neither batches nor batch_fn",
                lambda: t.optax_scan(_loss, _opt, _params, _opt_state),
            ),
            (
                "ragged leading axes",
                lambda: t.optax_scan(
                    _loss, _opt, _params, _opt_state, batches=(jnp.ones((4, 3)), jnp.ones((5, 3)))
                ),
            ),
        ],
    ),
    *_cases(
        "optax_scan",
        "start_step",
        [
            (
                "-1",
                lambda: t.optax_scan(
                    _loss, _opt, _params, _opt_state, batches=_batches, start_step=-1
                ),
            )
        ],
    ),
    *_cases(
        "scan_steps",
        "step_fn",
        [("None", lambda: t.scan_steps(None, jnp.zeros(()), num_steps=2))],
    ),
    *_cases(
        "scan_steps",
        "num_steps",
        [
            ("0", lambda: t.scan_steps(_step, jnp.zeros(()), num_steps=0)),
            ("'3'", lambda: t.scan_steps(_step, jnp.zeros(()), num_steps="3")),
        ],
    ),
    *_cases(
        "scan_steps",
        "args",
        [
            (
                "not a tuple",
                lambda: t.scan_steps(_step, jnp.zeros(()), num_steps=2, args=jnp.ones(3)),
            )
        ],
    ),
    *_cases(
        "stack_configs",
        "configs",
        [
            ("empty", lambda: t.stack_configs([])),
            ("a mapping", lambda: t.stack_configs({"lr": 0.1})),
            ("different keys", lambda: t.stack_configs([{"lr": 0.1}, {"wd": 0.1}])),
            ("not mappings", lambda: t.stack_configs([0.1, 0.2])),
        ],
    ),
    *_cases(
        "sweep", "fn", [("None", lambda: t.sweep(None)), ("a string", lambda: t.sweep("step"))]
    ),
    *_cases(
        "sweep_size",
        "tree",
        [
            ("mixed leading sizes", lambda: t.sweep_size({"a": jnp.ones(3), "b": jnp.ones(4)})),
            ("no arrays", lambda: t.sweep_size({})),
        ],
    ),
    *_cases(
        "sweep_logs",
        "losses",
        [("a string", lambda: t.sweep_logs("loss")), ("None", lambda: t.sweep_logs(None))],
    ),
    *_cases(
        "seed_keys",
        "seeds",
        [
            ("empty", lambda: t.seed_keys([])),
            ("-1", lambda: t.seed_keys([0, -1])),
            ("1.5", lambda: t.seed_keys([1.5])),
            ("duplicates", lambda: t.seed_keys([1, 1])),
            ("an int", lambda: t.seed_keys(3)),
        ],
    ),
    *_cases("seed_keys", "seeds", [("numpy floats", lambda: t.seed_keys(np.array([0.5])))]),
]

EXEMPT = {
    F + "Sampler": "a type alias (Callable) for samplers; not called by users",
    F + "ScanResult": "a NamedTuple container returned by optax_scan",
}
