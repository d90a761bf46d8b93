"""Evaluations that run systems over a dataset and write predictions and reports."""
