"""Composition of schemes: ``Compose([Prune(0.1), Quantize("int8")])``."""

from collections.abc import Sequence

from jaxml._validation import PyTree
from jaxml.compress.pruning import _Scheme

__all__ = ["Compose"]


class Compose(_Scheme):
    """Applies ``schemes`` in order; ``decompress`` undoes them in reverse.

    ``compress(params) -> (stored, (aux_1, ..., aux_k))`` where scheme ``i`` compresses what
    scheme ``i - 1`` stored. Prune-then-quantize is exact about sparsity: int8 has no zero point,
    so pruned zeros stay zero.

    Args:
        schemes: a non-empty sequence of schemes (objects with ``compress`` and ``decompress``).
    """

    def __init__(self, schemes: Sequence):
        if isinstance(schemes, str) or not isinstance(schemes, Sequence):
            raise TypeError(f"schemes must be a list of compression schemes; got {schemes!r}")
        if not schemes:
            raise ValueError("schemes must hold at least one scheme; got []")
        for s in schemes:
            ok = callable(getattr(s, "compress", None)) and callable(getattr(s, "decompress", None))
            if not ok:
                raise TypeError(
                    "schemes must hold compression schemes (with compress and decompress); "
                    f"got {s!r}"
                )
        self.schemes = tuple(schemes)

    def compress(self, params: PyTree) -> tuple[PyTree, tuple]:
        """Returns ``(stored, auxes)``; jit-safe when every scheme is."""
        auxes = []
        for s in self.schemes:
            params, aux = s.compress(params)
            auxes.append(aux)
        return params, tuple(auxes)

    def decompress(self, params: PyTree, aux: tuple) -> PyTree:
        """Undoes the schemes in reverse order."""
        if not isinstance(aux, tuple) or len(aux) != len(self.schemes):
            raise TypeError(
                f"aux must be the tuple of {len(self.schemes)} auxes returned by compress; got "
                f"{type(aux).__name__}"
            )
        for s, a in zip(reversed(self.schemes), reversed(aux), strict=True):
            params = s.decompress(params, a)
        return params
