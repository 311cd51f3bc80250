"""What every command needs: settings, one driver, and failing with a clear message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import neo4j
import typer
from neo4j.exceptions import AuthError, ServiceUnavailable
from rich.console import Console
from rich.markup import escape

from contract.settings import Settings, SettingsError
from graph.db import connect

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    # The message is text, not markup: a value like "[x]" in it must print as it is.
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        fail(str(exc))


@contextmanager
def driver(config: Settings | None = None) -> Iterator[neo4j.Driver]:
    config = config or settings()
    try:
        d = connect(config)
    except SettingsError as exc:
        fail(str(exc))
    try:
        d.verify_connectivity()
    except AuthError as exc:
        d.close()
        fail(f"Neo4j at {config.neo4j_uri} refused the credentials: {exc.message}")
    except (ServiceUnavailable, OSError):
        d.close()
        fail(
            f"Neo4j is not reachable at {config.neo4j_uri}: start it with 'downline db start'"
            " (or set NEO4J_URI)"
        )
    try:
        yield d
    finally:
        d.close()
