"""Settings the hyperbolic figures share on purpose.

``TINY_ALIGNMENT`` (re-exported from :mod:`jaxml.hyperbolic`): the alignment settings of every
matching figure's ``tiny`` scale and of the tests, identical so that the smoke tests reuse one set
of compiled programs. ``compare_kwargs``: a figure config's fields as the keyword arguments of
``compare_methods``.
"""

from jaxml.hyperbolic import TINY_ALIGNMENT

__all__ = ["TINY_ALIGNMENT", "compare_kwargs"]


def compare_kwargs(config, fields: tuple[str, ...]) -> dict:
    """``compare_methods`` keywords from ``config``: the alignment ``fields`` it has, plus
    ``deep_kwargs`` built from its ``deep_*`` fields (restarts, rounds, hidden width)."""
    deep = {k: getattr(config, k) for k in ("deep_outer", "deep_inner", "deep_fit_steps")}
    deep |= {"num_restarts": config.deep_restarts, "hidden": config.deep_hidden}
    return {k: getattr(config, k) for k in fields} | {"deep_kwargs": deep}
