"""downline settle --preview: prints what a run would pay (graph/preview.py), and with --plan
writes the difference from the committed ledger as CSV."""

from __future__ import annotations

import asyncio
import csv
from datetime import datetime
from pathlib import Path

from contract.money import format_yuan
from contract.settings import Settings
from downline.commands.common import fail, out
from graph.db import connect_async
from graph.errors import DownlineError
from graph.plans import Plan
from graph.preview import ComplianceMix, Difference, SettlementPreview, parse_plan, preview

DIFF_COLUMNS = ("level", "tier", "kind", "member_id", "preview", "committed", "difference")
"""--out with --plan: one row per tier, per kind, per member whose amount differs, and one for
platform retained; amounts in yuan."""
LINE_COLUMNS = ("order_id", "member_id", "tier", "kind", "amount", "reversal")
"""--out without --plan: every ledger line the run would write."""


def read_candidate(path: Path) -> Plan:
    try:
        return parse_plan(path.read_text(encoding="utf-8"))
    except DownlineError as exc:
        fail(f"{path}: {exc.message}")


def _pct(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}%"


def _mix(label: str, mix: ComplianceMix) -> str:
    return (
        f"{label}: recruiting share {_pct(mix.income.gift_package_bp)}, team-pay share"
        f" {_pct(mix.income.team_pay_bp)}, members flagged {mix.flagged} of {mix.members_paid}"
        f" ({_pct(mix.flagged_bp)})"
    )


def _diff(d: Difference) -> str:
    return (
        f"{format_yuan(d.preview):>14} (committed {format_yuan(d.committed)},"
        f" difference {format_yuan(d.difference)})"
    )


def say(text: str) -> None:
    out.print(text, highlight=False, markup=False)


def show(p: SettlementPreview) -> None:
    if p.plan_id is None:
        say(
            f"preview: {p.orders} order(s) would settle, {p.orders_reversed} reversed, up to"
            f" {p.cutoff.isoformat()}; paid {format_yuan(p.paid)}, reversed"
            f" {format_yuan(p.reversed)}, pool {format_yuan(p.pool)}, platform retained"
            f" {format_yuan(p.retained)}; nothing written"
        )
    else:
        say(
            f"preview of plan {p.plan_id} on {p.orders} settled order(s) paid before"
            f" {p.cutoff.isoformat()}: paid {format_yuan(p.paid)}, pool {format_yuan(p.pool)},"
            f" platform retained {format_yuan(p.retained)}; nothing written"
        )
    for t in p.totals:
        say(
            f"  tier {t.tier} {t.kind:<12} paid {format_yuan(t.paid):>14} ({t.payouts})"
            f"  reversed {format_yuan(t.reversed):>12} ({t.reversals})"
        )
    say("largest amounts: " + ", ".join(f"{m.member_id} {format_yuan(m.amount)}" for m in p.top))
    say(_mix("compliance", p.compliance))
    c = p.comparison
    if c is None:
        return
    say(_mix("committed compliance", c.compliance))
    for d in c.tiers:
        say(f"  tier {d.tier}       {_diff(d)}")
    for d in c.kinds:
        say(f"  {d.kind:<12} {_diff(d)}")
    say(f"  retained     {_diff(c.retained)}")
    say(f"  {len(c.members)} member(s) would be paid differently")


def write_csv(p: SettlementPreview, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        if p.comparison is None:
            w.writerow(LINE_COLUMNS)
            for line in p.lines:
                w.writerow(
                    (
                        line.order_id,
                        line.member_id,
                        line.tier,
                        line.kind,
                        format_yuan(line.amount),
                        str(line.reversal).lower(),
                    )
                )
            return
        w.writerow(DIFF_COLUMNS)
        c = p.comparison
        rows = [
            *(("tier", d) for d in c.tiers),
            *(("kind", d) for d in c.kinds),
            *(("member", d) for d in c.members),
            ("retained", c.retained),
        ]
        for level, d in rows:
            w.writerow(
                (
                    level,
                    d.tier or "",
                    d.kind or "",
                    d.member_id or "",
                    format_yuan(d.preview),
                    format_yuan(d.committed),
                    format_yuan(d.difference),
                )
            )


def run(
    config: Settings,
    *,
    cutoff: datetime,
    plan: Plan | None,
    start: datetime | None,
    top: int,
    out_file: Path | None,
) -> None:
    async def go() -> SettlementPreview:
        async with connect_async(config) as d:
            return await preview(
                d,
                cutoff=cutoff,
                plan=plan,
                start=start,
                top=top,
                lines=out_file is not None and plan is None,
                database=config.neo4j_database,
            )

    try:
        found = asyncio.run(go())
    except DownlineError as exc:
        fail(exc.message)
    show(found)
    if out_file is not None:
        write_csv(found, out_file)
        out.print(f"-> {out_file}", highlight=False, markup=False)
