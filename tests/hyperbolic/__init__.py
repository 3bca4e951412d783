"""Tests of jaxml.hyperbolic."""
