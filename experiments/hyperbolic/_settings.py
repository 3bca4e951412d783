"""Settings the hyperbolic figures share on purpose.

``TINY_ALIGNMENT``: the alignment settings of every matching figure's ``tiny`` scale (and of
tests/hyperbolic). They are identical so that the smoke tests reuse one set of compiled programs.
``compare_kwargs``: a figure config's fields as the keyword arguments of ``compare_methods``.
"""

TINY_ALIGNMENT = {
    "dim": 3,
    "num_restarts": 4,
    "num_iters": 12,
    "gw_iterations": 20,
    "deep_restarts": 2,
    "deep_outer": 3,
    "deep_inner": 3,
    "deep_hidden": 4,
    "deep_fit_steps": 10,
}


def compare_kwargs(config, fields: tuple[str, ...]) -> dict:
    """``compare_methods`` keywords from ``config``: the alignment ``fields`` it has, plus
    ``deep_kwargs`` built from its ``deep_*`` fields (restarts, rounds, hidden width)."""
    deep = {k: getattr(config, k) for k in ("deep_outer", "deep_inner", "deep_fit_steps")}
    deep |= {"num_restarts": config.deep_restarts, "hidden": config.deep_hidden}
    return {k: getattr(config, k) for k in fields} | {"deep_kwargs": deep}
