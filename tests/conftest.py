"""Shared fixtures: isolated settings per test session, the tiny model, the real default model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests never touch the user's stores; converted base models are shared with the user cache so
# the real model is converted once per machine, not once per test run.
_USER_MODELS = Path(
    os.environ.get("MANYSHORES_MODELS_DIR", "~/.cache/manyshores/models")
).expanduser()
TEST_DATA = Path(__file__).resolve().parent / "data"
"""Slices of real BLEnD and WVS data (attribution in its README), so no test needs anything
outside this repository."""


@pytest.fixture(scope="session", autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("manyshores-home")
    old = {
        k: os.environ.get(k) for k in ("MANYSHORES_HOME", "MANYSHORES_MODELS_DIR", "HF_HUB_OFFLINE")
    }
    os.environ["MANYSHORES_HOME"] = str(home)
    os.environ["MANYSHORES_MODELS_DIR"] = str(_USER_MODELS)
    os.environ["HF_HUB_OFFLINE"] = "1"
    from manyshores.config import get_settings

    get_settings.cache_clear()
    yield home
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def tiny_base():
    """A tiny random Llama (a few MB) with a real BPE tokenizer: for unit tests."""
    from tests.tiny_model import build_tiny_base_model

    return build_tiny_base_model()


@pytest.fixture(scope="session")
def default_base():
    """The real default base model (SmolLM2-135M-Instruct): for tests marked slow."""
    from manyshores.runtime.base_model import load_base_model

    return load_base_model("default")


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throwaway PostgreSQL cluster for the session (fsync off: tests, not durability)."""
    from manyshores.testing.postgres import ThrowawayPostgres, find_pg_bin

    if find_pg_bin() is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) are not installed: "
            "apt-get install postgresql-15"
        )
    with ThrowawayPostgres(fsync=False) as pg:
        yield pg


@pytest.fixture(params=["sqlite", "postgres"])
def checkpoint_backend(request) -> dict[str, str]:
    """Settings overrides that put checkpoints and profiles in SQLite (none) or in a fresh
    PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    pytest.importorskip(
        "langgraph.checkpoint.postgres", reason="the `postgres` extra is not installed"
    )
    import uuid

    cluster = request.getfixturevalue("postgres_cluster")
    return {"checkpoint_url": cluster.create_database(f"t{uuid.uuid4().hex[:12]}")}
