"""Small convolutional network for small images and 1-D signals.

Works on 8x8 digits ``[n, 8, 8, 1]``, 28x28 MNIST, 32x32 CIFAR-10 ``[n, 32, 32, 3]`` and 1-D
signals such as MNIST-1D ``[n, 40, 1]`` (channels last in every case).
"""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxml import _validation as v
from jaxml.models.mlp import check_widths


class SmallCNN(nn.Module):
    """``(Conv3 -> ReLU -> [AvgPool2])* -> flatten -> Dense -> ReLU -> Dense``.

    The convolutions are 2-D (3x3) for NHWC inputs ``[n, h, w, c]`` and 1-D (width 3) for
    ``[n, length, c]`` inputs. A stride-2 average pool follows a conv block while every spatial
    size is at least ``2 * min_spatial``: 8x8 digits with ``features=(32, 64)`` go
    8x8 -> 4x4 -> 2x2, CIFAR 32 -> 16 -> 8, MNIST-1D 40 -> 20 -> 10.

    Attributes:
        features: channels of the conv blocks.
        dense: width of the hidden dense layer.
        num_outputs: number of classes.
        min_spatial: stop pooling below this spatial size.
    """

    features: Sequence[int] = (32, 64)
    dense: int = 128
    num_outputs: int = 10
    min_spatial: int = 2

    def __post_init__(self):
        check_widths(self.features, "features", allow_empty=False)
        v.check_int(self.dense, "dense", minimum=1)
        v.check_int(self.num_outputs, "num_outputs", minimum=1)
        v.check_int(self.min_spatial, "min_spatial", minimum=1)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Returns logits ``[n, num_outputs]`` for inputs ``[n, h, w, c]`` or ``[n, length, c]``."""
        if x.ndim not in (3, 4):
            raise ValueError(
                "x must be channels-last [n, h, w, c] or [n, length, c] for SmallCNN; got shape "
                f"{x.shape}; load images with flatten=False or add a channel axis."
            )
        v.check_array(x, "x", dtype="float")
        if self.has_variable("params", "conv_0"):
            want = self.get_variable("params", "conv_0")["kernel"].shape[-2]
            if (
                want != x.shape[-1]
                or len(self.get_variable("params", "conv_0")["kernel"].shape) != x.ndim
            ):
                raise ValueError(
                    f"x must have {want} channels and the rank these params were initialized "
                    f"with; got shape {x.shape}"
                )
        spatial = x.ndim - 2
        for i, channels in enumerate(self.features):
            x = nn.Conv(channels, (3,) * spatial, padding="SAME", name=f"conv_{i}")(x)
            x = nn.relu(x)
            if min(x.shape[1:-1]) >= 2 * self.min_spatial:
                x = nn.avg_pool(x, (2,) * spatial, strides=(2,) * spatial)
        x = jnp.reshape(x, (x.shape[0], -1))
        x = nn.relu(nn.Dense(self.dense, name="dense")(x))
        return nn.Dense(self.num_outputs, name="head")(x)
