"""Dataset loaders: embedded defaults and real-format readers."""
