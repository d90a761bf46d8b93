"""manyshores.eval."""
