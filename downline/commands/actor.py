"""Who the audit trail names for an admin command: ``--actor``, else the OS user."""

from __future__ import annotations

import getpass

import typer


def option() -> str | None:
    found: str | None = typer.Option(
        None, "--actor", help="Who the audit trail names for this action (default: the OS user)."
    )
    return found


def who(actor: str | None) -> str:
    name = (actor or "").strip() or getpass.getuser()
    return name
