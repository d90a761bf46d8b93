"""`manyshores --version` and `manyshores doctor`."""

from __future__ import annotations

from typer.testing import CliRunner

from manyshores import __version__
from manyshores.cli.main import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_doctor_reports_without_leaking_key(monkeypatch):
    from manyshores.config import get_settings

    monkeypatch.setenv("MANYSHORES_TAVILY_API_KEY", "tvly-secret-123")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["doctor"])
    finally:
        get_settings.cache_clear()
    assert "tvly-secret-123" not in result.stdout
    assert "tavily key" in result.stdout and "set" in result.stdout
    assert "verdict" in result.stdout
    assert result.exit_code == 0, result.stdout
