"""`manyshores profile show USER` and `manyshores profile forget USER`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from manyshores.cli.app import profile_app
from manyshores.config import get_settings

if TYPE_CHECKING:
    from manyshores.memory.profile import UserProfiles


def _profiles() -> UserProfiles:
    from manyshores.memory.profile import UserProfiles, open_settings_store

    return UserProfiles(open_settings_store(get_settings()))


@profile_app.command("show")
def profile_show(user: str = typer.Argument(..., help="User id.")) -> None:
    """Print the user's long-term culture weights (JSON)."""
    profiles = _profiles()
    details = profiles.details(user)
    if details is None:
        typer.echo(f"no profile for user {user!r}")
        raise typer.Exit(1)
    typer.echo(json.dumps(details, indent=2))


@profile_app.command("forget")
def profile_forget(user: str = typer.Argument(..., help="User id.")) -> None:
    """Delete the user's culture profile (the data is overwritten on disk, not just unlinked)."""
    profiles = _profiles()
    if profiles.forget(user):
        typer.echo(f"forgot the profile of user {user!r}")
    else:
        typer.echo(f"no profile for user {user!r} (nothing to delete)")
