"""Long-term user culture profiles in the persisted LangGraph store (SQLite or PostgreSQL)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from manyshores.config import Settings
from manyshores.memory.profile import UserProfiles, open_settings_store, open_sqlite_store


@pytest.fixture()
def open_store(tmp_path, checkpoint_backend):
    """Opens a new connection to the same store each call: SQLite file or PostgreSQL database."""
    settings = Settings(home=tmp_path, **checkpoint_backend)
    return lambda: open_settings_store(settings)


def test_profile_persists_across_connections_and_threads(open_store):
    profiles = UserProfiles(open_store())
    assert profiles.get("alice") is None
    profiles.record("alice", {"KEN": 0.9, "TZA": 0.1})
    profiles.record("alice", {"KEN": 1.0})
    # A new process/thread opens the same store and sees the profile.
    again = UserProfiles(open_store()).get("alice")
    assert again is not None and list(again) == ["KEN", "TZA"]
    assert abs(sum(again.values()) - 1) < 1e-6 and again["KEN"] > 0.9


def test_profile_follows_a_move(open_store):
    profiles = UserProfiles(open_store())
    profiles.record("bob", {"MEX": 1.0})
    for _ in range(6):
        profiles.record("bob", {"ESP": 1.0})
    got = profiles.get("bob")
    assert got is not None and next(iter(got)) == "ESP"


def test_forget_really_deletes(tmp_path):
    path = tmp_path / "s.sqlite"
    marker = "user-MARKER-93f1"
    profiles = UserProfiles(open_sqlite_store(path))
    profiles.record(marker, {"KEN": 1.0})
    profiles.record("other", {"JPN": 1.0})
    assert profiles.forget(marker) is True
    assert profiles.get(marker) is None and profiles.get("other") is not None
    assert profiles.forget(marker) is False
    # Not just unlinked: no trace of the user id left in the database files.
    data = b"".join(p.read_bytes() for p in tmp_path.glob("s.sqlite*"))
    assert marker.encode() not in data


def test_profile_cli(tmp_path, monkeypatch):
    import manyshores.cli.profile  # noqa: F401  (registers the commands)
    from manyshores.cli.app import app
    from manyshores.config import get_settings

    monkeypatch.setenv("MANYSHORES_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        UserProfiles(open_sqlite_store(get_settings().checkpoint_path)).record("carol", {"GRC": 1})
        runner = CliRunner()
        res = runner.invoke(app, ["profile", "show", "carol"])
        assert res.exit_code == 0 and json.loads(res.stdout)["cultures"] == {"GRC": 1.0}
        res = runner.invoke(app, ["profile", "forget", "carol"])
        assert res.exit_code == 0 and "forgot" in res.stdout
        res = runner.invoke(app, ["profile", "show", "carol"])
        assert res.exit_code == 1 and "no profile" in res.stdout
    finally:
        get_settings.cache_clear()
