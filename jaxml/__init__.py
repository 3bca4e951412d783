"""jaxml: pure JAX implementations of ten ML-systems papers."""

__version__ = "0.1.0"
