"""Builds the shared classifiers by name, so experiment configs can say ``model="cnn"``."""

from collections.abc import Sequence

import flax.linen as nn

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
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}.")
    if name == "mlp":
        return MLP(hidden=tuple(hidden), num_outputs=num_classes)
    if name == "cnn":
        if len(input_shape) not in (2, 3):
            raise ValueError(
                "model 'cnn' needs channels-last inputs (h, w, c) or (length, c); got "
                f"input_shape={tuple(input_shape)}. Load images with flatten=False."
            )
        return SmallCNN(features=tuple(features), num_outputs=num_classes)
    raise ValueError(f"model name must be one of {MODEL_NAMES}, got {name!r}.")
