"""The models the benchmark runs, built by name, briefly trained and cached in a workdir.

Each builder returns a :class:`BenchModel`: a pure ``apply(params, x[b, ...]) -> y[b, ...]``, its
trained ``params``, the samples the QSL serves, and a ``score`` that turns outputs of chosen
samples into the model's quality metric (the accuracy LoadGen's AccuracyOnly mode checks).
Adding a model is one :func:`register_model` call; e.g. a compressed classifier from
``jaxml.compress`` is a builder that loads the dense ``mlp`` and returns its smaller params.

Built-in models:

* ``mlp`` / ``cnn``: :func:`jaxml.models.make_classifier` trained on 8x8 digits with
  :func:`jaxml.train.optax_scan` (Adam, a few hundred steps); metric: top-1 accuracy.
* ``vae-encoder``: the encoder mean of :class:`jaxml.vae.GaussianVAE` trained on digits by the
  ELBO; metric: reconstruction MSE of ``decode(encode(x))`` (lower is better).
* ``mlp-pruned``: the ``mlp`` with 75% of its hidden neurons removed by
  :class:`jaxml.compress.NeuronPrune` + :func:`jaxml.compress.shrink_mlp` (a genuinely smaller
  dense MLP), fine-tuned briefly; metric: top-1 accuracy.
* ``hyperbolic-knn``: top-k nearest neighbours by Poincare distance over a trained Poincare
  embedding of a synthetic tree (:func:`jaxml.hyperbolic.train_poincare_embeddings`); a query is
  a point of the ball, the answer the ``k`` node ids nearest to it; metric: precision@k of
  retrieving a node's ancestors/descendants.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml import _validation as v
from jaxml._validation import PyTree

__all__ = [
    "BenchModel",
    "build_model",
    "model_names",
    "register_model",
]


class BenchModel(NamedTuple):
    """A model ready for the SUT.

    Attributes:
        name: registry name.
        apply: ``apply(params, x[b, ...]) -> y[b, ...]`` (pure; the SUT jits it).
        params: trained parameters.
        x: ``[n, ...]`` the samples the QSL serves.
        labels: ``[n]`` int targets used by ``score`` (class labels, node ids).
        score: ``score(outputs[m, ...], indices[m]) -> {metric: value}`` for samples ``indices``.
        metric: the key of ``score``'s main metric.
        higher_is_better: direction of ``metric``.
        info: extras (training steps, parameter count, ...).
    """

    name: str
    apply: Callable[[PyTree, jax.Array], jax.Array]
    params: PyTree
    x: np.ndarray
    labels: np.ndarray
    score: Callable[[np.ndarray, np.ndarray], dict[str, float]]
    metric: str
    higher_is_better: bool
    info: dict[str, Any]


Builder = Callable[..., BenchModel]
_REGISTRY: dict[str, Builder] = {}


def register_model(name: str, builder: Builder) -> None:
    """Adds ``builder(workdir, *, train_steps, seed) -> BenchModel`` under ``name``."""
    v.check_str(name, "name")
    v.check_callable(builder, "builder")
    _REGISTRY[name] = builder


def model_names() -> tuple[str, ...]:
    """Names :func:`build_model` accepts."""
    return tuple(_REGISTRY)


def build_model(name: str, workdir=None, *, train_steps: int = 300, seed: int = 0) -> BenchModel:
    """Builds (trains, or loads from ``workdir/models/``) the model ``name``.

    Args:
        name: one of :func:`model_names`.
        workdir: where trained parameters are cached; None trains without caching.
        train_steps: optimizer steps (epochs for ``hyperbolic-knn``), >= 1.
        seed: data split and initialization seed.
    """
    v.check_choice(name, "name", model_names())
    if workdir is not None:
        workdir = v.check_path(workdir, "workdir")
    train_steps = v.check_int(train_steps, "train_steps", minimum=1)
    seed = v.check_int(seed, "seed", minimum=0)
    return _REGISTRY[name](workdir, train_steps=train_steps, seed=seed)


def cached_params(workdir, tag: str, template: PyTree, train: Callable[[], PyTree]) -> PyTree:
    """``train()``'s params, stored as ``workdir/models/<tag>.msgpack`` and reused if present."""
    if workdir is None:
        return train()
    path = Path(workdir) / "models" / f"{tag}.msgpack"
    if path.is_file():
        return flax.serialization.from_bytes(template, path.read_bytes())
    params = jax.device_get(train())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(flax.serialization.to_bytes(params))
    tmp.replace(path)
    return params


def _adam_scan(loss_fn, params, n: int, train_steps: int, seed: int, batch_size: int = 64):
    from jaxml.train import batch_sampler, optax_scan

    opt = optax.adam(3e-3)
    sampler = batch_sampler(n, min(batch_size, n), rule="epoch")
    key = jax.random.key(seed + 1)

    @jax.jit
    def train(params):
        result = optax_scan(
            loss_fn,
            opt,
            params,
            opt.init(params),
            batch_fn=lambda t: (sampler(key, t), t),
            num_steps=train_steps,
        )
        return result.params

    return train(params)


def _classifier(kind: str) -> Builder:
    def build(workdir, *, train_steps: int, seed: int) -> BenchModel:
        from jaxml.data.digits import load_digits
        from jaxml.models import cross_entropy, make_classifier

        data = load_digits(seed=seed, flatten=(kind == "mlp"))
        model = make_classifier(
            kind,
            num_classes=data.num_classes,
            input_shape=data.input_shape,
            hidden=(128, 128),
            features=(16, 32),
        )
        xtr, ytr = jnp.asarray(data.train.x), jnp.asarray(data.train.y)
        template = jax.jit(model.init)(jax.random.key(seed), xtr[:1])

        def loss(p, idx, t):
            return cross_entropy(model.apply(p, xtr[idx]), ytr[idx])

        params = cached_params(
            workdir,
            f"{kind}-digits-s{seed}-t{train_steps}",
            template,
            lambda: _adam_scan(loss, template, xtr.shape[0], train_steps, seed),
        )
        labels = np.asarray(data.test.y)

        def score(outputs, indices):
            outputs, indices = np.asarray(outputs), np.asarray(indices)
            correct = np.argmax(outputs, axis=-1) == labels[indices]
            return {"accuracy": float(np.mean(correct)), "correct": int(correct.sum())}

        n_params = sum(int(np.size(a)) for a in jax.tree.leaves(params))
        return BenchModel(
            kind,
            model.apply,
            params,
            np.asarray(data.test.x),
            labels,
            score,
            "accuracy",
            True,
            {"train_steps": train_steps, "num_params": n_params, "dataset": "digits test"},
        )

    return build


def _vae_encoder(workdir, *, train_steps: int, seed: int) -> BenchModel:
    from jaxml.data.digits import load_digits
    from jaxml.vae import GaussianVAE, deep_vae_elbo

    data = load_digits(seed=seed, flatten=True)
    model = GaussianVAE(data_dim=64, latent_dim=8, hidden=(128,))
    xtr = jnp.asarray(data.train.x)
    template = {
        "params": jax.jit(model.init)(jax.random.key(seed), xtr[:1]),
        "log_sigma2": jnp.zeros((), jnp.float32),
    }
    noise = jax.random.key(seed + 7)

    def loss(p, idx, t):
        elbo, _ = deep_vae_elbo(
            model, p["params"], p["log_sigma2"], xtr[idx], jax.random.fold_in(noise, t)
        )
        return -elbo

    full = cached_params(
        workdir,
        f"vae-digits-s{seed}-t{train_steps}",
        template,
        lambda: _adam_scan(loss, template, xtr.shape[0], train_steps, seed),
    )
    params = full["params"]

    def encode(p, x):
        return model.apply(p, x, method=GaussianVAE.encode)[0]

    decode = jax.jit(lambda p, z: model.apply(p, z, method=GaussianVAE.decode))
    x_test = np.asarray(data.test.x)

    def score(outputs, indices):
        recon = np.asarray(decode(params, jnp.asarray(outputs, jnp.float32)))
        return {"recon_mse": float(np.mean((recon - x_test[np.asarray(indices)]) ** 2))}

    n_params = sum(int(np.size(a)) for a in jax.tree.leaves(params))
    return BenchModel(
        "vae-encoder",
        encode,
        params,
        x_test,
        np.asarray(data.test.y),
        score,
        "recon_mse",
        False,
        {"train_steps": train_steps, "num_params": n_params, "latent_dim": 8},
    )


def _hyperbolic_knn(workdir, *, train_steps: int, seed: int, k: int = 5) -> BenchModel:
    from jaxml.hyperbolic import poincare, synthetic_hierarchy, train_poincare_embeddings

    tree = synthetic_hierarchy(seed, branching=3, depth=4)
    n, dim = tree.num_nodes, 5
    epochs = max(1, min(train_steps, 100))
    template = jnp.zeros((n, dim), jnp.float32)
    table = cached_params(
        workdir,
        f"poincare-tree-s{seed}-e{epochs}",
        template,
        lambda: train_poincare_embeddings(
            tree.edges,
            n,
            dim,
            jax.random.key(seed),
            num_epochs=epochs,
            num_negatives=10,
            burn_in_epochs=min(10, epochs),
        ),
    )
    related = np.eye(n, dtype=bool)
    related[tree.edges[:, 0], tree.edges[:, 1]] = True
    related[tree.edges[:, 1], tree.edges[:, 0]] = True

    def topk(table, q):
        d = poincare.pairwise_distance(q, table)
        return jax.lax.top_k(-d, k + 1)[1]  # the query node itself comes first

    def score(outputs, indices):
        idx = np.asarray(outputs)[:, 1:]
        hits = related[np.asarray(indices)[:, None], idx]
        return {f"precision_at_{k}": float(np.mean(hits))}

    return BenchModel(
        "hyperbolic-knn",
        topk,
        jnp.asarray(table),
        np.asarray(table, np.float32),
        np.arange(n, dtype=np.int32),
        score,
        f"precision_at_{k}",
        True,
        {"train_epochs": epochs, "num_nodes": n, "dim": dim, "k": k},
    )


def _mlp_pruned(workdir, *, train_steps: int, seed: int, density: float = 0.25) -> BenchModel:
    """The ``mlp`` neuron-pruned to ``density`` of its hidden neurons by
    :class:`jaxml.compress.NeuronPrune`, turned into a smaller dense MLP by
    :func:`jaxml.compress.shrink_mlp`, then fine-tuned for ``train_steps // 3`` steps."""
    from jaxml.compress import Layers, NeuronPrune, shrink_mlp
    from jaxml.data.digits import load_digits
    from jaxml.models import cross_entropy

    dense = _REGISTRY["mlp"](workdir, train_steps=train_steps, seed=seed)
    pruned, _ = NeuronPrune(density, Layers(exclude=("head",), max_ndim=2)).compress(dense.params)
    small = shrink_mlp(jax.device_get(pruned))
    data = load_digits(seed=seed, flatten=True)
    xtr, ytr = jnp.asarray(data.train.x), jnp.asarray(data.train.y)

    def loss(p, idx, t):
        return cross_entropy(small.apply(p, xtr[idx]), ytr[idx])

    steps = max(1, train_steps // 3)
    params = cached_params(
        workdir,
        f"mlp-pruned{density:g}-digits-s{seed}-t{train_steps}",
        small.params,
        lambda: _adam_scan(loss, small.params, xtr.shape[0], steps, seed + 2),
    )
    n_params = sum(int(np.size(a)) for a in jax.tree.leaves(params))
    info = {
        **dense.info,
        "num_params": n_params,
        "dense_num_params": dense.info["num_params"],
        "hidden": list(small.hidden),
        "density": density,
        "finetune_steps": steps,
    }
    return dense._replace(name="mlp-pruned", apply=small.apply, params=params, info=info)


register_model("mlp", _classifier("mlp"))
register_model("cnn", _classifier("cnn"))
register_model("vae-encoder", _vae_encoder)
register_model("hyperbolic-knn", _hyperbolic_knn)
register_model("mlp-pruned", _mlp_pruned)
