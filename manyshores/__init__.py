"""manyshores: culture-aware answers from one base model and a committee of culture experts."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
