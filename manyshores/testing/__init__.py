"""Test helpers shipped with the package: a tiny random base model and protocol-level fakes.

Kept in one place (like langgraph's tests) and importable, so benchmarks and users' own tests
can use them too. Nothing here is used by the product's default path.
"""
