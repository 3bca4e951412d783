"""Auptimizer-style hyperparameter tuning on Optuna: the search CLI and the proposer comparison."""
