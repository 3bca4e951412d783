"""Scikit-learn-style estimators around the jaxml MLP and optax training, for OpenML runs.

:class:`JaxmlClassifier` / :class:`JaxmlRegressor` have ``fit``/``predict`` (and
``predict_proba`` for the classifier), ``get_params``/``set_params`` and a deterministic
``seed``: the same data and parameters give bit-identical predictions.

Training is one jit-compiled program (:func:`jaxml.train.optax_scan` over ``num_steps`` Adam
steps). So that cross-validation folds do not recompile, the program's shapes do not depend on
the fold: the training rows are zero-padded to a *capacity* bucket (the next ``2^k`` or
``3 * 2^(k-1)``), and the mini-batches come as a plan of row ids ``[num_steps, batch_size]``
drawn on the host from ``[0, n_rows)`` with replacement (:func:`batch_plan`, seeded), so padding
rows are never used and the program has the same shapes for every fold. Learning rate and
weight decay are traced too, so changing them does not recompile either. Compiled programs are
cached per static structure (widths, batch size, steps, capacity) and shared by every estimator
instance, including the clones openml makes per fold; :func:`trace_counts` counts how often
each program was traced.

``decay_tuning="ift"`` tunes one L2 decay per parameter array (kernel and bias of every layer)
with :func:`jaxml.implicit.bilevel` (Lorraine, Vicol & Duvenaud 2020, Algorithm 1: warm-started
inner Adam steps, then an IFT hypergradient with a Neumann-series inverse Hessian) on a split of
the fit data held out by ``val_fraction``, then refits on all fit rows with the tuned decays.

The estimators record the row labels they were given (``fit_rows_``, ``predict_rows_``: the
pandas index of a DataFrame input, which openml keeps from the task's data), so a test can check
on what a model actually saw that no test row was used for training.

Host-side drivers (they call ``jax.jit``), by nature: an estimator is the thing openml calls.
"""

import collections
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml import _validation as v
from jaxml.implicit import bilevel
from jaxml.implicit.hparams import init_log_decay, l2_penalty
from jaxml.models import MLP
from jaxml.train import optax_scan, scan_steps

__all__ = [
    "ACTIVATIONS",
    "DECAY_TUNINGS",
    "JaxmlClassifier",
    "JaxmlRegressor",
    "batch_plan",
    "capacity_bucket",
    "trace_counts",
]

ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "gelu": jax.nn.gelu}
DECAY_TUNINGS = ("none", "ift")
_TRACES: collections.Counter = collections.Counter()


def trace_counts() -> dict[str, int]:
    """How many times each compiled program was traced in this process (``{"fit": 3, ...}``).

    A trace happens exactly when ``jax.jit`` compiles a new program; fitting another fold of the
    same task (same capacity bucket) adds nothing.
    """
    return dict(_TRACES)


def capacity_bucket(n: int) -> int:
    """The padded row count for ``n`` rows: the smallest ``2^k`` or ``3 * 2^(k-1)`` >= n (>= 8)."""
    n = v.check_int(n, "n", minimum=1)
    k = max(3, math.ceil(math.log2(n)))
    for c in (3 * 2 ** (k - 2), 2**k):
        if c >= n and c >= 8:
            return c
    return 2**k  # unreachable


class _Static(NamedTuple):
    """The static structure of a compiled program (its cache key)."""

    kind: str
    hidden: tuple
    activation: str
    n_features: int
    n_outputs: int
    batch_size: int
    num_steps: int


def _model(s: _Static) -> MLP:
    return MLP(hidden=s.hidden, num_outputs=s.n_outputs, activation=ACTIVATIONS[s.activation])


def _pointwise_loss(s: _Static, out: jax.Array, y: jax.Array) -> jax.Array:
    """Per-row loss ``[n]``: softmax cross-entropy or squared error."""
    if s.kind == "classification":
        return optax.softmax_cross_entropy_with_integer_labels(out, y)
    return jnp.square(out[:, 0] - y)


def batch_plan(seed: int, stream: int, n_rows: int, shape: tuple[int, ...]) -> np.ndarray:
    """Row ids ``[*shape]`` drawn uniformly from ``[0, n_rows)`` (with replacement), int32.

    A pure function of ``(seed, stream, n_rows, shape)`` (numpy's PCG64 seeded with
    ``[seed, stream]``), drawn on the host: the compiled programs take the plan as an argument of
    fixed shape, so folds of different sizes share one program (and XLA compiles no RNG).
    """
    seed = v.check_int(seed, "seed", minimum=0)
    stream = v.check_int(stream, "stream", minimum=0)
    n_rows = v.check_int(n_rows, "n_rows", minimum=1)
    if not isinstance(shape, tuple) or not shape:
        raise TypeError(f"shape must be a non-empty tuple of ints; got {shape!r}")
    shape = tuple(v.check_int(k, "shape", minimum=1) for k in shape)
    rng = np.random.default_rng([seed, stream])
    return rng.integers(0, n_rows, size=shape, dtype=np.int32)


def _train_loss(s: _Static, model: MLP):
    """``(params, log_decay, xb, yb) -> mean loss + l2_penalty``: the one training objective of
    :func:`fit_program` (fixed decays) and :func:`tune_program` (decays as hyperparameters)."""

    def loss(p, log_decay, xb, yb):
        return jnp.mean(_pointwise_loss(s, model.apply(p, xb), yb)) + l2_penalty(p, log_decay)

    return loss


def fit_program(s: _Static, key, x, y, plan, learning_rate, log_decay, params=None):
    """``num_steps`` Adam steps on ``mean loss + l2_penalty(params, log_decay)``: pure.

    ``x`` ``[capacity, d]``, ``y`` ``[capacity]`` (padding rows are never in the plan);
    ``plan`` ``[num_steps, batch_size]`` row ids of each step's batch (:func:`batch_plan`);
    ``key`` seeds the initialization. Returns ``(params, losses [num_steps])``.
    """
    model = _model(s)
    if params is None:
        params = model.init(jax.random.fold_in(key, 0), x[:1])
    optimizer = optax.adam(learning_rate)
    train_loss = _train_loss(s, model)

    def loss_fn(p, xb, yb):
        return train_loss(p, log_decay, xb, yb)

    def batch_fn(t):
        return x[plan[t]], y[plan[t]]

    res = optax_scan(
        loss_fn, optimizer, params, optimizer.init(params), batch_fn=batch_fn, num_steps=s.num_steps
    )
    return res.params, res.losses


def tune_program(
    s: _Static,
    key,
    x,
    y,
    plan,
    xv,
    yv,
    n_val,
    learning_rate,
    log_decay0,
    hyper_lr,
    *,
    num_terms: int = 5,
):
    """IFT tuning of per-array log decays (:func:`jaxml.implicit.bilevel`): pure.

    ``plan`` ``[hyper_steps, inner_steps, batch_size]``: for each outer step, the row ids of its
    ``inner_steps`` warm-started inner Adam steps on ``(x, y)``, followed by one Neumann
    hypergradient of the masked validation loss on ``(xv, yv)`` rows ``< n_val``.
    Returns ``(log_decay, val_losses [hyper_steps])``.
    """
    model = _model(s)
    params = model.init(jax.random.fold_in(key, 0), x[:1])
    mask = (jnp.arange(xv.shape[0]) < n_val).astype(xv.dtype)
    train_loss = _train_loss(s, model)

    def val_loss(p, ld, xv_, yv_, m):
        return jnp.sum(m * _pointwise_loss(s, model.apply(p, xv_), yv_)) / jnp.sum(m)

    opt = bilevel(
        train_loss,
        val_loss,
        optax.adam(learning_rate),
        optax.adam(hyper_lr),
        method="neumann",
        num_terms=num_terms,
        alpha=learning_rate,
    )

    def step(state, t):
        idx = plan[t]
        state, info = opt.update(state, (x[idx], y[idx]), (xv, yv, mask))
        return state, info["val_loss"]

    state, val_losses = scan_steps(step, opt.init(params, log_decay0), num_steps=plan.shape[0])
    return state.hparams, val_losses


def predict_program(s: _Static, params, x):
    """Model outputs ``[capacity, n_outputs]`` for padded rows ``x``: pure."""
    return _model(s).apply(params, x)


@functools.lru_cache(maxsize=64)
def _compiled(s: _Static, which: str):
    """The jitted program ``which`` for structure ``s``, shared by all estimators."""
    if which == "fit":

        def fn(key, x, y, plan, lr, log_decay):
            _TRACES["fit"] += 1
            return fit_program(s, key, x, y, plan, lr, log_decay)

    elif which == "tune":

        def fn(key, x, y, plan, xv, yv, n_val, lr, log_decay0, hyper_lr):
            _TRACES["tune"] += 1
            return tune_program(s, key, x, y, plan, xv, yv, n_val, lr, log_decay0, hyper_lr)

    else:

        def fn(params, x):
            _TRACES["predict"] += 1
            return predict_program(s, params, x)

    return jax.jit(fn)


def _pad(a: np.ndarray, capacity: int) -> np.ndarray:
    out = np.zeros((capacity, *a.shape[1:]), a.dtype)
    out[: len(a)] = a
    return out


def _to_matrix(X, name: str = "X") -> tuple[np.ndarray, np.ndarray | None]:
    """``(float32 [n, d], row labels or None)`` from a DataFrame or an array."""
    rows = None
    if hasattr(X, "dtypes") and hasattr(X, "index"):  # pandas DataFrame
        import pandas as pd

        bad = [
            c
            for c, t in zip(X.columns, X.dtypes, strict=True)
            if not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t)
        ]
        if bad:
            raise ValueError(
                f"{name} must have numeric columns only (jaxml MLPs take real features); "
                f"non-numeric columns: {list(bad)[:5]}"
            )
        rows = X.index.to_numpy()
        X = X.to_numpy(np.float32)
    shape = v.check_array(X, name, min_ndim=2, dtype="float", min_size=1)
    return np.asarray(X, np.float32).reshape(shape[0], -1), rows


class _Base:
    """Shared parameters, validation and the compiled fit of both estimators."""

    _kind = "classification"

    def __init__(
        self,
        hidden=(64,),
        activation: str = "relu",
        learning_rate: float = 1e-2,
        num_steps: int = 300,
        batch_size: int = 64,
        weight_decay: float = 1e-4,
        decay_tuning: str = "none",
        hyper_steps: int = 30,
        inner_steps: int = 10,
        hyper_lr: float = 0.1,
        val_fraction: float = 0.2,
        standardize: bool = True,
        seed: int | None = 0,
    ):
        self.hidden = hidden
        self.activation = activation
        self.learning_rate = learning_rate
        self.num_steps = num_steps
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.decay_tuning = decay_tuning
        self.hyper_steps = hyper_steps
        self.inner_steps = inner_steps
        self.hyper_lr = hyper_lr
        self.val_fraction = val_fraction
        self.standardize = standardize
        self.seed = seed
        self._check_params()

    # ---- scikit-learn protocol
    @classmethod
    def _param_names(cls) -> tuple[str, ...]:
        import inspect

        sig = inspect.signature(_Base.__init__)
        return tuple(p for p in sig.parameters if p != "self")

    def get_params(self, deep: bool = True) -> dict:
        """The constructor arguments, ``{name: value}`` (``deep`` is accepted for sklearn)."""
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params):
        """Sets constructor arguments by name (validated); returns ``self``."""
        names = self._param_names()
        for k in params:
            if k not in names:
                raise ValueError(f"{k!r} is not a parameter of {type(self).__name__}: {names}")
        old = self.get_params()
        for k, val in params.items():
            setattr(self, k, val)
        try:
            self._check_params()
        except (TypeError, ValueError):
            for k, val in old.items():
                setattr(self, k, val)
            raise
        return self

    def clone(self):
        """A new unfitted estimator with the same parameters."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={val!r}" for k, val in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_params(self) -> None:
        if isinstance(self.hidden, str) or not hasattr(self.hidden, "__iter__"):
            raise TypeError(f"hidden must be a sequence of ints; got {self.hidden!r}")
        self.hidden = tuple(v.check_int(w, "hidden", minimum=1) for w in self.hidden)
        v.check_choice(self.activation, "activation", tuple(ACTIVATIONS))
        v.check_positive(self.learning_rate, "learning_rate")
        v.check_int(self.num_steps, "num_steps", minimum=1)
        v.check_int(self.batch_size, "batch_size", minimum=1)
        v.check_nonnegative(self.weight_decay, "weight_decay")
        v.check_choice(self.decay_tuning, "decay_tuning", DECAY_TUNINGS)
        v.check_int(self.hyper_steps, "hyper_steps", minimum=1)
        v.check_int(self.inner_steps, "inner_steps", minimum=1)
        v.check_positive(self.hyper_lr, "hyper_lr")
        v.check_scalar(
            self.val_fraction, "val_fraction", minimum=0, maximum=1, min_open=True, max_open=True
        )
        v.check_bool(self.standardize, "standardize")
        if self.seed is not None:
            v.check_int(self.seed, "seed", minimum=0)
        if self.decay_tuning == "ift" and self.weight_decay <= 0:
            raise ValueError(
                "weight_decay must be > 0 with decay_tuning='ift' (it is the starting decay, "
                f"tuned in log space); got {self.weight_decay}"
            )

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "params_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")

    # ---- training
    def _fit_arrays(self, x: np.ndarray, y: np.ndarray, n_outputs: int) -> None:
        if self.seed is None:
            raise ValueError("seed must be set (an int) before fit; openml's seed_model sets it")
        n, d = x.shape
        if self.standardize:
            self.x_mean_ = x.mean(0)
            std = x.std(0)
            self.x_scale_ = np.where(std > 0, std, 1.0).astype(np.float32)
        else:
            self.x_mean_ = np.zeros(d, np.float32)
            self.x_scale_ = np.ones(d, np.float32)
        xs = ((x - self.x_mean_) / self.x_scale_).astype(np.float32)
        s = _Static(
            self._kind, self.hidden, self.activation, d, n_outputs, self.batch_size, self.num_steps
        )
        key = jax.random.key(self.seed)
        lr = jnp.float32(self.learning_rate)
        template = jax.eval_shape(lambda: _model(s).init(jax.random.key(0), jnp.zeros((1, d))))
        decay = float(self.weight_decay)
        log_decay = (
            init_log_decay(template, decay=decay, granularity="layer")
            if decay > 0
            else jax.tree.map(lambda _: jnp.float32(-jnp.inf), template)
        )
        self.decay_history_ = None
        if self.decay_tuning == "ift":
            perm = np.random.default_rng(self.seed).permutation(n)
            n_val = max(1, int(round(self.val_fraction * n)))
            if n - n_val < 1:
                raise ValueError(f"val_fraction={self.val_fraction} leaves no training rows of {n}")
            tr, va = perm[n_val:], perm[:n_val]
            ctr, cva = capacity_bucket(len(tr)), capacity_bucket(len(va))
            plan = batch_plan(
                self.seed, 2, len(tr), (self.hyper_steps, self.inner_steps, self.batch_size)
            )
            log_decay, val_losses = _compiled(s, "tune")(
                jax.random.fold_in(key, 7),
                _pad(xs[tr], ctr),
                _pad(y[tr], ctr),
                plan,
                _pad(xs[va], cva),
                _pad(y[va], cva),
                n_val,
                lr,
                log_decay,
                jnp.float32(self.hyper_lr),
            )
            self.decay_history_ = np.asarray(val_losses)
        cap = capacity_bucket(n)
        plan = batch_plan(self.seed, 1, n, (self.num_steps, self.batch_size))
        params, losses = _compiled(s, "fit")(key, _pad(xs, cap), _pad(y, cap), plan, lr, log_decay)
        self.static_ = s
        self.capacity_ = cap
        self.params_ = jax.device_get(params)
        self.train_losses_ = np.asarray(losses)
        self.decay_ = {
            "/".join(str(getattr(k, "key", k)) for k in path): float(np.exp(val))
            for path, val in jax.tree_util.tree_leaves_with_path(jax.device_get(log_decay))
        }
        if not np.all(np.isfinite(self.train_losses_)):
            raise FloatingPointError(
                f"training diverged: non-finite loss at step "
                f"{int(np.argmin(np.isfinite(self.train_losses_)))}; lower learning_rate"
            )

    def _outputs(self, X) -> np.ndarray:
        self._check_fitted()
        x, rows = _to_matrix(X)
        if x.shape[1] != self.static_.n_features:
            raise ValueError(
                f"X must have {self.static_.n_features} features (as in fit); got {x.shape[1]}"
            )
        self.predict_rows_ = rows
        xs = ((x - self.x_mean_) / self.x_scale_).astype(np.float32)
        cap = capacity_bucket(len(xs))
        out = _compiled(self.static_, "predict")(self.params_, _pad(xs, cap))
        return np.asarray(out)[: len(xs)]


class JaxmlClassifier(_Base):
    """MLP classifier (softmax cross-entropy), scikit-learn protocol; see the module docstring.

    Args:
        hidden: hidden widths of the :class:`jaxml.models.MLP`.
        activation: "relu", "tanh" or "gelu".
        learning_rate: Adam step size.
        num_steps: Adam steps of the (final) fit.
        batch_size: rows per step (drawn with replacement from the fit rows).
        weight_decay: L2 coefficient per parameter array (the start value for "ift").
        decay_tuning: "none" or "ift" (per-array decays tuned by :func:`jaxml.implicit.bilevel`).
        hyper_steps, inner_steps, hyper_lr: IFT outer steps, inner steps per outer step, Adam
            step size on the log decays. Keep ``hyper_steps * inner_steps`` near ``num_steps``
            so the decays are tuned for the training length of the final fit.
        val_fraction: share of the fit rows held out as IFT validation set.
        standardize: scale features to zero mean, unit variance (fit rows' statistics).
        seed: int; init, batches and the IFT split are a function of it.

    Fitted attributes: ``classes_``, ``params_``, ``train_losses_`` ``[num_steps]``, ``decay_``
    (``{"params/dense_0/kernel": decay, ...}``), ``decay_history_`` (IFT validation losses),
    ``fit_rows_``/``predict_rows_`` (DataFrame index labels seen, else None).
    """

    _kind = "classification"

    def fit(self, X, y):
        """Trains on ``X`` ``[n, d]`` (array or numeric DataFrame) and labels ``y`` ``[n]``."""
        self._check_params()
        x, rows = _to_matrix(X)
        labels = np.asarray(getattr(y, "to_numpy", lambda: y)())
        if labels.ndim != 1 or len(labels) != len(x):
            raise ValueError(f"y must be [n] = [{len(x)}] labels; got shape {labels.shape}")
        if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
            raise ValueError("y must not contain NaN labels")
        self.classes_, codes = np.unique(labels, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y must hold at least 2 classes; got {self.classes_.tolist()}")
        self.fit_rows_ = rows
        self._fit_arrays(x, codes.astype(np.int32), len(self.classes_))
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``[n, len(classes_)]`` (columns in ``classes_`` order)."""
        return np.asarray(jax.nn.softmax(self._outputs(X), axis=-1), np.float64)

    def predict(self, X) -> np.ndarray:
        """Predicted labels ``[n]`` (values of ``classes_``)."""
        out = self._outputs(X)
        return self.classes_[np.argmax(out, axis=-1)]


class JaxmlRegressor(_Base):
    """MLP regressor (mean squared error on standardized targets); same parameters as
    :class:`JaxmlClassifier`. Has no ``predict_proba``."""

    _kind = "regression"

    def fit(self, X, y):
        """Trains on ``X`` ``[n, d]`` and real targets ``y`` ``[n]``."""
        self._check_params()
        x, rows = _to_matrix(X)
        t = np.asarray(getattr(y, "to_numpy", lambda: y)())
        if t.ndim != 1 or len(t) != len(x):
            raise ValueError(f"y must be [n] = [{len(x)}] targets; got shape {t.shape}")
        if t.dtype.kind not in "fiu":
            raise TypeError(f"y must be real-valued targets; got dtype {t.dtype}")
        t = t.astype(np.float64)
        v.check_array(t, "y", ndim=1)
        self.y_mean_ = float(t.mean())
        self.y_scale_ = float(t.std()) or 1.0
        self.fit_rows_ = rows
        self._fit_arrays(x, ((t - self.y_mean_) / self.y_scale_).astype(np.float32), 1)
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted targets ``[n]``."""
        return self._outputs(X)[:, 0].astype(np.float64) * self.y_scale_ + self.y_mean_
