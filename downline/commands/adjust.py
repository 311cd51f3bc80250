"""downline adjust: adds a manual adjustment (a signed ledger line with a reason) to a balance."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import typer

from contract.money import format_yuan, parse_yuan
from downline.commands import actor
from downline.commands.common import driver, fail, out, settings
from graph.adjustments import Adjustment, adjust_balance
from graph.db import connect_async
from graph.errors import DownlineError


def command(
    member: str = typer.Option(..., "--member", help="The member whose balance to correct."),
    amount: str = typer.Option(
        ..., "--amount", help="Signed yuan: 12.50 owes the member more, -12.50 less."
    ),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the ledger and the audit)."),
    who: str | None = actor.option(),
) -> None:
    """Adds one adjustment line to the member's ledger, audited as 'adjust'."""
    try:
        fen = parse_yuan(amount)
    except ValueError as exc:
        fail(f"--amount: {exc}")
    config = settings()
    with driver(config):
        pass  # fails with a clear message when Neo4j is not reachable

    async def go() -> Adjustment:
        async with connect_async(config) as d:
            return await adjust_balance(
                d,
                member_id=member,
                amount=fen,
                reason=reason,
                actor=actor.who(who),
                at=datetime.now(UTC),
                rules=config.rules,
                database=config.neo4j_database,
            )

    try:
        made = asyncio.run(go())
    except DownlineError as exc:
        fail(exc.message)
    out.print(
        f"adjustment {made.id}: {format_yuan(made.amount)} to {made.member_id} ({made.reason})",
        highlight=False,
    )
