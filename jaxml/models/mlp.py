"""Multi-layer perceptron: the shared fully connected classifier / regressor."""

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Activation = Callable[[jax.Array], jax.Array]


class MLP(nn.Module):
    """Fully connected network ``x -> (Dense -> act)* -> Dense``.

    Inputs of any shape ``[n, ...]`` are flattened to ``[n, prod(...)]`` first, so the same model
    takes digits as ``[n, 64]`` or ``[n, 8, 8, 1]``.

    Attributes:
        hidden: widths of the hidden layers, e.g. ``(256, 256)``; ``()`` gives a linear model.
        num_outputs: width of the output layer (number of classes for a classifier).
        activation: elementwise nonlinearity between layers.
        dtype: computation dtype (parameters stay float32 unless x64 is enabled).
    """

    hidden: Sequence[int] = (256, 256)
    num_outputs: int = 10
    activation: Activation = nn.relu
    dtype: jnp.dtype | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Returns ``[n, num_outputs]`` outputs (logits) for inputs ``[n, ...]``."""
        x = jnp.reshape(x, (x.shape[0], -1))
        for i, width in enumerate(self.hidden):
            x = self.activation(nn.Dense(width, dtype=self.dtype, name=f"dense_{i}")(x))
        return nn.Dense(self.num_outputs, dtype=self.dtype, name="head")(x)
