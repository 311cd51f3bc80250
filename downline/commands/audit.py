"""downline audit --member ID: the audit trail of a member (or of any target), newest first."""

from __future__ import annotations

from datetime import datetime

import typer

from contract.money import parse_timestamp
from downline.commands.common import driver, fail, out, settings
from graph.audit import MAX_PAGE, audit_log_sync
from graph.errors import DownlineError


def _when(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        fail(f"{name}: {exc}")


def command(
    member: str | None = typer.Option(
        None, "--member", help="The member (or any target: a plan id, a run id) to show."
    ),
    action: str | None = typer.Option(
        None, "--action", help="Only this action, e.g. member.transfer, settle, plan.load."
    ),
    start: str | None = typer.Option(None, "--from", help="From this time (ISO 8601, offset)."),
    end: str | None = typer.Option(None, "--to", help="Before this time (ISO 8601, offset)."),
    limit: int = typer.Option(MAX_PAGE, "--limit", help=f"At most this many (1-{MAX_PAGE})."),
) -> None:
    """Prints audit records, newest first: time, actor, action, target, reason, before, after."""
    since, until = _when(start, "--from"), _when(end, "--to")
    config = settings()
    with driver(config) as d:
        try:
            page = audit_log_sync(
                d,
                target=member,
                action=action,
                start=since,
                end=until,
                first=limit,
                database=config.neo4j_database,
            )
        except DownlineError as exc:
            fail(exc.message)
    if not page.records:
        out.print("no audit record matches", highlight=False)
    for r in page.records:
        # Tab-separated, as is (a rich console would expand the tabs).
        typer.echo(
            f"{r.at.isoformat()}\t{r.actor}\t{r.action}\t{r.target}\treason: {r.reason or '-'}"
            f"\tbefore: {r.before or '-'}\tafter: {r.after or '-'}"
        )
    if page.has_next:
        out.print("(more: narrow with --from/--to or raise --limit)", highlight=False)
