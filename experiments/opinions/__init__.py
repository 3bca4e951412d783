"""Figures of Balayn et al. (unfair exclusion of subjective opinions): per-annotator evaluation."""
