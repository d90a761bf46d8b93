"""Builders and loaders of the evaluation datasets."""
