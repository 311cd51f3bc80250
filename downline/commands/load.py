"""downline load: the bulk import of the data team's CSV files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from downline.commands.common import driver, err, fail, out, settings
from graph.loader import LoadRefused, load


class RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- rows/s" if speed is None else f"{speed:,.0f} rows/s", style="cyan")


def command(
    members: Path | None = typer.Option(None, "--members", exists=True, dir_okay=False),
    products: Path | None = typer.Option(None, "--products", exists=True, dir_okay=False),
    orders: Path | None = typer.Option(None, "--orders", exists=True, dir_okay=False),
) -> None:
    """Checks every row of the given files, then writes them; on any bad row writes nothing."""
    if members is None and products is None and orders is None:
        fail("give at least one of --members, --products, --orders")
    config = settings()
    with (
        driver(config) as d,
        Progress(
            TextColumn("{task.description:>9}"),
            BarColumn(),
            MofNCompleteColumn(),
            RowsPerSecond(),
            TimeElapsedColumn(),
            console=err,
        ) as bar,
    ):
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.advance(tasks[stage], done)

        try:
            report = load(
                d,
                members=members,
                products=products,
                orders=orders,
                progress=progress,
                database=config.neo4j_database,
            )
        except LoadRefused as refused:
            bar.stop()
            for error in refused.errors:
                err.print(str(error), highlight=False, soft_wrap=True, markup=False)
            fail(str(refused))
        except ValueError as exc:  # a wrong or missing header
            bar.stop()
            fail(str(exc))
    created = report.counters.get("nodes_created", 0) + report.counters.get(
        "relationships_created", 0
    )
    out.print(
        f"loaded {report.members:,} members, {report.products:,} products, {report.orders:,}"
        f" orders in {report.seconds:.1f}s ({report.rows_per_s:,.0f} rows/s);"
        f" {created:,} nodes and relationships created",
        highlight=False,
    )
