"""Lucas et al. (2019), "Don't Blame the ELBO!": linear VAE / pPCA figures."""
