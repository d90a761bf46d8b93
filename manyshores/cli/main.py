"""Entry point: imports every command module (which registers its commands) and runs the app."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from manyshores import __version__

# Importing each command module registers its commands on the Typer apps.
from manyshores.cli import (  # noqa: F401
    blend,
    blend_mc,
    core,
    data,
    detect,
    engine,
    evidence,
    experts,
    graph,
    kb,
    profile,
    serve,
    wvs,
)
from manyshores.cli.app import app
from manyshores.errors import ManyshoresError


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"manyshores {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """Culture-aware answers from one base model and a committee of culture experts."""


def main() -> None:
    """Run the CLI; expected failures become one `error:` line and exit code 2."""
    try:
        app()
    except ManyshoresError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except ValidationError as exc:  # a MANYSHORES_* variable the settings refuse
        for e in exc.errors():
            where = "MANYSHORES_" + "_".join(str(p) for p in e["loc"]).upper()
            typer.echo(f"error: {where}: {e['msg']}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
