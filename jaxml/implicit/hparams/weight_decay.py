"""L2 weight decay as hyperparameters, in log space: one per weight, per unit, per layer, or one.

``penalty(w, log_decay) = 1/2 sum exp(log_decay) * w^2`` (broadcast). Lorraine et al. (2020,
sec. 5.2) tune one decay per weight to overfit a validation set with millions of hyperparameters.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxml import _validation as chk
from jaxml._validation import PyTree

GRANULARITIES = ("weight", "unit", "layer", "global")


def init_log_decay(params: PyTree, *, decay: float = 1e-4, granularity: str = "weight") -> PyTree:
    """Log decays shaped for ``params``, all equal to ``log(decay)``.

    Args:
        params: the model parameters.
        decay: initial decay coefficient (> 0).
        granularity: "weight" (like each leaf), "unit" (one per output unit: the leaf's last
            axis), "layer" (one scalar per leaf), "global" (one scalar for everything).
    """
    chk.check_choice(granularity, "granularity", GRANULARITIES)
    chk.check_positive(decay, "decay")
    value = float(np.log(decay))
    if granularity == "global":
        return jnp.asarray(value, jnp.float32)

    def leaf(p):
        shape = {"weight": jnp.shape(p), "unit": jnp.shape(p)[-1:], "layer": ()}[granularity]
        return jnp.full(shape, value, jnp.result_type(p))

    return jax.tree.map(leaf, params)


def l2_penalty(params: PyTree, log_decay: PyTree) -> jax.Array:
    """``1/2 sum_leaves sum exp(log_decay) * w^2``; ``log_decay`` from :func:`init_log_decay`."""
    if not jax.tree.leaves(log_decay):
        raise ValueError("log_decay is empty")
    if hasattr(log_decay, "shape") and np.ndim(log_decay) == 0:
        coef = jnp.exp(log_decay)
        return 0.5 * coef * sum(jnp.sum(jnp.square(p)) for p in jax.tree.leaves(params))
    if jax.tree.structure(params) != jax.tree.structure(log_decay):
        raise ValueError(
            "log_decay must have the tree structure of params (or be a scalar); got "
            f"{jax.tree.structure(log_decay)} vs {jax.tree.structure(params)}"
        )
    terms = jax.tree.map(lambda p, ld: jnp.sum(jnp.exp(ld) * jnp.square(p)), params, log_decay)
    return 0.5 * sum(jax.tree.leaves(terms))
