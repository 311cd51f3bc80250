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
from graph.bulkimport import AUTO_MIN_BYTES, BulkImportFailed, managed_server
from graph.loader import LoadRefused, load


class RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- rows/s" if speed is None else f"{speed:,.0f} rows/s", style="cyan")


def command(
    members: Path | None = typer.Option(None, "--members", exists=True, dir_okay=False),
    products: Path | None = typer.Option(None, "--products", exists=True, dir_okay=False),
    orders: Path | None = typer.Option(None, "--orders", exists=True, dir_okay=False),
    transactional: bool = typer.Option(
        False, "--transactional", help="Write through transactions even into an empty store."
    ),
    bulk: bool = typer.Option(
        False,
        "--bulk",
        help="Use Neo4j's offline importer for an empty store however small the files are.",
    ),
) -> None:
    """Checks every row of the given files, then writes them; on any bad row writes nothing.

    A first load into an empty store of the server Downline runs (downline db start) goes through
    Neo4j's offline importer, which stops and restarts that server; other loads use transactions.
    """
    if members is None and products is None and orders is None:
        fail("give at least one of --members, --products, --orders")
    if transactional and bulk:
        fail("choose one of --transactional and --bulk")
    config = settings()
    target = None
    if not transactional:
        target = managed_server(
            config.neo4j_data_dir,
            host=config.bolt_host,
            port=config.bolt_port,
            password=config.neo4j_password,
        )
        if target is None and bulk:
            err.print(
                f"the bulk importer needs the server Downline runs in {config.neo4j_data_dir}"
                f" at {config.neo4j_uri}; loading through transactions",
                highlight=False,
            )
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
                bulk=target,
                bulk_min_bytes=0 if bulk else AUTO_MIN_BYTES,
                step=lambda message: err.print(message, highlight=False),
                rules=config.rules,
            )
        except LoadRefused as refused:
            bar.stop()
            for error in refused.errors:
                err.print(str(error), highlight=False, soft_wrap=True, markup=False)
            fail(str(refused))
        except ValueError as exc:  # a wrong or missing header
            bar.stop()
            fail(str(exc))
        except BulkImportFailed as exc:
            bar.stop()
            fail(f"{exc}\nnothing was loaded; the store is as it was")
    created = report.counters.get("nodes_created", 0) + report.counters.get(
        "relationships_created", 0
    )
    if report.bulk:
        out.print(
            "path: bulk import (Neo4j's offline importer into the empty store;"
            f" constraints and indexes built in {report.index_seconds:.1f}s)",
            highlight=False,
        )
    else:
        out.print("path: transactional", highlight=False)
    out.print(
        f"loaded {report.members:,} members, {report.products:,} products, {report.orders:,}"
        f" orders in {report.seconds:.1f}s ({report.rows_per_s:,.0f} rows/s);"
        f" {created:,} nodes and relationships created",
        highlight=False,
    )
