"""Asks XLA for simulated CPU devices before JAX is imported (this module never imports JAX).

The DC-S3GD figures run on 8 devices; on a CPU-only machine those are simulated with
``XLA_FLAGS=--xla_force_host_platform_device_count=8``, which XLA reads once, when JAX starts.
Each figure module calls :func:`request_host_devices` at its very top when run as
``python -m ...`` (the reproduce driver runs every figure that way); imported from a process that
already started JAX, it changes nothing and ``run()`` checks the device count instead.
"""

import os
import re
import sys

_FLAG = "--xla_force_host_platform_device_count"


def request_host_devices(num_devices: int) -> bool:
    """Adds the device-count flag to ``$XLA_FLAGS`` if JAX is not imported yet.

    Returns:
        True if the environment now asks for at least ``num_devices`` devices (or JAX is not
        imported and the flag was set); False when JAX was already imported (too late).
    """
    flags = os.environ.get("XLA_FLAGS", "")
    m = re.search(rf"{_FLAG}=(\d+)", flags)
    if m and int(m.group(1)) >= num_devices:
        return True
    if "jax" in sys.modules:
        return False
    kept = [f for f in flags.split() if not f.startswith(_FLAG)]
    os.environ["XLA_FLAGS"] = " ".join([*kept, f"{_FLAG}={num_devices}"])
    return True


def require_devices(num_devices: int, module: str) -> None:
    """Raises a clear error when fewer than ``num_devices`` JAX devices exist."""
    import jax

    have = jax.device_count()
    if have < num_devices:
        raise RuntimeError(
            f"{module} needs {num_devices} devices but JAX sees {have}. Run it as "
            f"`python -m {module}` (which sets XLA_FLAGS itself), or set "
            f"XLA_FLAGS={_FLAG}={num_devices} before JAX is imported, or pass --num_devices."
        )
