"""downline export payouts | statement: the payout ledger, and one member's statement, as CSV."""

from __future__ import annotations

import asyncio
import csv
from datetime import datetime
from pathlib import Path

import typer

from contract.money import format_yuan, parse_timestamp
from downline.commands.common import driver, fail, out, settings
from graph.db import connect_async
from graph.ledger import Statement, statement
from graph.payouts import export_lines

app = typer.Typer(help="Export data as CSV.", no_args_is_help=True)

COLUMNS = ("order_id", "member_id", "tier", "kind", "amount", "reversal", "run_id")
STATEMENT_COLUMNS = (
    "member_id",
    "at",
    "kind",
    "order_id",
    "tier",
    "amount",
    "reversal",
    "reference",
    "reason",
    "buyer_id",
    "seller_id",
    "balance",
)


@app.command("payouts")
def payouts(
    out_file: Path = typer.Option(..., "--out", dir_okay=False, help="The CSV file to write."),
    run: str | None = typer.Option(None, "--run", help="Only this settlement run's lines."),
    start: str | None = typer.Option(None, "--from", help="Orders paid at or after this time."),
    end: str | None = typer.Option(None, "--to", help="Orders paid before this time."),
) -> None:
    """Payouts and reversals (negative amounts, reversal=true), then adjustments (kind
    ADJUSTMENT, no order or tier, the adjustment id as run_id; --from/--to on their time, and
    none with --run); amounts in yuan."""
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
                    line.order_id or "",
                    line.member_id,
                    "" if line.tier is None else line.tier,
                    line.kind,
                    format_yuan(line.amount),
                    "true" if line.reversal else "false",
                    line.run_id,
                )
            )
            rows += 1
    out.print(f"wrote {rows} line(s) to {out_file}", highlight=False)


def _when(text: str | None, name: str) -> datetime | None:
    try:
        return None if text is None else parse_timestamp(text)
    except ValueError as exc:
        fail(f"{name}: {exc}")


@app.command("statement")
def statement_csv(
    member: str = typer.Option(..., "--member", help="The member whose statement to write."),
    out_file: Path = typer.Option(..., "--out", dir_okay=False, help="The CSV file to write."),
    start: str | None = typer.Option(None, "--from", help="Lines booked at or after this time."),
    end: str | None = typer.Option(None, "--to", help="Lines booked before this time."),
) -> None:
    """An OPENING row, every ledger line and payment booked in [from, to) oldest first with the
    running balance, and a CLOSING row; amounts in yuan."""
    since, until = _when(start, "--from"), _when(end, "--to")
    if since is not None and until is not None and since > until:
        fail("--from must not be after --to")
    config = settings()
    with driver(config):
        pass  # fails with a clear message when Neo4j is not reachable

    async def go() -> Statement:
        async with connect_async(config) as d:
            return await statement(
                d, member, start=since, end=until, database=config.neo4j_database
            )

    found = asyncio.run(go())
    blank = ("",) * 8
    with out_file.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(STATEMENT_COLUMNS)
        opened = "" if since is None else since.isoformat()
        writer.writerow((member, opened, "OPENING", *blank, format_yuan(found.opening)))
        for row in found.lines:
            line = row.line
            writer.writerow(
                (
                    member,
                    line.at.isoformat(),
                    line.kind,
                    line.order_id or "",
                    "" if line.tier is None else line.tier,
                    format_yuan(line.amount),
                    "true" if line.reversal else "false",
                    line.reference or "",
                    line.reason or "",
                    line.buyer_id or "",
                    line.seller_id or "",
                    format_yuan(row.balance),
                )
            )
        closed = "" if until is None else until.isoformat()
        writer.writerow((member, closed, "CLOSING", *blank, format_yuan(found.closing)))
    out.print(
        f"statement of {member}: opening {format_yuan(found.opening)}, {len(found.lines)}"
        f" line(s), closing {format_yuan(found.closing)} -> {out_file}",
        highlight=False,
    )
