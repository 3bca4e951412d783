"""Compressed classifiers as benchmark models: L-C structured pruning + int8, served as int8.

A neuron-pruned and int8-quantized MLP (``Compose([NeuronPrune(d), Quantize("int8")])``, its
accuracy recovered by the L-C algorithm, :func:`jaxml.compress.lc`) is turned into a model that
really runs smaller int8 weights, so that LoadGen times what the compression bought:

* :func:`int8_mlp`: ``(stored, aux)`` of that scheme -> :class:`Int8MLP`, a *smaller* MLP (the
  pruned neurons deleted by :func:`jaxml.compress.shrink_mlp`) whose kernels stay int8 with one
  float32 scale per output channel. Its ``apply`` executes them in one of two ways
  (:data:`INT8_MATMULS`):

  - ``"dequantize"`` (weight-only int8, dequantize on the fly): per layer
    ``z = (h @ float32(q)) * scale + bias``. The scale is per output column, so it factors out
    of the matmul: the same value as ``h @ (q * scale)`` without materializing float weights.
  - ``"int8"`` (int8 x int8 -> int32 matmul, W8A8): each row of the activations is quantized
    symmetrically to int8 (``a = max|h_row| / 127``, ``hq = round(h / a)``), then
    ``z = int32(hq @ q) * a * scale + bias`` (``lax.dot_general`` with
    ``preferred_element_type=int32``). Adds the activations' rounding error.

* :func:`compress_classifier`: a dense ``mlp`` :class:`~jaxml.bench.BenchModel` -> the L-C
  compressed :class:`~jaxml.bench.BenchModel` (same samples, labels and ``score``), host-side
  driver (jits the L-C run once).
* :func:`score_outside_loadgen`: a model's metric on all its samples, called directly (the
  reference that LoadGen's AccuracyOnly result must equal).
* :func:`brief_summary`: the fields of :func:`jaxml.bench.run_benchmark`'s summary a figure keeps.

The model registry gains ``mlp-lc-int8`` (the ``mlp`` trained ``train_steps``, 25% of its hidden
neurons kept, int8, ``2 * train_steps`` L-C steps, dequantize-on-the-fly).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml import _validation as v
from jaxml._validation import PyTree
from jaxml.bench.models import BenchModel, build_model, register_model

__all__ = [
    "INT8_MATMULS",
    "Int8MLP",
    "brief_summary",
    "compress_classifier",
    "int8_mlp",
    "score_outside_loadgen",
]

INT8_MATMULS = ("dequantize", "int8")


class Int8MLP(NamedTuple):
    """What :func:`int8_mlp` returns.

    Attributes:
        params: a tuple with one dict per layer (hidden layers, then the head):
            ``{"q": int8 [d_in, c], "scale": float32 [c], "bias": float32 [c]}``.
        apply: ``apply(params, x[b, d]) -> logits [b, classes]`` (pure; jit it at the call site).
        hidden: the surviving hidden widths.
        matmul: "dequantize" or "int8" (see the module docstring).
        float_params: the equivalent float MLP (:func:`jaxml.compress.shrink_mlp`'s params,
            kernels ``q * scale``), for reference.
        float_apply: its ``apply``.
    """

    params: tuple
    apply: Callable[[PyTree, jax.Array], jax.Array]
    hidden: tuple[int, ...]
    matmul: str
    float_params: PyTree
    float_apply: Callable[[PyTree, jax.Array], jax.Array]


def _int8_layer(h: jax.Array, layer: dict, matmul: str) -> jax.Array:
    q, scale, bias = layer["q"], layer["scale"], layer["bias"]
    if matmul == "dequantize":
        return (h @ q.astype(h.dtype)) * scale + bias
    amax = jnp.max(jnp.abs(h), axis=-1, keepdims=True)
    a = jnp.where(amax > 0, amax / 127.0, 1.0).astype(h.dtype)
    hq = jnp.clip(jnp.round(h / a), -127, 127).astype(jnp.int8)
    acc = jax.lax.dot_general(
        hq, q, (((h.ndim - 1,), (0,)), ((), ())), preferred_element_type=jnp.int32
    )
    return acc.astype(h.dtype) * a * scale + bias


def _int8_apply(params, x, *, matmul: str, activation) -> jax.Array:
    h = jnp.asarray(x, jnp.float32)
    for i, layer in enumerate(params):
        h = _int8_layer(h, layer, matmul)
        if i < len(params) - 1:
            h = activation(h)
    return h


def _find_quant_aux(aux: Any):
    from jaxml.compress import QuantAux

    if isinstance(aux, QuantAux):
        return aux
    found = [a for a in aux if isinstance(a, QuantAux)] if isinstance(aux, tuple) else []
    if len(found) != 1:
        raise TypeError(
            "aux must be Quantize's QuantAux or Compose's aux tuple holding exactly one QuantAux; "
            f"got {type(aux).__name__}"
        )
    return found[0]


def int8_mlp(
    stored: PyTree,
    aux: Any,
    *,
    matmul: str = "dequantize",
    activation: Callable[[Any], Any] = nn.relu,
) -> Int8MLP:
    """The smaller int8 MLP that a neuron-pruned, int8-quantized :class:`jaxml.models.MLP` is.

    Host-side model surgery (concrete arrays). The float model it equals is
    ``shrink_mlp(scheme.decompress(stored, aux))``; the int8 kernels are ``stored``'s int8
    kernels with the deleted neurons' columns (and the next layer's rows) removed, and their
    scales the kept channels' scales, so ``q * scale`` equals the shrunk float kernel exactly.

    Args:
        stored: ``Compose([NeuronPrune(d, Layers(exclude=("head",), max_ndim=2)),
            Quantize("int8")]).compress(params)[0]``: every kernel int8 ``[d_in, c]``, biases
            float (pruned neurons' columns and biases zero).
        aux: that call's aux (a tuple holding one ``QuantAux``) or a ``QuantAux``.
        matmul: "dequantize" (int8 weights upcast inside the matmul) or "int8" (int8 x int8 ->
            int32 with per-row int8 activations).
        activation: the MLP's hidden activation.

    Returns:
        An :class:`Int8MLP`; with ``matmul="dequantize"`` its ``apply`` equals ``float_apply``
        up to float32 rounding.
    """
    from jaxml.compress import Quantize, shrink_mlp

    v.check_choice(matmul, "matmul", INT8_MATMULS)
    v.check_callable(activation, "activation")
    if not isinstance(stored, dict):
        raise TypeError(f"stored must be an MLP's params dict; got {type(stored).__name__}")
    qaux = _find_quant_aux(aux)
    inner = stored["params"] if set(stored) == {"params"} else stored
    if not isinstance(inner, dict) or not isinstance(inner.get("head"), dict):
        raise ValueError(
            f"stored must be a jaxml.models.MLP's params (dense_i and head); got {list(stored)}"
        )
    sinner = qaux.scales["params"] if set(stored) == {"params"} else qaux.scales
    names = sorted((k for k in inner if k.startswith("dense_")), key=lambda k: int(k[6:]))
    names.append("head")
    for n in names:
        if not isinstance(inner[n], dict) or "kernel" not in inner[n]:
            raise ValueError(f"stored layer {n} must hold a kernel; got {inner[n]!r}")
        k = inner[n]["kernel"]
        if not v.is_concrete(k):
            raise TypeError("stored must be concrete arrays (int8_mlp is host-side surgery)")
        if jnp.dtype(k.dtype) != jnp.int8 or np.ndim(k) != 2:
            raise ValueError(
                f"stored layer {n} kernel must be an int8 [d_in, c] matrix (Quantize('int8')); "
                f"got {np.ndim(k)}-d {k.dtype}"
            )
        sc = sinner[n]["kernel"]
        if sc is None or np.shape(sc) not in ((k.shape[1],), (1, k.shape[1])):
            raise ValueError(f"aux has no per-channel scale for stored layer {n}'s kernel")
    floats = Quantize("int8").decompress(stored, qaux)
    shrunk = shrink_mlp(jax.device_get(floats), activation=activation)
    small = shrunk.params["params"] if set(shrunk.params) == {"params"} else shrunk.params
    prev = np.arange(np.shape(inner[names[0]]["kernel"])[0])
    layers = []
    for i, n in enumerate(names):
        cols = shrunk.kept[i] if i < len(shrunk.kept) else np.arange(inner[n]["kernel"].shape[1])
        q = np.asarray(inner[n]["kernel"])[prev][:, cols]
        scale = np.asarray(sinner[n]["kernel"], np.float32).reshape(-1)[cols]
        if not np.array_equal(q.astype(np.float32) * scale, np.asarray(small[n]["kernel"])):
            raise AssertionError(f"int8 kernel of {n} does not match the shrunk float kernel")
        layers.append(
            {
                "q": jnp.asarray(q, jnp.int8),
                "scale": jnp.asarray(scale),
                "bias": jnp.asarray(small[n]["bias"], jnp.float32),
            }
        )
        prev = cols
    apply = partial(_int8_apply, matmul=matmul, activation=activation)
    return Int8MLP(tuple(layers), apply, shrunk.hidden, matmul, shrunk.params, shrunk.apply)


def compress_classifier(
    dense: BenchModel,
    x: Any,
    y: Any,
    *,
    density: float = 0.25,
    matmul: str = "dequantize",
    num_steps: int = 300,
    l_steps: int = 25,
    learning_rate: float = 2e-3,
    mu_init: float = 1e-3,
    mu_growth: float = 1.5,
    batch_size: int = 64,
    seed: int = 0,
    name: str | None = None,
) -> BenchModel:
    """L-C compresses a dense ``mlp`` benchmark model (structured pruning + int8) and returns
    the smaller int8 model as a :class:`~jaxml.bench.BenchModel` over the same samples.

    Scheme: ``Compose([NeuronPrune(density, Layers(exclude=("head",), max_ndim=2)),
    Quantize("int8")])``; recovery: :func:`jaxml.compress.classify.recover` with
    ``method="lc"`` (``num_steps`` Adam steps, a C-step every ``l_steps``), then
    :func:`int8_mlp`. Host-side driver: the L-C run is jitted here, once.

    Args:
        dense: a :class:`~jaxml.bench.BenchModel` whose params are a
            :class:`jaxml.models.MLP`'s (e.g. ``build_model("mlp")``).
        x, y: ``[n, d]`` float training inputs and ``[n]`` int labels (not the served samples).
        density: fraction of hidden neurons kept per layer, in ``(0, 1]``.
        matmul: how the int8 weights run (:data:`INT8_MATMULS`).
        num_steps, l_steps, learning_rate, mu_init, mu_growth, batch_size, seed: the L-C run.
        name: the returned model's name (default ``"<dense.name>-lc-int8"``).

    Returns:
        The compressed model. ``info`` adds ``density``, ``hidden``, ``matmul``, ``num_params``,
        ``dense_num_params``, ``weight_bytes`` (int8 kernels + float32 scales and biases),
        ``dense_weight_bytes`` and the L-C settings.
    """
    from jaxml.compress import Compose, Layers, NeuronPrune, Quantize
    from jaxml.compress.classify import recover

    if not isinstance(dense, BenchModel):
        raise TypeError(f"dense must be a BenchModel; got {type(dense).__name__}")
    v.check_scalar(density, "density", minimum=0.0, maximum=1.0, min_open=True)
    v.check_choice(matmul, "matmul", INT8_MATMULS)
    num_steps = v.check_int(num_steps, "num_steps", minimum=1)
    l_steps = v.check_int(l_steps, "l_steps", minimum=1)
    v.check_positive(learning_rate, "learning_rate")
    v.check_positive(mu_init, "mu_init")
    v.check_scalar(mu_growth, "mu_growth", minimum=1.0)
    seed = v.check_int(seed, "seed", minimum=0)
    name = f"{dense.name}-lc-int8" if name is None else v.check_str(name, "name")
    x_shape = v.check_array(x, "x", ndim=2, dtype="real", finite=True)
    y_shape = v.check_array(y, "y", ndim=1, dtype="int")
    n = v.check_same_size({"x rows": x_shape[0], "y length": y_shape[0]})
    batch_size = v.check_int(batch_size, "batch_size", minimum=1, maximum=n)
    dense_x = np.asarray(dense.x)
    if dense_x.ndim != 2 or dense_x.shape[1] != x_shape[1]:
        raise ValueError(f"x must have {dense_x.shape[1:]} features like dense.x; got {x_shape}")

    scheme = Compose(
        [NeuronPrune(density, Layers(exclude=("head",), max_ndim=2)), Quantize("int8")]
    )

    @jax.jit
    def run(params, xs, ys):
        return recover(
            scheme,
            dense.apply,
            params,
            xs,
            ys,
            method="lc",
            optimizer=optax.adam(learning_rate),
            num_steps=num_steps,
            batch_size=batch_size,
            key=jax.random.key(seed),
            l_steps=l_steps,
            mu_init=mu_init,
            mu_growth=mu_growth,
        )

    stored, aux = jax.device_get(run(dense.params, jnp.asarray(x), jnp.asarray(y)))
    model = int8_mlp(stored, aux, matmul=matmul)
    leaves = jax.tree.leaves(model.params)
    info = {
        **dense.info,
        "num_params": sum(int(np.size(a)) for a in leaves if a.dtype != jnp.float32)
        + sum(int(np.size(layer["bias"])) for layer in model.params),
        "dense_num_params": dense.info.get("num_params"),
        "weight_bytes": sum(int(np.asarray(a).nbytes) for a in leaves),
        "dense_weight_bytes": sum(int(np.asarray(a).nbytes) for a in jax.tree.leaves(dense.params)),
        "hidden": list(model.hidden),
        "density": float(density),
        "matmul": matmul,
        "lc": {
            "num_steps": num_steps,
            "l_steps": l_steps,
            "learning_rate": float(learning_rate),
            "mu_init": float(mu_init),
            "mu_growth": float(mu_growth),
        },
    }
    return dense._replace(name=name, apply=model.apply, params=model.params, info=info)


def score_outside_loadgen(model: BenchModel) -> dict[str, float]:
    """``model.score`` on all of ``model.x``, the model called directly (one jitted batch)."""
    if not isinstance(model, BenchModel):
        raise TypeError(f"model must be a BenchModel; got {type(model).__name__}")
    outputs = jax.jit(model.apply)(model.params, jnp.asarray(model.x))
    return model.score(np.asarray(outputs), np.arange(len(model.x)))


_BRIEF_KEYS = ("metric_name", "metric_value", "result_valid", "invalid_reasons", "latency_ns")


def brief_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The figure-sized part of a :func:`jaxml.bench.run_benchmark` summary: metric name/value,
    LoadGen's validity and reasons, latency percentiles (ns), the exactly-once counts and the
    raw (outside LoadGen) samples/s."""
    if not isinstance(summary, dict):
        raise TypeError(f"summary must be run_benchmark's dict; got {type(summary).__name__}")
    missing = {*_BRIEF_KEYS, "completion", "raw_outside_loadgen"} - set(summary)
    if missing:
        raise ValueError(f"summary must be run_benchmark's dict; it lacks {sorted(missing)}")
    out = {k: summary[k] for k in _BRIEF_KEYS}
    out["completion"] = summary["completion"]
    out["raw_samples_per_s"] = summary["raw_outside_loadgen"]["samples_per_s"]
    return out


def _mlp_lc_int8(workdir, *, train_steps: int, seed: int) -> BenchModel:
    from jaxml.data.digits import load_digits

    dense = build_model("mlp", workdir, train_steps=train_steps, seed=seed)
    data = load_digits(seed=seed, flatten=True)
    return compress_classifier(
        dense,
        data.train.x,
        data.train.y,
        num_steps=2 * train_steps,
        seed=seed,
        name="mlp-lc-int8",
    )


register_model("mlp-lc-int8", _mlp_lc_int8)
