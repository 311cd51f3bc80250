"""downline db start|stop|status|reset|schema: the embedded Neo4j, and the schema of any."""

from __future__ import annotations

import typer

from contract.settings import Settings
from downline.commands.common import driver, fail, out, settings
from graph import server
from graph.db import apply_schema, clear

app = typer.Typer(help="Start, stop, inspect or empty the embedded Neo4j.", no_args_is_help=True)


def paths(config: Settings) -> server.ServerPaths:
    return server.ServerPaths(config.neo4j_data_dir)


def auth(config: Settings) -> tuple[str, str]:
    return config.neo4j_user, config.require_password()


@app.command()
def start() -> None:
    """Builds the launcher the first time, starts Neo4j in the background, applies the schema."""
    config = settings()
    if config.bolt_host not in {"127.0.0.1", "localhost"}:
        fail(f"NEO4J_URI points at {config.bolt_host}; the embedded server only runs on loopback")
    try:
        pid = server.start(
            paths(config),
            port=config.bolt_port,
            password=config.require_password(),
            user=config.neo4j_user,
            heap=config.neo4j_heap,
            pagecache=config.neo4j_pagecache,
        )
    except server.ServerError as exc:
        fail(str(exc))
    with driver(config) as d:
        apply_schema(d, config.neo4j_database)
    out.print(
        f"Neo4j is up at {config.neo4j_uri} (pid {pid}); log: {paths(config).log_file}",
        highlight=False,
    )


@app.command()
def stop() -> None:
    """Stops Neo4j cleanly (SIGTERM, then waits for the store to close)."""
    config = settings()
    if server.stop(paths(config)):
        out.print("Neo4j stopped")
    else:
        out.print("Neo4j was not running")


@app.command()
def status() -> None:
    """Says whether Neo4j runs and answers; exits 1 when it does not."""
    config = settings()
    state = server.status(paths(config), auth(config))
    if not state.running:
        out.print(f"Neo4j is not running (log: {state.log_file})", highlight=False)
        raise typer.Exit(1)
    answer = "answers on Bolt" if state.reachable else "does NOT answer on Bolt"
    out.print(
        f"Neo4j runs (pid {state.pid}) and {answer} at bolt://127.0.0.1:{state.port}",
        highlight=False,
    )
    if not state.reachable:
        raise typer.Exit(1)


@app.command()
def reset(yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation.")) -> None:
    """Deletes every node and relationship (the schema stays)."""
    config = settings()
    if not yes and not typer.confirm(f"Delete the whole graph at {config.neo4j_uri}?"):
        fail("nothing was deleted")
    with driver(config) as d:
        deleted = clear(d, config.neo4j_database)
        apply_schema(d, config.neo4j_database)
    out.print(f"deleted {deleted} nodes; the graph is empty")


@app.command()
def schema() -> None:
    """Applies the constraints and indexes to a Neo4j started elsewhere (Docker, a managed one);
    `db start` does it for the embedded one. Safe to repeat."""
    config = settings()
    with driver(config) as d:
        apply_schema(d, config.neo4j_database)
    out.print(f"schema applied at {config.neo4j_uri}", highlight=False)
