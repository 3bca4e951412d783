"""Dataset distillation (Lorraine et al. 2020, sec. 5.3; Wang et al. 2018): a small synthetic
training set whose inputs are the hyperparameters; labels are fixed.
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp


def init_distilled_inputs(
    key: jax.Array, num_classes: int, per_class: int, input_shape: Sequence[int], *,
    scale: float = 0.1, mean: float = 0.0,
) -> jax.Array:
    """``[num_classes * per_class, *input_shape]`` inputs ``mean + scale * N(0, 1)``, grouped by
    class (rows ``c * per_class ... (c + 1) * per_class - 1`` belong to class c)."""
    if num_classes < 2 or per_class < 1:
        raise ValueError(f"need num_classes >= 2 and per_class >= 1, got {num_classes}, "
                         f"{per_class}")
    shape = (num_classes * per_class, *tuple(input_shape))
    return mean + scale * jax.random.normal(key, shape)


def distilled_labels(num_classes: int, per_class: int) -> jax.Array:
    """Fixed labels ``[num_classes * per_class]`` int32, in :func:`init_distilled_inputs` order."""
    if num_classes < 2 or per_class < 1:
        raise ValueError(f"need num_classes >= 2 and per_class >= 1, got {num_classes}, "
                         f"{per_class}")
    return jnp.repeat(jnp.arange(num_classes, dtype=jnp.int32), per_class)
