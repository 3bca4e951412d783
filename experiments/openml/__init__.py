"""OpenML-Python (Feurer et al.) interop: jaxml models run through openml's Extension API."""
