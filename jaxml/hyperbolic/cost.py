"""The Poincare distance as an ott-jax cost function.

``PoincareCost`` subclasses :class:`ott.geometry.costs.CostFn`, so ott's ``PointCloud``,
``Sinkhorn`` and ``GromovWasserstein`` work unchanged on hyperbolic data::

    geom = pointcloud.PointCloud(x, y, cost_fn=PoincareCost(power=2.0), epsilon=0.05,
                                 relative_epsilon="std")
    out = sinkhorn.Sinkhorn()(linear_problem.LinearProblem(geom))
"""

from __future__ import annotations

import jax
import jax.tree_util as jtu
from ott.geometry import costs, geometry
from ott.problems.linear import linear_problem
from ott.solvers.linear import sinkhorn

from jaxml._validation import check_positive
from jaxml.hyperbolic import poincare
from jaxml.hyperbolic._checks import check_curvature, check_same_dim

__all__ = ["PoincareCost"]


@jtu.register_pytree_node_class
class PoincareCost(costs.CostFn):
    """``cost(x, y) = d_c(x, y) ** power`` on the Poincare ball of curvature ``-c``.

    ``all_pairs`` is vectorized (one ``[n, m, d]`` difference tensor, see
    :func:`jaxml.hyperbolic.poincare.pairwise_distance`) instead of ott's nested ``vmap``.
    (ott 0.6's online mode, ``PointCloud(..., batch_size=b)``, fails under jax 0.10 for every
    cost: it calls the removed ``jax.interpreters.batching.is_vmappable``.)

    Args:
        c: curvature magnitude, > 0.
        power: exponent ``p > 0`` of the distance (2 gives the squared distance used by
            Wasserstein-2 style alignment objectives).

    Raises:
        ValueError: non-positive ``c`` or ``power``; points outside the ball when the cost matrix
            is computed eagerly (under ``jit`` the geometry clamps instead, see ``poincare``).
    """

    def __init__(self, c: float = 1.0, power: float = 1.0):
        super().__init__()
        check_curvature(c)
        self.c = float(c)
        self.power = float(check_positive(power, "power"))

    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        """The cost between two points ``[d]`` (or broadcastable ``[..., d]``)."""
        return self._pow(poincare.distance(x, y, self.c))

    def all_pairs(self, x: jax.Array, y: jax.Array) -> jax.Array:
        """``[n, m]`` costs between ``x`` ``[n, d]`` and ``y`` ``[m, d]``."""
        check_same_dim(x, y, "x", "y")
        return self._pow(poincare.pairwise_distance(x, y, self.c))

    def _pow(self, d: jax.Array) -> jax.Array:
        if self.power == 1.0:
            return d
        if self.power == 2.0:
            return d * d
        return d**self.power

    def tree_flatten(self):  # noqa: D102
        return (), (self.c, self.power)

    @classmethod
    def tree_unflatten(cls, aux_data, children):  # noqa: D102
        del children
        return cls(*aux_data)

    def __repr__(self) -> str:
        return f"PoincareCost(c={self.c}, power={self.power})"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and (self.c, self.power) == (other.c, other.power)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.c, self.power))


def solve_sinkhorn(cost, epsilon, init, *, threshold: float, max_iterations: int):
    """ott's Sinkhorn on a dense ``cost`` matrix at an absolute ``epsilon``, warm-started.

    The one Sinkhorn call shared by the isometric and the deep registration solvers: uniform
    marginals, ``init = (f, g)`` potentials (or ``(None, None)``), no implicit differentiation
    (the solvers never differentiate through the plan). Returns ott's ``SinkhornOutput``.
    """
    geom = geometry.Geometry(cost_matrix=cost, epsilon=epsilon)
    solver = sinkhorn.Sinkhorn(
        threshold=threshold, max_iterations=max_iterations, implicit_diff=None
    )
    return solver(linear_problem.LinearProblem(geom), init=init)
