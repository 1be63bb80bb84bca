"""Synthetic tasks with a controlled dependency span, and a small trainer (quick and full sizes)."""
