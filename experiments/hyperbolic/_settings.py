"""Settings the hyperbolic figures share on purpose.

``TINY_ALIGNMENT``: the alignment settings of every matching figure's ``tiny`` scale (and of
tests/hyperbolic). They are identical so that the smoke tests reuse one set of compiled programs.
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
