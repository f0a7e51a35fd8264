"""Models: each in its package with its runner; the registry names them (registry.py)."""
