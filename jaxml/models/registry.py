"""Builds the shared classifiers by name, so experiment configs can say ``model="cnn"``."""

from collections.abc import Sequence

import flax.linen as nn

from jaxml import _validation as v
from jaxml.models.cnn import SmallCNN
from jaxml.models.mlp import MLP

MODEL_NAMES = ("mlp", "cnn")


def make_classifier(
    name: str,
    *,
    num_classes: int,
    input_shape: Sequence[int],
    hidden: Sequence[int] = (256, 256),
    features: Sequence[int] = (32, 64),
) -> nn.Module:
    """Returns the flax module ``name`` ("mlp" or "cnn") for inputs of shape ``[n, *input_shape]``.

    Args:
        name: "mlp" (:class:`MLP` with ``hidden`` widths) or "cnn" (:class:`SmallCNN` with
            ``features`` channels; needs ``(h, w, c)`` images or ``(length, c)`` signals).
        num_classes: output width.
        input_shape: shape of one example, e.g. ``(64,)`` or ``(8, 8, 1)``.
    """
    v.check_choice(name, "name", MODEL_NAMES)
    v.check_int(num_classes, "num_classes", minimum=2)
    if isinstance(input_shape, str) or not hasattr(input_shape, "__iter__"):
        raise TypeError(f"input_shape must be a sequence of ints; got {input_shape!r}")
    if not tuple(input_shape):
        raise ValueError("input_shape must hold at least one dimension; got ()")
    for size in input_shape:
        v.check_int(size, "input_shape", minimum=1)
    if name == "mlp":
        return MLP(hidden=tuple(hidden), num_outputs=num_classes)
    if name == "cnn":
        if len(input_shape) not in (2, 3):
            raise ValueError(
                "model 'cnn' needs channels-last inputs (h, w, c) or (length, c); got "
                f"input_shape={tuple(input_shape)}. Load images with flatten=False."
            )
        return SmallCNN(features=tuple(features), num_outputs=num_classes)
    raise AssertionError(name)  # unreachable: check_choice above
