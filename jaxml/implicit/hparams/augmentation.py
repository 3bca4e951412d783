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
            h = nn.relu(nn.Conv(f, (3, 3), padding="SAME", name=f"conv_{i}")(h))
        out = nn.Conv(
            x.shape[-1], (3, 3), padding="SAME", kernel_init=nn.initializers.zeros, name="out"
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
