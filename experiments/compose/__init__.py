"""Compositions of the pillars (issue 19): one figure per composition, from jaxml calls only."""
