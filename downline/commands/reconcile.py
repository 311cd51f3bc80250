"""downline reconcile: checks the settlement books; exits 1 on any violation."""

from __future__ import annotations

from collections import Counter

import typer

from downline.commands.common import driver, out, settings
from graph.settlement import reconcile

SHOWN = 50


def command() -> None:
    """Runs cypher/reconcile.cypher and prints a report."""
    config = settings()
    with driver(config) as d:
        report = reconcile(d, database=config.neo4j_database)
    out.print(
        f"checked {report.orders_settled} settled order(s) ({report.orders_reversed} reversed),"
        f" {report.payouts} payout(s), {report.reversals} reversal(s)",
        highlight=False,
    )
    if report.ok:
        out.print("the books balance: no violation")
        return
    by_check = Counter(v.check for v in report.violations)
    out.print(
        f"{len(report.violations)} violation(s): "
        + ", ".join(f"{check} {n}" for check, n in sorted(by_check.items())),
        highlight=False,
    )
    for v in report.violations[:SHOWN]:
        out.print(f"  {v.check}\t{v.order_id}\t{v.member_id or '-'}\t{v.detail}", highlight=False)
    if len(report.violations) > SHOWN:
        out.print(f"  ... and {len(report.violations) - SHOWN} more")
    raise typer.Exit(1)
