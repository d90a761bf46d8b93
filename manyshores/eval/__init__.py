"""Measurement: `metrics/` (scores), `runners/` (evaluations that run systems and write
predictions), `datasets/` (building and loading evaluation data), `bench/` (speed), `jsonl`
(the one JSON-lines reader and writer). Nothing in the package imports `eval`.
"""
