"""manyshores.detection."""
