"""Compositions of the pillars (issue 19): one figure per composition, built only from jaxml calls."""
