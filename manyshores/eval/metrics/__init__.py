"""Scores of predictions against references: no model, no I/O beyond what is passed in."""
