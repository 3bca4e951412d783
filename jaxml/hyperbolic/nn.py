"""Hyperbolic neural-network layers on the Poincare ball (Ganea, Becigneul & Hofmann 2018).

* :func:`mobius_linear`: ``(W (x) x) (+) b``, the Mobius matrix-vector product
  ``W (x) x = exp_0(W log_0(x))`` (their Eq. 26) followed by a Mobius bias ``b`` (a point of the
  ball, their Eq. 28);
* :func:`mobius_pointwise`: ``phi^(x)(x) = exp_0(phi(log_0(x)))`` (their Eq. 25);
* :class:`MobiusLinear`, :class:`HyperbolicMLP`: the same as flax (linen) modules. Biases are
  points of the ball: optimize them with :func:`~jaxml.hyperbolic.radam.riemannian_adam` (they
  are the leaves named ``"bias"``, see :func:`ball_param_labels`), the kernels with ``optax.adam``.

Every function maps over leading axes: points are ``[..., d]``. Shapes are always checked; the
values (points inside the ball) only for concrete inputs, so the layers trace under jit/vmap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxml._validation import check_array, check_bool, check_callable, check_int
from jaxml.hyperbolic import poincare
from jaxml.hyperbolic._checks import check_curvature, check_points

__all__ = [
    "HyperbolicMLP",
    "MobiusLinear",
    "ball_param_labels",
    "mobius_linear",
    "mobius_pointwise",
]


def mobius_linear(
    x: jax.Array, kernel: jax.Array, bias: jax.Array | None = None, c: float = 1.0
) -> jax.Array:
    """``(W (x) x) (+) b`` with ``W (x) x = exp_0(log_0(x) W)``.

    Args:
        x: ``[..., d]`` points of the ball.
        kernel: ``[d, k]`` (flax layout: ``log_0(x) @ kernel``).
        bias: ``[k]`` a point of the ball, or None.
        c: curvature magnitude.

    Returns:
        ``[..., k]`` points of the ``k``-dimensional ball.
    """
    check_curvature(c)
    shape = check_points(x, "x", c)
    kshape = check_array(kernel, "kernel", ndim=2, dtype="real")
    if kshape[0] != shape[-1]:
        raise ValueError(f"kernel must be [d, k] with d = x.shape[-1] = {shape[-1]}; got {kshape}")
    if bias is not None:
        check_points(bias, "bias", c)
        if tuple(jnp.shape(bias)) != (kshape[1],):
            raise ValueError(f"bias must be [k] = ({kshape[1]},); got {tuple(jnp.shape(bias))}")
    out = poincare.expmap0(poincare.logmap0(x, c) @ kernel, c)
    if bias is not None:
        out = poincare.mobius_add(jnp.broadcast_to(bias, out.shape), out, c)
    return out


def mobius_pointwise(fn: Callable[[jax.Array], jax.Array], x: jax.Array, c: float = 1.0):
    """``exp_0(fn(log_0(x)))``: a pointwise nonlinearity ``fn`` lifted to the ball.

    Args:
        fn: elementwise ``R -> R`` (e.g. ``jnp.tanh``).
        x: ``[..., d]`` points.
        c: curvature magnitude.
    """
    check_callable(fn, "fn")
    check_curvature(c)
    check_points(x, "x", c)
    return poincare.expmap0(fn(poincare.logmap0(x, c)), c)


class MobiusLinear(nn.Module):
    """Flax Mobius linear layer ``(W (x) x) (+) b`` (see :func:`mobius_linear`).

    Attributes:
        features: output dimension ``k``.
        c: curvature magnitude.
        use_bias: add the Mobius bias ``b`` (param ``"bias"`` ``[k]``, a point of the ball).
        kernel_init: initializer of ``"kernel"`` ``[d, k]``.
        bias_init: initializer of the bias (its values must lie inside the ball).
    """

    features: int
    c: float = 1.0
    use_bias: bool = True
    kernel_init: Callable = nn.initializers.lecun_normal()
    bias_init: Callable = nn.initializers.zeros

    def __post_init__(self):
        check_int(self.features, "features", minimum=1)
        check_curvature(self.c)
        check_bool(self.use_bias, "use_bias")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features), x.dtype)
        bias = (
            self.param("bias", self.bias_init, (self.features,), x.dtype) if self.use_bias else None
        )
        return mobius_linear(x, kernel, bias, self.c)


class HyperbolicMLP(nn.Module):
    """Mobius linear layers with a Mobius pointwise ``activation`` between them.

    ``x -> L_K(phi(... phi(L_1(x))))`` with ``L_k`` :class:`MobiusLinear` and
    ``phi = mobius_pointwise(activation)``: every intermediate lives in a ball.

    Attributes:
        features: output dimension of each layer, e.g. ``(64, d)``.
        c: curvature magnitude.
        activation: elementwise nonlinearity (default ``tanh``).
        kernel_init: initializer of the hidden kernels.
        last_kernel_init: initializer of the last kernel (e.g. small, for a near-zero output).
    """

    features: Sequence[int]
    c: float = 1.0
    activation: Callable = jnp.tanh
    kernel_init: Callable = nn.initializers.lecun_normal()
    last_kernel_init: Callable | None = None

    def __post_init__(self):
        if isinstance(self.features, str | bytes) or not hasattr(self.features, "__len__"):
            raise TypeError(f"features must be a sequence of ints; got {self.features!r}")
        if len(self.features) < 1:
            raise ValueError("features must name at least one layer; got ()")
        for k in self.features:
            check_int(k, "features", minimum=1)
        check_curvature(self.c)
        check_callable(self.activation, "activation")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for i, k in enumerate(self.features):
            last = i == len(self.features) - 1
            init = self.last_kernel_init if (last and self.last_kernel_init) else self.kernel_init
            x = MobiusLinear(k, self.c, kernel_init=init, name=f"layer_{i}")(x)
            if not last:
                x = mobius_pointwise(self.activation, x, self.c)
        return x


def ball_param_labels(params) -> object:
    """``"ball"`` for every leaf named ``"bias"`` (Mobius biases), ``"euclidean"`` otherwise:
    the labels of ``optax.multi_transform({"ball": riemannian_adam(...), "euclidean": adam})``.
    """

    def label(path, _):
        name = getattr(path[-1], "key", getattr(path[-1], "name", None))
        return "ball" if name == "bias" else "euclidean"

    return jax.tree_util.tree_map_with_path(label, params)
