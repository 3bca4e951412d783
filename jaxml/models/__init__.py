"""Small flax models shared by experiments."""
