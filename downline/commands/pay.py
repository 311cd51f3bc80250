"""downline pay: opens a payout batch and writes what finance pays."""

from __future__ import annotations

import csv
from pathlib import Path

import typer

from contract.money import format_yuan, parse_yuan
from downline.commands.common import driver, fail, out, settings
from graph.errors import DownlineError
from graph.payouts import open_batch


def command(
    minimum: str = typer.Option("100.00", "--min", help="Pay balances of at least this (yuan)."),
    out_file: Path = typer.Option(..., "--out", dir_okay=False, help="The CSV file to write."),
) -> None:
    """Pays every member whose balance reaches the minimum their whole balance, exactly once."""
    try:
        fen = parse_yuan(minimum)
    except ValueError as exc:
        fail(f"--min: {exc}")
    config = settings()
    with driver(config) as d:
        try:
            batch = open_batch(d, minimum=fen, database=config.neo4j_database)
        except DownlineError as exc:
            fail(exc.message)
    with out_file.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("member_id", "amount", "batch_id"))
        for line in batch.lines:
            writer.writerow((line.member_id, format_yuan(line.amount), batch.id))
    if batch.id is None:
        out.print(f"no balance reaches {format_yuan(fen)}: no batch opened, nothing written")
    else:
        out.print(
            f"batch {batch.id}: {len(batch.lines)} member(s), {format_yuan(batch.total)}"
            f" -> {out_file}",
            highlight=False,
        )
