"""downline settle --until T: one settlement run, exactly once (see graph/settlement.py);
with --preview, what it would pay (downline/commands/preview.py)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from neo4j.exceptions import Neo4jError, ServiceUnavailable, SessionExpired

from contract.money import format_yuan, parse_timestamp
from downline.commands import preview
from downline.commands.actor import option as actor_option
from downline.commands.actor import who
from downline.commands.common import driver, err, fail, out, settings
from downline.commands.preview import read_candidate
from graph.errors import DownlineError
from graph.settlement import settle


def command(
    until: str = typer.Option(
        ..., "--until", help="The cutoff, ISO 8601 with offset: 2026-11-30T00:00:00+08:00"
    ),
    force: bool = typer.Option(
        False, "--force", help="Take over the run lock even if its holder may be alive."
    ),
    actor: str | None = actor_option(),
    dry: bool = typer.Option(
        False, "--preview", help="Only show what the run would pay; write nothing."
    ),
    plan: Path | None = typer.Option(
        None,
        "--plan",
        exists=True,
        dir_okay=False,
        help="With --preview: a candidate plan (TOML) applied to the orders already settled.",
    ),
    since: str | None = typer.Option(
        None, "--from", help="With --plan: only orders paid from this time (ISO 8601)."
    ),
    top: int = typer.Option(10, "--top", help="With --preview: how many largest amounts."),
    out_file: Path | None = typer.Option(
        None,
        "--out",
        dir_okay=False,
        help="With --preview: a CSV of the lines, or with --plan of the differences.",
    ),
) -> None:
    """Settles every order whose hold ended by the cutoff, reverses refunded settled orders;
    with --preview, shows what that would pay (or what --plan would have paid) instead."""
    try:
        cutoff = parse_timestamp(until)
        start = None if since is None else parse_timestamp(since)
    except ValueError as exc:
        fail(f"--until/--from: {exc}")
    config = settings()
    if not dry:
        if plan is not None or out_file is not None or since is not None:
            fail("--plan and --out are only for --preview (and --from only with --plan)")
    else:
        candidate = None if plan is None else read_candidate(plan)
        preview.run(config, cutoff=cutoff, plan=candidate, start=start, top=top, out_file=out_file)
        return
    started = time.perf_counter()
    with driver(config) as d:
        try:
            outcome = settle(
                d,
                cutoff=cutoff,
                database=config.neo4j_database,
                batch=config.settle_batch,
                parallel=config.settle_concurrency,
                force=force,
                progress=lambda text: err.print(text, highlight=False),
                actor=who(actor),
            )
        except DownlineError as exc:
            fail(exc.message)
        except (ServiceUnavailable, SessionExpired) as exc:
            fail(
                f"lost Neo4j during settlement ({exc}); what committed is safe: run the same"
                " command again to finish the job"
            )
        except Neo4jError as exc:
            fail(f"Neo4j refused the settlement: {exc.message}; run it again to finish the job")
        seconds = time.perf_counter() - started
        run = outcome.run
        if run is None:
            out.print(
                f"nothing to settle up to {cutoff.isoformat()}: nothing written ({seconds:.2f}s)",
                highlight=False,
            )
            return
        rate = run.orders_settled / seconds if seconds > 0 else 0.0
        out.print(
            f"run {run.id} {run.status}: {run.orders_settled} order(s) settled,"
            f" {run.orders_reversed} reversed; {run.payouts} payout(s) {format_yuan(run.paid)},"
            f" {run.reversals} reversal(s) {format_yuan(run.reversed)}, platform retained"
            f" {format_yuan(run.retained)}; {seconds:.2f}s, {rate:,.0f} orders/s",
            highlight=False,
        )
        for t in run.totals:
            out.print(
                f"  tier {t.tier} {t.kind:<12} paid {format_yuan(t.paid):>14} ({t.payouts})"
                f"  reversed {format_yuan(t.reversed):>12} ({t.reversals})",
                highlight=False,
            )
