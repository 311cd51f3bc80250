"""downline cypher run: runs a .cypher file of ours, or any, the way cypher-shell would."""

from __future__ import annotations

import csv
import sys
from enum import StrEnum
from pathlib import Path

import typer
from neo4j.exceptions import Neo4jError
from rich.table import Table

from downline.commands.common import driver, fail, out, settings
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
