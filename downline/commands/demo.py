"""downline demo-data: a realistic demo network in the CSV contract."""

from __future__ import annotations

from pathlib import Path

import typer

from downline.commands.common import fail, out


def command(
    members: int = typer.Option(10_000, "--members", min=1),
    seed: int = typer.Option(1, "--seed"),
    out_dir: Path = typer.Option(..., "--out", file_okay=False),
    orders: int | None = typer.Option(None, "--orders", min=0, help="Default: 10 per member."),
    risk: bool = typer.Option(
        False,
        "--risk",
        help="Add identity signals and planted risk cases (listed in risk_planted.csv).",
    ),
) -> None:
    """Writes members.csv, products.csv and orders.csv; the same seed gives the same files."""
    from downline.demo import RISK_PLANTED, plant_risk, write_demo_network  # numpy loads late

    try:
        summary = write_demo_network(out_dir, members=members, seed=seed, orders=orders)
        planted = plant_risk(out_dir, seed=seed) if risk else []
    except OSError as exc:
        fail(f"cannot write to {out_dir}: {exc}")
    except ValueError as exc:
        fail(str(exc))
    out.print(
        f"wrote {summary.members:,} members ({summary.agents:,} agents, max depth"
        f" {summary.max_depth}, largest downline {summary.largest_downline:,}),"
        f" {summary.products:,} products, {summary.orders:,} orders ({summary.refunds:,} refunded)"
        f" to {out_dir}",
        highlight=False,
    )
    if risk:
        counts = {c: sum(1 for p in planted if p.case == c) for c in ("self_referral", "farm")}
        rings = sum(1 for p in planted if p.case == "depth_ring")
        out.print(
            f"planted {counts['self_referral']} self-referrals, {counts['farm']} farms"
            f" ({sum(len(p.members) - 1 for p in planted if p.case == 'farm'):,} recruits added),"
            f" {rings} depth rings: {out_dir / RISK_PLANTED}",
            highlight=False,
        )
