"""Figures of Alvarez-Melis et al. 2020 (hyperbolic OT for hierarchy matching) and its substrate."""
