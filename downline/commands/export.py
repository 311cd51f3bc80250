"""downline export payouts: the payout ledger as CSV for the data team."""

from __future__ import annotations

import csv
from pathlib import Path

import typer

from contract.money import format_yuan, parse_timestamp
from downline.commands.common import driver, fail, out, settings
from graph.payouts import export_lines

app = typer.Typer(help="Export data as CSV.", no_args_is_help=True)

COLUMNS = ("order_id", "member_id", "tier", "kind", "amount", "reversal", "run_id")


@app.command("payouts")
def payouts(
    out_file: Path = typer.Option(..., "--out", dir_okay=False, help="The CSV file to write."),
    run: str | None = typer.Option(None, "--run", help="Only this settlement run's lines."),
    start: str | None = typer.Option(None, "--from", help="Orders paid at or after this time."),
    end: str | None = typer.Option(None, "--to", help="Orders paid before this time."),
) -> None:
    """Payouts and reversals (negative amounts, reversal=true), amounts in yuan."""
    try:
        since = None if start is None else parse_timestamp(start)
        until = None if end is None else parse_timestamp(end)
    except ValueError as exc:
        fail(str(exc))
    config = settings()
    rows = 0
    with driver(config) as d, out_file.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        for line in export_lines(
            d, run_id=run, start=since, end=until, database=config.neo4j_database
        ):
            writer.writerow(
                (
                    line.order_id,
                    line.member_id,
                    line.tier,
                    line.kind,
                    format_yuan(line.amount),
                    "true" if line.reversal else "false",
                    line.run_id,
                )
            )
            rows += 1
    out.print(f"wrote {rows} line(s) to {out_file}", highlight=False)
