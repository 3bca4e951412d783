"""The Poincare distance as an ott-jax cost function.

``PoincareCost`` subclasses :class:`ott.geometry.costs.CostFn`, so ott's ``PointCloud``,
``Sinkhorn`` and ``GromovWasserstein`` work unchanged on hyperbolic data::

    geom = pointcloud.PointCloud(x, y, cost_fn=PoincareCost(power=2.0), epsilon=0.05,
                                 relative_epsilon="std")
    out = sinkhorn.Sinkhorn()(linear_problem.LinearProblem(geom))
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.tree_util as jtu
from ott.geometry import costs

from jaxml._validation import check_positive
from jaxml.hyperbolic import poincare
from jaxml.hyperbolic._checks import check_curvature, check_same_dim
from jaxml.hyperbolic.sinkhorn_fast import sinkhorn_stabilized

__all__ = ["PoincareCost", "SinkhornSolution", "solve_sinkhorn"]


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


class SinkhornSolution(NamedTuple):
    """What :func:`solve_sinkhorn` returns: ``matrix [n, m]`` (the plan, ott's name), the dual
    potentials ``f [n]`` and ``g [m]``, the iterations run and the final marginal error."""

    matrix: jax.Array
    f: jax.Array
    g: jax.Array
    iterations: jax.Array
    error: jax.Array


def solve_sinkhorn(cost, epsilon, init, *, threshold: float, max_iterations: int):
    """Entropic OT on a dense ``cost`` matrix at an absolute ``epsilon``, warm-started.

    The one Sinkhorn call shared by the isometric and the deep registration solvers and the
    selection cost: uniform marginals, ``init = (f, g)`` potentials (zeros: a cold start), no
    differentiation through the plan. It runs
    :func:`jaxml.hyperbolic.sinkhorn_fast.sinkhorn_stabilized` (kernel mode with log-domain
    absorption; the same problem and stopping rule as ott's log-domain ``Sinkhorn``, which this
    used before: ~4x faster on CPU and far quicker to compile, docs/performance.md), stopping when
    the marginal error checked every 10 iterations is below ``threshold``. Returns a
    :class:`SinkhornSolution`.
    """
    out = sinkhorn_stabilized(
        cost, epsilon, num_iterations=max_iterations, threshold=threshold, init=init
    )
    return SinkhornSolution(out.plan, out.f, out.g, out.iterations, out.error)
