"""Speed benchmarks (`manyshores bench ...`): timings and the settings they were measured with."""
