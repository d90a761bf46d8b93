"""manyshores.web."""
