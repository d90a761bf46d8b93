"""The `manyshores` command. Each area registers its commands in its own module."""
