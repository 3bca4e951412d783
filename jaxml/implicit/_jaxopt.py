"""The one place jaxml.implicit imports jaxopt (unmaintained upstream; keep the surface small)."""

from jaxopt.linear_solve import solve_cg

__all__ = ["solve_cg"]
