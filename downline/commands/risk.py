"""downline risk refresh: recompute the risk flags (graph/risk.py) from the identity signals;
downline risk clear / confirm: decide a flag (graph/riskdecisions.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import typer

from contract.money import format_yuan
from downline.commands import actor
from downline.commands.common import driver, fail, out, settings
from graph.db import connect_async
from graph.errors import DownlineError
from graph.risk import refresh as refresh_flags
from graph.riskdecisions import RiskDecision, decide

app = typer.Typer(
    help="Risk flags: members linked by shared identity signals.", no_args_is_help=True
)


@app.command()
def refresh() -> None:
    """Recomputes every risk flag and replaces the stored ones (a full recompute)."""
    config = settings()
    with driver(config) as d:
        report = refresh_flags(d, config.neo4j_database)
    kinds = ", ".join(f"{n} {kind}" for kind, n in report.by_kind.items())
    out.print(f"risk: {report.flags} flag(s) ({kinds}) in {report.seconds:.1f}s", highlight=False)


def _decide(flag_id: str, *, confirm: bool, reason: str, who: str | None) -> RiskDecision:
    config = settings()
    with driver(config):
        pass  # fails with a clear message when Neo4j is not reachable

    async def go() -> RiskDecision:
        async with connect_async(config) as d:
            return await decide(
                d,
                flag_id=flag_id,
                confirm=confirm,
                reason=reason,
                actor=actor.who(who),
                at=datetime.now(UTC),
                database=config.neo4j_database,
            )

    try:
        return asyncio.run(go())
    except DownlineError as exc:
        fail(exc.message)


FLAG_ID = typer.Argument(..., help="The flag's id, as riskClusters or Member.risk show it.")
REASON = typer.Option(..., "--reason", help="Why (kept on the flag and in the audit).")


@app.command()
def clear(flag_id: str = FLAG_ID, reason: str = REASON, who: str | None = actor.option()) -> None:
    """Clears an open flag: the payouts it froze become available. Audited as risk_clear."""
    made = _decide(flag_id, confirm=False, reason=reason, who=who)
    out.print(
        f"risk flag {made.flag.id} cleared: {format_yuan(made.frozen)} released"
        f" ({len(made.lines)} payout(s))",
        highlight=False,
    )


@app.command()
def confirm(flag_id: str = FLAG_ID, reason: str = REASON, who: str | None = actor.option()) -> None:
    """Confirms an open flag: the payouts it froze are reversed. Audited as risk_confirm."""
    made = _decide(flag_id, confirm=True, reason=reason, who=who)
    out.print(
        f"risk flag {made.flag.id} confirmed: {format_yuan(made.reversed)} reversed"
        f" ({len(made.lines)} payout(s))",
        highlight=False,
    )
