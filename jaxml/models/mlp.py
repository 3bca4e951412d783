"""Multi-layer perceptron: the shared fully connected classifier / regressor."""

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxml import _validation as v

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

    def __post_init__(self):
        check_widths(self.hidden, "hidden", allow_empty=True)
        v.check_int(self.num_outputs, "num_outputs", minimum=1)
        v.check_callable(self.activation, "activation")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Returns ``[n, num_outputs]`` outputs (logits) for inputs ``[n, ...]``."""
        shape = v.check_array(x, "x", min_ndim=2, dtype="float")
        width = int(np.prod(shape[1:]))
        first = "dense_0" if self.hidden else "head"
        if self.has_variable("params", first):
            want = self.get_variable("params", first)["kernel"].shape[0]
            if want != width:
                raise ValueError(
                    f"x must have {want} features per example (the width these params were "
                    f"initialized with); got shape {shape} ({width} features)"
                )
        x = jnp.reshape(x, (shape[0], -1))
        for i, width in enumerate(self.hidden):
            x = self.activation(nn.Dense(width, dtype=self.dtype, name=f"dense_{i}")(x))
        return nn.Dense(self.num_outputs, dtype=self.dtype, name="head")(x)


def check_widths(widths, name: str, *, allow_empty: bool) -> tuple[int, ...]:
    """A sequence of positive int layer widths (or channel counts) named ``name``."""
    if isinstance(widths, str) or not hasattr(widths, "__iter__"):
        raise TypeError(f"{name} must be a sequence of ints; got {widths!r}")
    widths = tuple(widths)
    if not widths and not allow_empty:
        raise ValueError(f"{name} must hold at least one width; got ()")
    for w in widths:
        v.check_int(w, name, minimum=1)
    return widths
