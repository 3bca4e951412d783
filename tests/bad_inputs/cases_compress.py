"""Bad calls to jaxml.compress (see tests/bad_inputs/audit.py)."""

import jax.numpy as jnp
import numpy as np
import optax

from jaxml import compress as c
from jaxml.testing import bad_calls

F = "jaxml.compress."
_p = {
    "params": {
        "dense_0": {"kernel": jnp.asarray(np.ones((4, 6)), jnp.float32), "bias": jnp.zeros(6)},
        "head": {"kernel": jnp.asarray(np.ones((6, 3)), jnp.float32), "bias": jnp.zeros(3)},
    }
}
_nan = {"w": jnp.array([[1.0, jnp.nan], [2.0, 3.0]])}
_stored, _aux = c.Prune(0.5).compress(_p)
_loss = lambda p, x: jnp.sum(p["params"]["head"]["kernel"])  # noqa: E731
_batch = lambda t: (jnp.ones(2),)  # noqa: E731


def _cases(name, arg, items, errors=(ValueError, TypeError)):
    return bad_calls(F + name, arg, items, errors)


_DENSITY = [
    ("density 0", 0.0),
    ("density 1.5", 1.5),
    ("density -0.1", -0.1),
    ("density NaN", float("nan")),
    ("density a string", "0.5"),
    ("density None", None),
    ("density a 1-D array", jnp.array([0.5, 0.2])),
]

CASES = [
    *_cases("Prune", "density", [(w, lambda d=d: c.Prune(d)) for w, d in _DENSITY]),
    *_cases("NeuronPrune", "density", [(w, lambda d=d: c.NeuronPrune(d)) for w, d in _DENSITY[:4]]),
    *_cases("FilterPrune", "density", [(w, lambda d=d: c.FilterPrune(d)) for w, d in _DENSITY[:4]]),
    *_cases(
        "BlockPrune", "density", [(w, lambda d=d: c.BlockPrune(d, (2, 2))) for w, d in _DENSITY[:4]]
    ),
    *_cases(
        "BlockPrune",
        "block",
        [
            ("block (3, 4) does not divide [4, 6]", lambda: c.BlockPrune(0.5, (3, 4)).compress(_p)),
            ("block 0", lambda: c.BlockPrune(0.5, (0, 2))),
            ("block an int", lambda: c.BlockPrune(0.5, 2)),
            ("block ()", lambda: c.BlockPrune(0.5, ())),
            ("block floats", lambda: c.BlockPrune(0.5, (2.0, 2.0))),
        ],
    ),
    *_cases(
        "Prune",
        "layers",
        [
            (
                "filter matching no layer",
                lambda: c.Prune(0.5, c.Layers(include=("conv",))).compress(_p),
            ),
            ("exclude everything", lambda: c.Prune(0.5, c.Layers(exclude=(".",))).compress(_p)),
            ("layers a string", lambda: c.Prune(0.5, "head")),
            ("bad regular expression", lambda: c.Prune(0.5, c.Layers(include=("(",)))),
            ("min_ndim -1", lambda: c.Prune(0.5, c.Layers(min_ndim=-1))),
        ],
    ),
    *_cases(
        "NeuronPrune",
        "layers",
        [
            (
                "filter matching no layer",
                lambda: c.NeuronPrune(0.5, c.Layers(include=("x",))).compress(_p),
            )
        ],
    ),
    *_cases(
        "FilterPrune",
        "layers",
        [("no conv kernel in an MLP", lambda: c.FilterPrune(0.5).compress(_p))],
    ),
    *_cases(
        "Prune",
        "params",
        [
            ("NaN params", lambda: c.Prune(0.5).compress(_nan)),
            ("empty params", lambda: c.Prune(0.5).compress({})),
            ("string leaf", lambda: c.Prune(0.5).compress({"w": "abc"})),
        ],
    ),
    *_cases(
        "Quantize",
        "dtype",
        [
            ("unknown dtype int4", lambda: c.Quantize("int4")),
            ("float64", lambda: c.Quantize(jnp.float64)),
            ("dtype an int", lambda: c.Quantize(8)),
            ("dtype None", lambda: c.Quantize(None)),
        ],
    ),
    *_cases(
        "Quantize",
        "layers",
        [
            (
                "filter matching no layer",
                lambda: c.Quantize("int8", c.Layers(include=("zzz",))).compress(_p),
            )
        ],
    ),
    *_cases(
        "Quantize",
        "aux",
        [("a PruneAux", lambda: c.Quantize("int8").decompress(_stored, _aux))],
    ),
    *_cases(
        "Compose",
        "schemes",
        [
            ("empty list", lambda: c.Compose([])),
            ("a string", lambda: c.Compose("prune")),
            ("not a scheme", lambda: c.Compose([c.Prune(0.5), 3])),
            ("one scheme, not a list", lambda: c.Compose(c.Prune(0.5))),
        ],
    ),
    *_cases(
        "Compose",
        "aux",
        [("wrong aux length", lambda: c.Compose([c.Prune(0.5)]).decompress(_stored, (_aux, _aux)))],
    ),
    *_cases(
        "density",
        "params",
        [("empty params", lambda: c.density({})), ("string leaf", lambda: c.density({"w": "x"}))],
    ),
    *_cases(
        "density",
        "masks",
        [
            ("float masks", lambda: c.density(_p, c.PruneAux(_p).masks)),
            ("wrong structure", lambda: c.density(_p, {"w": jnp.ones(2, bool)})),
            ("empty masks", lambda: c.density(_p, {})),
        ],
    ),
    *_cases(
        "lc",
        "scheme",
        [
            ("a string", lambda: c.lc("prune", optax.sgd(0.1))),
            ("None", lambda: c.lc(None, optax.sgd(0.1))),
        ],
    ),
    *_cases("lc", "optimizer", [("a string", lambda: c.lc(c.Prune(0.5), "adam"))]),
    *_cases(
        "lc",
        "l_steps",
        [
            ("0", lambda: c.lc(c.Prune(0.5), optax.sgd(0.1), l_steps=0)),
            ("float", lambda: c.lc(c.Prune(0.5), optax.sgd(0.1), l_steps=2.0)),
        ],
    ),
    *_cases(
        "lc",
        "mu_init",
        [
            ("0", lambda: c.lc(c.Prune(0.5), optax.sgd(0.1), mu_init=0.0)),
            ("NaN", lambda: c.lc(c.Prune(0.5), optax.sgd(0.1), mu_init=float("nan"))),
        ],
    ),
    *_cases(
        "lc", "mu_growth", [("0.5", lambda: c.lc(c.Prune(0.5), optax.sgd(0.1), mu_growth=0.5))]
    ),
    *_cases(
        "lc",
        "mu_schedule",
        [("not callable", lambda: c.lc(c.Prune(0.5), optax.sgd(0.1), mu_schedule=2.0))],
    ),
    *_cases("lc_theta", "state", [("an adam state", lambda: c.lc_theta(optax.adam(0.1).init(_p)))]),
    *_cases(
        "hold_masks",
        "masks",
        [
            ("float masks", lambda: c.hold_masks({"w": jnp.ones(3)})),
            ("empty", lambda: c.hold_masks({})),
        ],
    ),
    *_cases(
        "direct",
        "scheme",
        [
            (
                "a string",
                lambda: c.direct("prune", _loss, optax.sgd(0.1), _p, batch_fn=_batch, num_steps=1),
            )
        ],
    ),
    *_cases(
        "direct",
        "loss_fn",
        [
            (
                "not callable",
                lambda: c.direct(c.Prune(0.5), 3, optax.sgd(0.1), _p, batch_fn=_batch, num_steps=1),
            )
        ],
    ),
    *_cases(
        "direct",
        "optimizer",
        [
            (
                "a string",
                lambda: c.direct(c.Prune(0.5), _loss, "sgd", _p, batch_fn=_batch, num_steps=1),
            )
        ],
    ),
    *_cases(
        "direct",
        "batch_fn",
        [
            (
                "None",
                lambda: c.direct(
                    c.Prune(0.5), _loss, optax.sgd(0.1), _p, batch_fn=None, num_steps=1
                ),
            )
        ],
    ),
    *_cases(
        "direct",
        "num_steps",
        [
            (
                "-1",
                lambda: c.direct(
                    c.Prune(0.5), _loss, optax.sgd(0.1), _p, batch_fn=_batch, num_steps=-1
                ),
            )
        ],
    ),
    *_cases(
        "direct",
        "params",
        [
            (
                "NaN params",
                lambda: c.direct(
                    c.Prune(0.5), _loss, optax.sgd(0.1), _nan, batch_fn=_batch, num_steps=1
                ),
            )
        ],
    ),
    *_cases(
        "search_density",
        "target",
        [
            ("NaN", lambda: c.search_density(lambda d: 1.0, target=float("nan"))),
            ("a string", lambda: c.search_density(lambda d: 1.0, target="0.9")),
        ],
    ),
    *_cases(
        "search_density", "evaluate", [("not callable", lambda: c.search_density(3, target=0.9))]
    ),
    *_cases(
        "search_density",
        "lo",
        [
            ("0", lambda: c.search_density(lambda d: 1.0, target=0.9, lo=0.0)),
            ("lo >= hi", lambda: c.search_density(lambda d: 1.0, target=0.9, lo=0.5, hi=0.4)),
        ],
    ),
    *_cases(
        "search_density",
        "hi",
        [("1.5", lambda: c.search_density(lambda d: 1.0, target=0.9, hi=1.5))],
    ),
    *_cases(
        "search_density",
        "max_evals",
        [("1", lambda: c.search_density(lambda d: 1.0, target=0.9, max_evals=1))],
    ),
    *_cases(
        "search_density",
        "xtol",
        [("0", lambda: c.search_density(lambda d: 1.0, target=0.9, xtol=0.0))],
    ),
    *_cases(
        "search_density",
        "guard",
        [("0.5", lambda: c.search_density(lambda d: 1.0, target=0.9, guard=0.5))],
    ),
    *_cases(
        "search_density",
        "evaluate",
        [
            (
                "returns NaN",
                lambda: c.search_density(lambda d: float("nan"), target=0.9, progress=False),
            )
        ],
    ),
    *_cases(
        "save_compressed",
        "path",
        [
            ("None", lambda: c.save_compressed(None, _stored, _aux)),
            ("empty", lambda: c.save_compressed("", _stored, _aux)),
        ],
    ),
    *_cases(
        "save_compressed",
        "sparse",
        [
            (
                "unknown format coo",
                lambda: c.save_compressed("/tmp/x.npz", _stored, _aux, sparse="coo"),
            )
        ],
    ),
    *_cases(
        "save_compressed",
        "stored",
        [
            ("empty", lambda: c.save_compressed("/tmp/x.npz", {}, None)),
            ("list of arrays", lambda: c.save_compressed("/tmp/x.npz", [jnp.ones(2)], None)),
        ],
    ),
    *_cases(
        "save_compressed",
        "aux",
        [("a string", lambda: c.save_compressed("/tmp/x.npz", _stored, "masks"))],
    ),
    *_cases(
        "load_compressed",
        "path",
        [
            ("missing file", lambda: c.load_compressed("/nonexistent/m.npz")),
            ("None", lambda: c.load_compressed(None)),
        ],
        errors=(ValueError, TypeError, FileNotFoundError),
    ),
    *_cases(
        "load_compressed",
        "decompress",
        [("a string", lambda: c.load_compressed(__file__, decompress="yes"))],
    ),
    *_cases("masks_of", "aux", [("a string", lambda: c.masks_of("masks"))]),
    *_cases(
        "select_leaves",
        "layers",
        [
            ("no match", lambda: c.select_leaves(_p, c.Layers(include=("nope",)))),
            ("a dict", lambda: c.select_leaves(_p, {"include": "x"})),
        ],
    ),
    *_cases("select_leaves", "params", [("empty", lambda: c.select_leaves({}))]),
    *_cases(
        "shrink_mlp",
        "params",
        [
            ("a list", lambda: c.shrink_mlp([1, 2])),
            (
                "not an MLP",
                lambda: c.shrink_mlp(
                    {"conv_0": {"kernel": jnp.ones((3, 3, 1, 2)), "bias": jnp.zeros(2)}}
                ),
            ),
            ("pruned head", lambda: c.shrink_mlp(c.NeuronPrune(0.5).compress(_p)[0])),
            (
                "NaN",
                lambda: c.shrink_mlp(
                    {
                        "params": {
                            "dense_0": {"kernel": jnp.full((2, 2), jnp.nan), "bias": jnp.zeros(2)},
                            "head": {"kernel": jnp.ones((2, 2)), "bias": jnp.zeros(2)},
                        }
                    }
                ),
            ),
        ],
    ),
    *_cases(
        "shrink_mlp", "activation", [("a string", lambda: c.shrink_mlp(_stored, activation="relu"))]
    ),
]

EXEMPT = {
    F
    + "Layers": "a NamedTuple filter; every scheme taking it checks its fields (see Prune layers)",
    F + "LCState": "a NamedTuple container returned by lc",
    F + "PruneAux": "a NamedTuple container returned by compress",
    F + "QuantAux": "a NamedTuple container returned by compress",
    F + "SearchResult": "a NamedTuple result",
    F + "ShrunkMLP": "a NamedTuple result",
    F + "StorageReport": "a NamedTuple result",
}
