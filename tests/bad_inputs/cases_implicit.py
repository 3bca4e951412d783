"""Bad calls to jaxml.implicit and jaxml.implicit.hparams (see tests/bad_inputs/audit.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml import implicit as ift
from jaxml.implicit import hparams as hp
from jaxml.models import MLP
from jaxml.testing import bad_calls

F, H = "jaxml.implicit.", "jaxml.implicit.hparams."
_VT = (ValueError, TypeError)

_rng = np.random.default_rng(0)
_x = _rng.normal(size=(8, 3)).astype(np.float32)
_y = _rng.normal(size=8).astype(np.float32)
_w = jnp.zeros(3)
_lam = jnp.zeros(3)
_nan3 = jnp.array([1.0, np.nan, 0.0])
_sgd = optax.sgd(0.1)


def _tl(w, lam, x, y):
    return 0.5 * jnp.mean((x @ w - y) ** 2) + 0.5 * jnp.sum(jnp.exp(lam) * w**2)


def _vl(w, lam, x, y):
    return 0.5 * jnp.mean((x @ w - y) ** 2)


_hvp = ift.hvp_fn(lambda w: _tl(w, _lam, _x, _y), _w)
_kw = {"train_args": (_x, _y), "val_args": (_x, _y)}


def _hg(**kw):
    args = {"train_loss": _tl, "val_loss": _vl, "params": _w, "hparams": _lam, "alpha": 0.1}
    args.update(_kw)
    args.update(kw)
    return ift.hypergradient(**args)


def _un(**kw):
    args = {
        "train_loss": _tl,
        "val_loss": _vl,
        "params": _w,
        "hparams": _lam,
        "optimizer": _sgd,
        "num_steps": 2,
    }
    args.update(_kw)
    args.update(kw)
    return ift.unrolled_hypergradient(**args)


def _bl(**kw):
    args = {
        "train_loss": _tl,
        "val_loss": _vl,
        "inner_optimizer": _sgd,
        "outer_optimizer": optax.adam(0.1),
        "alpha": 0.1,
    }
    args.update(kw)
    return ift.bilevel(**args)


_solver = _bl()
_state = _solver.init(_w, _lam)
_batches = (np.broadcast_to(_x, (2, 8, 3)), np.broadcast_to(_y, (2, 8)))

# Fresh-model / distillation / augmentation fixtures (tiny).
_img = _rng.normal(size=(6, 4, 4, 1)).astype(np.float32)
_lab = np.array([0, 1, 0, 1, 0, 1], np.int32)
_model = MLP(hidden=(), num_outputs=2)
_init = lambda key: _model.init(key, jnp.zeros((1, 4, 4, 1)))  # noqa: E731
_dtrain, _dval = hp.distillation_losses(_model.apply, 1e-3)
_train = ift.fresh_trainer(_init, _dtrain, _sgd, 2)
_keys = jax.random.split(jax.random.key(0), 2)
_dsolver = ift.bilevel(_dtrain, _dval, _sgd, optax.adam(0.1), alpha=0.1)
_net = hp.AugmentNet(features=(2,))


def _fa(**kw):
    args = {
        "train": _train,
        "apply_fn": _model.apply,
        "inputs": _img[None, :2],
        "labels": _lab[None, :2],
        "keys": _keys,
        "x": _img,
        "y": _lab,
    }
    args.update(kw)
    return ift.fresh_accuracy(**args)


def _cases(prefix, name, arg, items):
    return bad_calls(prefix + name, arg, items, _VT)


CASES = [
    *_cases(F, "hypergradient", "method", [("unknown", lambda: _hg(method="bfgs"))]),
    *_cases(
        F,
        "hypergradient",
        "alpha",
        [
            ("negative", lambda: _hg(alpha=-0.1)),
            ("NaN", lambda: _hg(alpha=float("nan"))),
            ("string", lambda: _hg(alpha="0.1")),
            ("None for neumann", lambda: _hg(alpha=None)),
            ("a vector", lambda: _hg(alpha=jnp.ones(2))),
        ],
    ),
    *_cases(
        F,
        "hypergradient",
        "num_terms",
        [
            ("2.0", lambda: _hg(num_terms=2.0)),
            ("-1", lambda: _hg(num_terms=-1)),
            ("None", lambda: _hg(num_terms=None)),
        ],
    ),
    *_cases(F, "hypergradient", "train_loss", [("not callable", lambda: _hg(train_loss=3))]),
    *_cases(
        F,
        "hypergradient",
        "val_loss",
        [("vector output", lambda: _hg(val_loss=lambda w, lam, x, y: x @ w))],
    ),
    *_cases(
        F,
        "hypergradient",
        "params",
        [
            ("NaN", lambda: _hg(params=_nan3)),
            ("wrong length", lambda: _hg(params=jnp.zeros(4))),
            ("int array", lambda: _hg(params=jnp.zeros(3, jnp.int32))),
            ("None", lambda: _hg(params=None)),
        ],
    ),
    *_cases(F, "hypergradient", "hparams", [("inf", lambda: _hg(hparams=jnp.full(3, np.inf)))]),
    *_cases(
        F,
        "hypergradient",
        "train_args",
        [
            ("NaN in x", lambda: _hg(train_args=(np.full((8, 3), np.nan), _y))),
            ("not a tuple", lambda: _hg(train_args=_x)),
        ],
    ),
    *_cases(
        F, "hypergradient", "val_args", [("NaN in y", lambda: _hg(val_args=(_x, _y * np.nan)))]
    ),
    *_cases(F, "hypergradient", "return_info", [("'yes'", lambda: _hg(return_info="yes"))]),
    *_cases(
        F,
        "unrolled_hypergradient",
        "num_steps",
        [("2.0", lambda: _un(num_steps=2.0)), ("-1", lambda: _un(num_steps=-1))],
    ),
    *_cases(F, "unrolled_hypergradient", "optimizer", [("a string", lambda: _un(optimizer="sgd"))]),
    *_cases(F, "unrolled_hypergradient", "params", [("NaN", lambda: _un(params=_nan3))]),
    *_cases(
        F,
        "unrolled_hypergradient",
        "train_args",
        [
            ("batched, wrong T", lambda: _un(batched_train_args=True)),
            ("NaN", lambda: _un(train_args=(_x * np.nan, _y))),
        ],
    ),
    *_cases(
        F,
        "unrolled_hypergradient",
        "batched_train_args",
        [("'no'", lambda: _un(batched_train_args="no"))],
    ),
    *_cases(
        F,
        "neumann_inverse_hvp",
        "v",
        [
            ("NaN", lambda: ift.neumann_inverse_hvp(_hvp, _nan3, 2, 0.1)),
            ("None", lambda: ift.neumann_inverse_hvp(_hvp, None, 2, 0.1)),
            ("string", lambda: ift.neumann_inverse_hvp(_hvp, "v", 2, 0.1)),
        ],
    ),
    *_cases(
        F,
        "neumann_inverse_hvp",
        "num_terms",
        [
            ("2.0", lambda: ift.neumann_inverse_hvp(_hvp, _w + 1, 2.0, 0.1)),
            ("-3", lambda: ift.neumann_inverse_hvp(_hvp, _w + 1, -3, 0.1)),
        ],
    ),
    *_cases(
        F,
        "neumann_inverse_hvp",
        "alpha",
        [
            ("0", lambda: ift.neumann_inverse_hvp(_hvp, _w + 1, 2, 0.0)),
            ("inf", lambda: ift.neumann_inverse_hvp(_hvp, _w + 1, 2, np.inf)),
        ],
    ),
    *_cases(
        F,
        "neumann_inverse_hvp",
        "hvp",
        [("not callable", lambda: ift.neumann_inverse_hvp(None, _w + 1, 2, 0.1))],
    ),
    *_cases(
        F,
        "cg_inverse_hvp",
        "v",
        [
            ("NaN", lambda: ift.cg_inverse_hvp(_hvp, _nan3, 3)),
            ("int array", lambda: ift.cg_inverse_hvp(_hvp, jnp.ones(3, jnp.int32), 3)),
        ],
    ),
    *_cases(
        F,
        "cg_inverse_hvp",
        "num_terms",
        [
            ("2.0", lambda: ift.cg_inverse_hvp(_hvp, _w + 1, 2.0)),
            ("-1", lambda: ift.cg_inverse_hvp(_hvp, _w + 1, -1)),
        ],
    ),
    *_cases(F, "cg_inverse_hvp", "hvp", [("a string", lambda: ift.cg_inverse_hvp("H", _w + 1, 2))]),
    *_cases(F, "hvp_fn", "loss", [("not callable", lambda: ift.hvp_fn(1.0, _w))]),
    *_cases(
        F,
        "hvp_fn",
        "params",
        [("NaN", lambda: ift.hvp_fn(jnp.sum, _nan3)), ("empty", lambda: ift.hvp_fn(jnp.sum, {}))],
    ),
    *_cases(
        F,
        "tree_vdot",
        "b",
        [
            ("other dict keys", lambda: ift.tree_vdot({"a": _w}, {"b": _w})),
            ("other shape", lambda: ift.tree_vdot(_w, jnp.ones(4))),
        ],
    ),
    *_cases(F, "tree_vdot", "a", [("strings", lambda: ift.tree_vdot(["x"], ["y"]))]),
    *_cases(F, "tree_norm", "tree", [("a string leaf", lambda: ift.tree_norm({"a": "x"}))]),
    *_cases(
        F,
        "chunked_mean",
        "chunk_size",
        [
            ("0", lambda: ift.chunked_mean(_vl, 0)),
            ("2.0", lambda: ift.chunked_mean(_vl, 2.0)),
            ("not a divisor", lambda: ift.chunked_mean(_vl, 3)(_w, _lam, _x, _y)),
        ],
    ),
    *_cases(F, "chunked_mean", "loss_fn", [("not callable", lambda: ift.chunked_mean("f", 2))]),
    *_cases(F, "bilevel", "method", [("unknown", lambda: _bl(method="newton"))]),
    *_cases(
        F,
        "bilevel",
        "alpha",
        [("missing", lambda: _bl(alpha=None)), ("negative", lambda: _bl(alpha=-1.0))],
    ),
    *_cases(
        F,
        "bilevel",
        "num_terms",
        [("2.0", lambda: _bl(num_terms=2.0)), ("-2", lambda: _bl(num_terms=-2))],
    ),
    *_cases(F, "bilevel", "inner_optimizer", [("a float", lambda: _bl(inner_optimizer=0.1))]),
    *_cases(F, "bilevel", "outer_optimizer", [("None", lambda: _bl(outer_optimizer=None))]),
    *_cases(F, "bilevel", "train_loss", [("None", lambda: _bl(train_loss=None))]),
    *_cases(
        F,
        "bilevel",
        "train_batches",
        [
            ("empty", lambda: _solver.update(_state, (), (_x, _y))),
            (
                "T disagrees",
                lambda: _solver.update(_state, (_batches[0], _batches[1][:1]), (_x, _y)),
            ),
            ("NaN", lambda: _solver.update(_state, (_batches[0] * np.nan, _batches[1]), (_x, _y))),
            ("an array", lambda: _solver.update(_state, _batches[0], (_x, _y))),
        ],
    ),
    *_cases(
        F,
        "bilevel",
        "val_args",
        [("NaN", lambda: _solver.update(_state, _batches, (_x * np.nan, _y)))],
    ),
    *_cases(
        F,
        "bilevel",
        "state",
        [("a dict", lambda: _solver.update({"params": _w}, _batches, (_x, _y)))],
    ),
    *_cases(
        F,
        "fresh_trainer",
        "num_steps",
        [
            ("0", lambda: ift.fresh_trainer(_init, _dtrain, _sgd, 0)),
            ("2.0", lambda: ift.fresh_trainer(_init, _dtrain, _sgd, 2.0)),
        ],
    ),
    *_cases(
        F,
        "fresh_trainer",
        "optimizer",
        [("a string", lambda: ift.fresh_trainer(_init, _dtrain, "sgd", 2))],
    ),
    *_cases(
        F, "fresh_trainer", "init_fn", [("None", lambda: ift.fresh_trainer(None, _dtrain, _sgd, 2))]
    ),
    *_cases(
        F,
        "fresh_accuracy",
        "inputs",
        [("NaN", lambda: _fa(inputs=_img[None, :2] * np.nan)), ("1-D", lambda: _fa(inputs=_lab))],
    ),
    *_cases(
        F,
        "fresh_accuracy",
        "labels",
        [
            ("wrong length", lambda: _fa(labels=_lab[None, :3])),
            ("floats", lambda: _fa(labels=_lab[None, :2] * 1.0)),
        ],
    ),
    *_cases(F, "fresh_accuracy", "keys", [("ints", lambda: _fa(keys=np.arange(2)))]),
    *_cases(F, "fresh_accuracy", "y", [("wrong length", lambda: _fa(y=_lab[:3]))]),
    *_cases(
        F,
        "with_inner_resets",
        "period",
        [
            ("0", lambda: ift.with_inner_resets(_dsolver, _init, _sgd, 0)),
            ("1.5", lambda: ift.with_inner_resets(_dsolver, _init, _sgd, 1.5)),
        ],
    ),
    *_cases(
        F,
        "with_inner_resets",
        "solver",
        [("a function", lambda: ift.with_inner_resets(_hg, _init, _sgd, 2))],
    ),
    *_cases(
        F,
        "distill_seeds",
        "reset_every",
        [("-1", lambda: ift.distill_seeds(_dsolver, _init, _init, _sgd, -1))],
    ),
    *_cases(
        F,
        "distill_seeds",
        "init_inputs",
        [("an array", lambda: ift.distill_seeds(_dsolver, _init, _img, _sgd, 2))],
    ),
    *_cases(
        F,
        "distill_seeds",
        "seed_keys",
        [("ints", lambda: ift.distill_seeds(_dsolver, _init, _init, _sgd, 2).init(np.arange(2)))],
    ),
    *_cases(
        F,
        "augmentation_losses",
        "net",
        [("an MLP", lambda: ift.augmentation_losses(_model.apply, _model))],
    ),
    *_cases(
        F,
        "augmentation_losses",
        "apply_fn",
        [("None", lambda: ift.augmentation_losses(None, _net))],
    ),
    *_cases(
        F,
        "augmentation_arms",
        "methods",
        [
            (
                "unknown",
                lambda: ift.augmentation_arms(
                    _model.apply, _net, _sgd, _sgd, methods=("bfgs",), alpha=0.1
                ),
            ),
            (
                "a string",
                lambda: ift.augmentation_arms(
                    _model.apply, _net, _sgd, _sgd, methods="neumann", alpha=0.1
                ),
            ),
        ],
    ),
    *_cases(
        F,
        "augmentation_arms",
        "alpha",
        [("missing", lambda: ift.augmentation_arms(_model.apply, _net, _sgd, _sgd))],
    ),
    *_cases(
        F,
        "evaluate_arms",
        "states",
        [
            (
                "a list",
                lambda: ift.evaluate_arms(_model.apply, _net, [], {}, _img, jax.random.key(0)),
            )
        ],
    ),
    *_cases(
        F,
        "evaluate_arms",
        "x_aug",
        [
            (
                "2-D",
                lambda: ift.evaluate_arms(
                    _model.apply, _net, {"plain": None}, {}, _x, jax.random.key(0)
                ),
            )
        ],
    ),
    *_cases(F, "arm_metrics", "evals", [("a list", lambda: ift.arm_metrics([], {"plain": None}))]),
    *_cases(F, "arm_curve_record", "states", [("None", lambda: ift.arm_curve_record({}, None))]),
    *_cases(
        F,
        "paired_difference",
        "b",
        [("other length", lambda: ift.paired_difference([1.0, 2.0], [1.0]))],
    ),
    *_cases(
        F,
        "paired_difference",
        "a",
        [
            ("NaN", lambda: ift.paired_difference([np.nan, 1.0], [1.0, 1.0])),
            ("empty", lambda: ift.paired_difference([], [])),
        ],
    ),
    *_cases(
        F,
        "subset_split",
        "num_train",
        [
            (
                "not a multiple",
                lambda: ift.subset_split(_img, _lab, (_img, _lab), num_train=3, num_classes=2),
            ),
            (
                "too many",
                lambda: ift.subset_split(_img, _lab, (_img, _lab), num_train=8, num_classes=2),
            ),
        ],
    ),
    *_cases(
        F,
        "subset_split",
        "y",
        [
            (
                "floats",
                lambda: ift.subset_split(
                    _img, _lab * 1.0, (_img, _lab), num_train=2, num_classes=2
                ),
            )
        ],
    ),
    *_cases(
        F,
        "lbfgs_minimize",
        "num_steps",
        [
            ("-1", lambda: ift.lbfgs_minimize(jnp.sum, _w, -1)),
            ("1.0", lambda: ift.lbfgs_minimize(jnp.sum, _w, 1.0)),
        ],
    ),
    *_cases(
        F, "lbfgs_minimize", "params", [("NaN", lambda: ift.lbfgs_minimize(jnp.sum, _nan3, 2))]
    ),
    *_cases(F, "power_iteration", "iters", [("0", lambda: ift.power_iteration(_hvp, _w, 0))]),
    *_cases(F, "hessian_extremes", "like", [("NaN", lambda: ift.hessian_extremes(_hvp, _nan3))]),
    *_cases(
        F,
        "hypergradient_error",
        "approx",
        [
            ("other keys", lambda: ift.hypergradient_error({"b": _w}, {"a": _w})),
            ("NaN", lambda: ift.hypergradient_error(_nan3, _w + 1)),
        ],
    ),
    # hparams
    *_cases(
        H,
        "init_log_decay",
        "decay",
        [
            ("0", lambda: hp.init_log_decay({"w": _w}, decay=0.0)),
            ("NaN", lambda: hp.init_log_decay({"w": _w}, decay=np.nan)),
        ],
    ),
    *_cases(
        H,
        "init_log_decay",
        "granularity",
        [("unknown", lambda: hp.init_log_decay({"w": _w}, granularity="neuron"))],
    ),
    *_cases(
        H,
        "l2_penalty",
        "log_decay",
        [
            ("other structure", lambda: hp.l2_penalty({"a": _w}, {"b": _w})),
            ("empty", lambda: hp.l2_penalty({"a": _w}, {})),
        ],
    ),
    *_cases(
        H,
        "init_dropout_logits",
        "rate",
        [
            ("1.0", lambda: hp.init_dropout_logits(3, 1.0)),
            ("'0.1'", lambda: hp.init_dropout_logits(3, "0.1")),
        ],
    ),
    *_cases(
        H,
        "init_dropout_logits",
        "num_units",
        [("0", lambda: hp.init_dropout_logits(0)), ("2.0", lambda: hp.init_dropout_logits(2.0))],
    ),
    *_cases(
        H,
        "relaxed_dropout",
        "temperature",
        [("0", lambda: hp.relaxed_dropout(jax.random.key(0), _x, jnp.zeros(3), temperature=0.0))],
    ),
    *_cases(
        H,
        "relaxed_dropout",
        "logit_rate",
        [("wrong width", lambda: hp.relaxed_dropout(jax.random.key(0), _x, jnp.zeros(4)))],
    ),
    *_cases(
        H, "relaxed_dropout", "key", [("an int", lambda: hp.relaxed_dropout(0, _x, jnp.zeros(3)))]
    ),
    *_cases(
        H,
        "relaxed_dropout",
        "x",
        [("NaN", lambda: hp.relaxed_dropout(jax.random.key(0), _x * np.nan, jnp.zeros(3)))],
    ),
    *_cases(H, "AugmentNet", "scale", [("negative", lambda: hp.AugmentNet(scale=-1.0))]),
    *_cases(
        H,
        "AugmentNet",
        "features",
        [
            ("an int", lambda: hp.AugmentNet(features=16)),
            ("zero width", lambda: hp.AugmentNet(features=(0,))),
        ],
    ),
    *_cases(H, "AugmentNet", "x", [("2-D", lambda: _net.init(jax.random.key(0), _x, _x))]),
    *_cases(
        H, "augment", "net", [("an MLP", lambda: hp.augment(_model, {}, _img, jax.random.key(0)))]
    ),
    *_cases(
        H, "augment", "x", [("3-D", lambda: hp.augment(_net, {}, _img[..., 0], jax.random.key(0)))]
    ),
    *_cases(H, "augment", "key", [("None", lambda: hp.augment(_net, {}, _img, None))]),
    *_cases(
        H,
        "init_distilled_inputs",
        "num_classes",
        [
            ("1", lambda: hp.init_distilled_inputs(jax.random.key(0), 1, 1, (4,))),
            ("2.0", lambda: hp.init_distilled_inputs(jax.random.key(0), 2.0, 1, (4,))),
        ],
    ),
    *_cases(
        H,
        "init_distilled_inputs",
        "input_shape",
        [
            ("an int", lambda: hp.init_distilled_inputs(jax.random.key(0), 2, 1, 4)),
            ("negative", lambda: hp.init_distilled_inputs(jax.random.key(0), 2, 1, (-4,))),
        ],
    ),
    *_cases(
        H,
        "init_distilled_inputs",
        "key",
        [("an int", lambda: hp.init_distilled_inputs(0, 2, 1, (4,)))],
    ),
    *_cases(H, "distilled_labels", "per_class", [("0", lambda: hp.distilled_labels(2, 0))]),
    *_cases(
        H,
        "distillation_losses",
        "weight_decay",
        [("0", lambda: hp.distillation_losses(_model.apply, 0.0))],
    ),
    *_cases(
        H, "distillation_losses", "apply_fn", [("None", lambda: hp.distillation_losses(None, 1e-3))]
    ),
    *_cases(
        H,
        "random_real_draws",
        "y",
        [("floats", lambda: hp.random_real_draws(_lab * 1.0, 2, 1, 1, 0))],
    ),
    *_cases(
        H, "random_real_draws", "draws", [("0", lambda: hp.random_real_draws(_lab, 2, 1, 0, 0))]
    ),
]

EXEMPT = {
    F + "Bilevel": "a NamedTuple of (init, update) built by bilevel(); bilevel checks its inputs",
    F + "BilevelState": "a NamedTuple state built by Bilevel.init; update checks it",
    F + "HypergradInfo": "a NamedTuple of diagnostics returned by hypergradient",
    F + "InverseHVPInfo": "a NamedTuple of diagnostics returned by the inverse-HVP solvers",
    F + "SeededDistillation": "a NamedTuple built by distill_seeds, which checks its inputs",
    F + "AugmentationArms": "a NamedTuple built by augmentation_arms, which checks its inputs",
}
