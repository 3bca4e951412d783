"""Quantization scheme: float16, bfloat16, or int8 with one scale per output channel.

int8 uses qwix (``qwix.quantize(w, jnp.int8, channelwise_axes=(-1,))`` and ``qwix.dequantize``):
these are plain array functions, so they fit a pure pytree transform. qwix's symmetric absmax
calibration maps a channel's largest ``|w|`` to the int8 bound (scale ``absmax / 127.5``, values
clipped to ``[-128, 127]``, no zero point, so 0 stays exactly 0 and a pruned weight stays pruned)
and the round trip errs by at most half a step (``scale / 2``) per weight. float16/bfloat16 is a
cast (qwix's float qtypes are fp8/fp4 only), stored with a 0-d scale of 1 that remembers the
original dtype. qwix's model-level API (``quantize_model``, providers intercepting ``nn.Dense``)
is for quantized *execution* of flax modules; compression here works on parameter pytrees, so
only its array-level functions are used.
"""

import jax
import jax.numpy as jnp
import qwix

from jaxml._validation import PyTree
from jaxml.compress._base import QuantAux, check_aux, check_params
from jaxml.compress.layers import Layers, check_layers, select_leaves
from jaxml.compress.pruning import _Scheme

__all__ = ["DTYPES", "Quantize"]

DTYPES = ("int8", "float16", "bfloat16")


def _dtype_name(dtype) -> str | None:
    try:
        return jnp.dtype(dtype).name
    except TypeError:
        return None


class Quantize(_Scheme):
    """Quantize the selected leaves to ``dtype``.

    Args:
        dtype: "int8" (per-channel scales over the last axis of each leaf: the output channel of
            a dense ``[d_in, c]`` or conv ``[..., c_in, c]`` kernel), "float16" or "bfloat16"
            (a string or the jnp dtype).
        layers: which leaves (default: rank >= 2, i.e. kernels).

    ``compress(params) -> (stored, QuantAux(scales))``: ``stored`` holds int8 / float16 / bfloat16
    arrays for the selected leaves (the bytes that :func:`jaxml.compress.save_compressed` writes);
    ``decompress(stored, aux)`` gives float params ``stored * scale`` in the original dtype.
    """

    def __init__(self, dtype="int8", layers: Layers | None = None):
        name = _dtype_name(dtype) if not isinstance(dtype, str) else dtype
        if not isinstance(dtype, str) and name is None:
            raise TypeError(
                f"dtype must be one of {list(DTYPES)} (str or jnp dtype); got {dtype!r}"
            )
        if name not in DTYPES:
            raise ValueError(f"dtype must be one of {list(DTYPES)}; got {dtype!r}")
        self.dtype = name
        self.layers = check_layers(layers)

    def _leaf(self, w: jax.Array):
        if self.dtype == "int8":
            q = qwix.quantize(w, jnp.int8, channelwise_axes=(w.ndim - 1,))
            return q.qvalue, q.scale.astype(w.dtype)
        return w.astype(self.dtype), jnp.ones((), w.dtype)

    def compress(self, params: PyTree) -> tuple[PyTree, QuantAux]:
        """Returns ``(stored params, QuantAux(scales))``; jit-safe."""
        check_params(params)
        sel = select_leaves(params, self.layers)
        for w, c in zip(jax.tree.leaves(params), jax.tree.leaves(sel), strict=True):
            if c and jnp.dtype(w.dtype).kind != "f" and w.dtype != jnp.bfloat16:
                raise TypeError(f"params must hold float leaves to quantize; got {w.dtype}")
        pairs = jax.tree.map(lambda w, c: self._leaf(w) if c else (w, None), params, sel)
        is_pair = lambda x: isinstance(x, tuple) and len(x) == 2  # noqa: E731
        stored = jax.tree.map(lambda p: p[0], pairs, is_leaf=is_pair)
        scales = jax.tree.map(lambda p: p[1], pairs, is_leaf=is_pair)
        return stored, QuantAux(scales)

    def decompress(self, params: PyTree, aux: QuantAux) -> PyTree:
        """Float params: ``stored.astype(scale.dtype) * scale`` where a leaf was quantized."""
        check_aux(aux, QuantAux)
        return jax.tree.map(
            lambda q, s: q if s is None else q.astype(s.dtype) * s,
            params,
            aux.scales,
            is_leaf=lambda x: x is None,
        )
