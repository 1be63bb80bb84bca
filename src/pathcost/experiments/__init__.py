"""Experiments that train or probe models: tasks with a controlled span, training, gradient decay.

``tasks`` makes the synthetic data (no downloads), ``training`` trains a classifier of any
spec on it, ``decay`` builds recurrences of a chosen spectral radius and measures the
products of their Jacobians, ``capstone`` compares models on data whose every sequence has
a known span, under one parameter and time budget, and ``recall`` probes how many
key-value pairs softmax and linear attention tell apart ("Beyond the four").
"""
