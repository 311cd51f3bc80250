"""downline cypher run: runs a .cypher file of ours, or any, the way cypher-shell would.
downline cypher shell: runs Neo4j's own cypher-shell, on the server the settings name."""

from __future__ import annotations

import csv
import os
import sys
from enum import StrEnum
from pathlib import Path

import typer
from neo4j.exceptions import Neo4jError
from rich.table import Table

from contract.settings import Settings
from downline.commands.common import driver, err, fail, out, settings
from graph import cyphershell
from graph.cypherfiles import run_file

app = typer.Typer(help="Run Cypher files.", no_args_is_help=True)


class Format(StrEnum):
    table = "table"
    csv = "csv"


def parse_params(pairs: list[str]) -> dict[str, object]:
    """name=value pairs; whole numbers become integers, true/false booleans, the rest text."""
    params: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            fail(f"-p expects name=value, got {pair!r}")
        if value.lstrip("-").isdigit():
            params[name] = int(value)
        elif value in {"true", "false"}:
            params[name] = value == "true"
        else:
            params[name] = value
    return params


@app.command("run")
def run(
    file: Path = typer.Argument(..., exists=True, dir_okay=False),
    param: list[str] = typer.Option([], "-p", "--param", help="name=value, repeatable"),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Runs each statement of FILE in its own transaction and prints what the last one returned."""
    config = settings()
    params = parse_params(param)
    with driver(config) as d:
        try:
            results = run_file(d, file, params, database=config.neo4j_database)
        except ValueError as exc:
            fail(str(exc))
        except Neo4jError as exc:
            fail(f"{file}: Neo4j refused it: {exc.message}")
    shown = next((r for r in reversed(results) if r.keys), None)
    if shown is None:
        total: dict[str, int] = {}
        for r in results:
            for k, v in r.counters.items():
                total[k] = total.get(k, 0) + v
        summary = ", ".join(f"{k}={v}" for k, v in sorted(total.items())) or "no changes"
        out.print(f"ran {len(results)} statement(s): {summary}", highlight=False)
        return
    if fmt is Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(shown.keys)
        writer.writerows(shown.rows)
        return
    table = Table(*shown.keys)
    for row in shown.rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)


# cypher-shell's connection options (short, then long spellings), given from the settings when
# the user did not give them.
_CONNECTION = (
    ("-a", ("--address", "--uri")),
    ("-u", ("--username",)),
    ("-d", ("--database",)),
    ("-p", ("--password",)),
)


def _given(args: list[str], short: str, longs: tuple[str, ...]) -> bool:
    return any(
        arg == short
        or (arg.startswith(short) and not arg.startswith("--"))  # -abolt://...
        or arg in longs
        or arg.startswith(tuple(f"{name}=" for name in longs))
        for arg in args
    )


def shell_invocation(
    config: Settings, args: list[str], env: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    """cypher-shell's arguments and environment: the user's arguments as given, after the
    settings' address, user and database unless the user gave their own. The password goes
    in NEO4J_PASSWORD, which cypher-shell reads, so that it never shows in the process list.
    """
    own = {short: _given(args, short, longs) for short, longs in _CONNECTION}
    head: list[str] = []
    if not own["-a"]:
        head += ["-a", config.neo4j_uri]
    if not own["-u"]:
        head += ["-u", config.neo4j_user]
    if not own["-d"]:
        head += ["-d", config.neo4j_database]
    env = dict(env)
    if not own["-p"] and config.neo4j_password:
        env["NEO4J_PASSWORD"] = config.neo4j_password
    return [*head, *args], env


@app.command(
    "shell",
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        # --help is cypher-shell's too: everything after 'shell' is its.
        "help_option_names": [],
    },
)
def shell(ctx: typer.Context) -> None:
    """Runs Neo4j's cypher-shell on the server of the settings, with all arguments as given.

    Address, user, database and password come from NEO4J_URI, NEO4J_USER, NEO4J_DATABASE and
    NEO4J_PASSWORD unless given (-a, -u, -d, -p); --help is cypher-shell's. Built with Maven
    on first use; exits with cypher-shell's exit code.
    """
    config = settings()
    project = cyphershell.project_dir()
    if not cyphershell.is_built(project):
        err.print(
            f"building cypher-shell {cyphershell.VERSION} with Maven in {project} (first use)",
            highlight=False,
        )
    try:
        java = cyphershell.command(project)
    except cyphershell.CypherShellError as exc:
        fail(str(exc))
    args, env = shell_invocation(config, list(ctx.args), dict(os.environ))
    sys.stdout.flush()
    sys.stderr.flush()
    # Replaced, not a child: Ctrl-C, the terminal and the exit code are cypher-shell's own.
    try:
        os.execve(java[0], [*java, *args], env)
    except OSError as exc:
        fail(f"could not run cypher-shell ({java[0]}): {exc}")
