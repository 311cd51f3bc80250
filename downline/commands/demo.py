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
) -> None:
    """Writes members.csv, products.csv and orders.csv; the same seed gives the same files."""
    from downline.demo import write_demo_network  # numpy and Faker load only when needed

    try:
        summary = write_demo_network(out_dir, members=members, seed=seed, orders=orders)
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
