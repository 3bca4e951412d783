"""Lorraine et al. (2020), Optimizing Millions of Hyperparameters by Implicit Differentiation."""
