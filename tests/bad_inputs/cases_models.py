"""Bad calls to jaxml.models (see tests/bad_inputs/audit.py)."""

import jax
import jax.numpy as jnp
import optax

from jaxml import models as m
from jaxml.testing import bad_calls

F = "jaxml.models."
_mlp = m.MLP(hidden=(4,), num_outputs=3)
_params = _mlp.init(jax.random.key(0), jnp.ones((1, 5)))
_cnn = m.SmallCNN(features=(2,), dense=4, num_outputs=3)
_cnn_params = _cnn.init(jax.random.key(0), jnp.ones((1, 4, 4, 1)))
_logits = jnp.array([[1.0, 2.0, 0.5], [0.1, 0.2, 3.0]])
_labels = jnp.array([1, 2])
_x, _y = jnp.ones((4, 5)), jnp.array([0, 1, 2, 0])
_nan_params = jax.tree.map(lambda a: a.at[(0,) * a.ndim].set(jnp.nan), _params)
_state = m.init_train_state(_params, optax.sgd(0.1))
_step = m.make_train_step(_mlp.apply, optax.sgd(0.1))


def _cases(name, arg, items):
    return bad_calls(F + name, arg, items)


CASES = [
    *_cases(
        "cross_entropy",
        "labels",
        [
            ("label -1", lambda: m.cross_entropy(_logits, jnp.array([1, -1]))),
            ("label == num classes", lambda: m.cross_entropy(_logits, jnp.array([3, 0]))),
            ("float labels", lambda: m.cross_entropy(_logits, jnp.array([1.0, 2.0]))),
            ("wrong length", lambda: m.cross_entropy(_logits, jnp.array([1, 2, 0]))),
            ("string labels", lambda: m.cross_entropy(_logits, "12")),
        ],
    ),
    *_cases(
        "cross_entropy",
        "logits",
        [
            ("1-D logits", lambda: m.cross_entropy(jnp.ones(3), jnp.array([1]))),
            ("NaN logits", lambda: m.cross_entropy(_logits.at[0, 0].set(jnp.nan), _labels)),
            ("int logits", lambda: m.cross_entropy(jnp.ones((2, 3), jnp.int32), _labels)),
        ],
    ),
    *_cases(
        "accuracy",
        "labels",
        [
            ("string labels", lambda: m.accuracy(_logits, "ab")),
            ("label -1", lambda: m.accuracy(_logits, jnp.array([-1, 0]))),
            ("2-D labels", lambda: m.accuracy(_logits, jnp.array([[1, 2]]))),
        ],
    ),
    *_cases(
        "accuracy",
        "logits",
        [
            ("shape [3] logits", lambda: m.accuracy(jnp.ones(3), jnp.array([1]))),
            ("inf logits", lambda: m.accuracy(_logits.at[1, 1].set(jnp.inf), _labels)),
        ],
    ),
    *_cases(
        "init_train_state",
        "optimizer",
        [
            ("a string", lambda: m.init_train_state(_params, "adam")),
            ("None", lambda: m.init_train_state(_params, None)),
        ],
    ),
    *_cases(
        "init_train_state",
        "params",
        [
            ("NaN params", lambda: m.init_train_state(_nan_params, optax.sgd(0.1))),
            ("empty", lambda: m.init_train_state({}, optax.sgd(0.1))),
        ],
    ),
    *_cases(
        "make_train_step",
        "optimizer",
        [("a string", lambda: m.make_train_step(_mlp.apply, "sgd"))],
    ),
    *_cases(
        "make_train_step",
        "apply_fn",
        [("not callable", lambda: m.make_train_step(_params, optax.sgd(0.1)))],
    ),
    *_cases(
        "make_train_step",
        "x",
        [
            ("NaN batch", lambda: _step(_state, _x.at[0, 0].set(jnp.nan), _y)),
            ("int batch", lambda: _step(_state, jnp.ones((4, 5), jnp.int32), _y)),
        ],
    ),
    *_cases(
        "make_train_step",
        "y",
        [
            ("wrong length", lambda: _step(_state, _x, _y[:3])),
            ("float labels", lambda: _step(_state, _x, _y.astype(jnp.float32))),
            ("label -1", lambda: _step(_state, _x, _y.at[0].set(-1))),
        ],
    ),
    *_cases(
        "evaluate",
        "y",
        [
            ("wrong length", lambda: m.evaluate(_mlp.apply, _params, _x, _y[:3])),
            ("label == num classes", lambda: m.evaluate(_mlp.apply, _params, _x, _y.at[0].set(3))),
            ("label -1", lambda: m.evaluate(_mlp.apply, _params, _x, _y.at[0].set(-1))),
        ],
    ),
    *_cases(
        "evaluate",
        "x",
        [
            ("NaN", lambda: m.evaluate(_mlp.apply, _params, _x.at[1, 1].set(jnp.nan), _y)),
            ("no rows", lambda: m.evaluate(_mlp.apply, _params, jnp.ones((0, 5)), _y[:0])),
            ("wrong width", lambda: m.evaluate(_mlp.apply, _params, jnp.ones((4, 6)), _y)),
        ],
    ),
    *_cases(
        "evaluate",
        "batch_size",
        [
            ("0", lambda: m.evaluate(_mlp.apply, _params, _x, _y, batch_size=0)),
            ("2.0", lambda: m.evaluate(_mlp.apply, _params, _x, _y, batch_size=2.0)),
        ],
    ),
    *_cases(
        "evaluate",
        "params",
        [("NaN", lambda: m.evaluate(_mlp.apply, _nan_params, _x, _y))],
    ),
    *_cases(
        "evaluate",
        "apply_fn",
        [("not callable", lambda: m.evaluate(None, _params, _x, _y))],
    ),
    *_cases(
        "MLP",
        "num_outputs",
        [
            ("0", lambda: m.MLP(hidden=(4,), num_outputs=0)),
            ("2.5", lambda: m.MLP(hidden=(4,), num_outputs=2.5)),
        ],
    ),
    *_cases(
        "MLP",
        "hidden",
        [
            ("negative width", lambda: m.MLP(hidden=(4, -1))),
            ("a string", lambda: m.MLP(hidden="64")),
        ],
    ),
    *_cases(
        "MLP",
        "x",
        [
            ("wrong input width", lambda: _mlp.apply(_params, jnp.ones((2, 6)))),
            ("1-D input", lambda: _mlp.apply(_params, jnp.ones(5))),
        ],
    ),
    *_cases(
        "SmallCNN",
        "features",
        [("empty", lambda: m.SmallCNN(features=())), ("0", lambda: m.SmallCNN(features=(0,)))],
    ),
    *_cases(
        "SmallCNN",
        "num_outputs",
        [("0", lambda: m.SmallCNN(num_outputs=0))],
    ),
    *_cases(
        "SmallCNN",
        "x",
        [
            ("flat input", lambda: _cnn.apply(_cnn_params, jnp.ones((2, 16)))),
            ("wrong channels", lambda: _cnn.apply(_cnn_params, jnp.ones((2, 4, 4, 3)))),
        ],
    ),
    *_cases(
        "make_classifier",
        "name",
        [
            ("unknown", lambda: m.make_classifier("resnet", num_classes=3, input_shape=(4,))),
            ("None", lambda: m.make_classifier(None, num_classes=3, input_shape=(4,))),
        ],
    ),
    *_cases(
        "make_classifier",
        "num_classes",
        [
            ("1", lambda: m.make_classifier("mlp", num_classes=1, input_shape=(4,))),
            ("'3'", lambda: m.make_classifier("mlp", num_classes="3", input_shape=(4,))),
        ],
    ),
    *_cases(
        "make_classifier",
        "input_shape",
        [
            ("negative size", lambda: m.make_classifier("mlp", num_classes=3, input_shape=(-4,))),
            ("an int", lambda: m.make_classifier("mlp", num_classes=3, input_shape=4)),
            ("flat for cnn", lambda: m.make_classifier("cnn", num_classes=3, input_shape=(64,))),
        ],
    ),
]

EXEMPT = {
    F + "TrainState": "a NamedTuple container; its fields are checked where it is used",
}
