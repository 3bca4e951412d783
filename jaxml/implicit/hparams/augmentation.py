"""A learned data-augmentation network whose weights are hyperparameters (Lorraine et al. 2020,
sec. 5.4, where it is a UNet on CIFAR-10; here a small convolutional residual network).

``augment(x) = x + scale * tanh(net([x, noise]))``: a per-example stochastic perturbation
(the noise channel makes it a distribution over augmentations); zero-initialized output layer,
so training starts from the identity (no augmentation).
"""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxml import _validation as chk

#: Below this many input channels a convolution is one matmul of the ``kh * kw * c`` patches
#: (im2col); with one output channel it is one matmul to ``kh * kw`` maps, then shifted sums.
#: On 2 CPU cores at batch 64, 8x8 (forward): 2 -> 16 channels 0.11 vs 0.25 ms, 16 -> 1 channel
#: 0.05 vs 0.23 ms; XLA's convolution stays the fastest for 16 -> 16 (im2col 0.69 vs 0.40 ms).
IM2COL_MAX_IN = 4


def _conv_same(lhs, rhs, window_strides, padding, *, dimension_numbers=None, **kwargs):
    """``lax.conv_general_dilated`` for flax's stride-1 "SAME" NHWC / HWIO convolution, formed
    as im2col (few input channels) or as per-offset maps and shifted sums (one output channel),
    else XLA's convolution: the same sums (to float rounding) in a cheaper order on CPU."""
    (kh, kw, c, f), n_hwc = rhs.shape, ("NHWC", "HWIO", "NHWC")
    plain = dimension_numbers != jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape, n_hwc)
    plain |= tuple(window_strides) != (1, 1) or kh % 2 == 0 or kw % 2 == 0
    plain |= any(kwargs.get(k) not in (None, 1, (1, 1)) for k in kwargs)  # dilation, groups
    plain |= padding not in ("SAME", ((kh // 2, kh // 2), (kw // 2, kw // 2)))
    if plain or (c > IM2COL_MAX_IN and f != 1):
        return jax.lax.conv_general_dilated(
            lhs, rhs, window_strides, padding, dimension_numbers=dimension_numbers, **kwargs
        )
    n, h, w, _ = lhs.shape
    offsets = [(dy, dx) for dy in range(kh) for dx in range(kw)]
    pad = ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2))
    if c <= IM2COL_MAX_IN:  # [n, h, w, kh * kw * c] patches @ [kh * kw * c, f]
        xp = jnp.pad(lhs, (*pad, (0, 0)))
        patches = jnp.concatenate([xp[:, dy : dy + h, dx : dx + w] for dy, dx in offsets], -1)
        return patches @ rhs.reshape(kh * kw * c, f)
    # f == 1: maps[..., dy, dx] = lhs @ rhs[dy, dx]; out[i, j] = sum maps[i + dy - kh // 2, ...]
    maps = lhs @ rhs.transpose(2, 0, 1, 3).reshape(c, kh * kw * f)
    maps = jnp.pad(maps.reshape(n, h, w, kh, kw, f), (*pad, (0, 0), (0, 0), (0, 0)))
    return sum(maps[:, dy : dy + h, dx : dx + w, dy, dx] for dy, dx in offsets)


class AugmentNet(nn.Module):
    """Conv net ``[n, h, w, c] + noise -> [n, h, w, c]`` residual augmentation.

    Attributes:
        features: channels of the hidden 3x3 convolutions.
        scale: bound on the per-pixel change (the tanh output is multiplied by it).
    """

    features: Sequence[int] = (16, 16)
    scale: float = 0.5

    def __post_init__(self):
        if isinstance(self.features, str) or not isinstance(self.features, Sequence):
            raise TypeError(f"features must be a sequence of ints; got {self.features!r}")
        for f in self.features:
            chk.check_int(f, "features", minimum=1)
        chk.check_positive(self.scale, "scale")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, noise: jax.Array) -> jax.Array:
        shape = chk.check_array(x, "x", ndim=4, dtype="float")
        chk.check_array(noise, "noise", shape=(*shape[:-1], None), dtype="float")
        h = jnp.concatenate([x, noise], axis=-1)
        for i, f in enumerate(self.features):
            conv = nn.Conv(
                f, (3, 3), padding="SAME", conv_general_dilated=_conv_same, name=f"conv_{i}"
            )
            h = nn.relu(conv(h))
        out = nn.Conv(
            x.shape[-1],
            (3, 3),
            padding="SAME",
            kernel_init=nn.initializers.zeros,
            conv_general_dilated=_conv_same,
            name="out",
        )(h)
        return x + self.scale * jnp.tanh(out)


def augment(net: AugmentNet, hparams, x: jax.Array, key: jax.Array) -> jax.Array:
    """Augments images ``x [n, h, w, c]`` with network weights ``hparams`` and fresh noise."""
    if not isinstance(net, AugmentNet):
        raise TypeError(f"net must be an AugmentNet; got {type(net).__name__}")
    chk.check_array(x, "x", ndim=4, dtype="float")
    chk.check_key(key)
    noise = jax.random.normal(key, (*x.shape[:-1], 1), x.dtype)
    return net.apply(hparams, x, noise)
