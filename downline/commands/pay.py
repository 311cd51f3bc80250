"""downline pay: opens a payout batch and writes what finance pays."""

from __future__ import annotations

import csv
from pathlib import Path

import typer

from contract.money import format_yuan, parse_yuan
from downline.commands import actor
from downline.commands.common import driver, fail, out, settings
from graph.errors import DownlineError
from graph.payouts import open_batch


def command(
    out_file: Path = typer.Option(..., "--out", dir_okay=False, help="The CSV file to write."),
    minimum: str | None = typer.Option(
        None,
        "--min",
        help="Also pay every member without an open withdrawal whose balance reaches this"
        " (yuan), its whole balance.",
    ),
    who: str | None = actor.option(),
) -> None:
    """Pays every approved withdrawal exactly once (and with --min, every balance that reaches
    it); writes member_id,amount,batch_id."""
    try:
        fen = None if minimum is None else parse_yuan(minimum)
    except ValueError as exc:
        fail(f"--min: {exc}")
    config = settings()
    with driver(config) as d:
        try:
            batch = open_batch(d, minimum=fen, actor=actor.who(who), database=config.neo4j_database)
        except DownlineError as exc:
            fail(exc.message)
    with out_file.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("member_id", "amount", "batch_id"))
        for line in batch.lines:
            writer.writerow((line.member_id, format_yuan(line.amount), batch.id))
    for u in batch.unpaid:
        out.print(
            f"withdrawal {u.withdrawal_id} of {u.member_id} ({format_yuan(u.amount)}) not paid:"
            f" the balance is {format_yuan(u.balance)}; it stays approved",
            highlight=False,
        )
    if batch.id is None:
        out.print("nothing is due: no batch opened, nothing written", highlight=False)
    else:
        withdrawn = sum(1 for line in batch.lines if line.withdrawal_id is not None)
        out.print(
            f"batch {batch.id}: {len(batch.lines)} member(s) ({withdrawn} withdrawal(s)),"
            f" {format_yuan(batch.total)} -> {out_file}",
            highlight=False,
        )
