"""Gradient decay: recurrences with a chosen spectral radius and the products of their Jacobians."""
