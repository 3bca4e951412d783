"""Experiment scripts, one folder per paper and one module per figure."""
