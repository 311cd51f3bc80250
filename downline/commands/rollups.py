"""downline rollups refresh: rebuild what subtree revenue and the key-node metrics read."""

from __future__ import annotations

import typer

from downline.commands.common import driver, fail, out, settings
from graph.errors import DownlineError
from graph.rollups import refresh as refresh_rollups

app = typer.Typer(help="The rollups behind subtree revenue and the rankings.", no_args_is_help=True)


@app.command()
def refresh() -> None:
    """Renumbers the tree and rebuilds the per-day level checkpoints and all-time metrics."""
    config = settings()
    with driver(config) as d:
        try:
            report = refresh_rollups(d, config.neo4j_database)
        except DownlineError as exc:
            fail(str(exc))
    out.print(
        f"rollups {report.version[:8]}: {report.members:,} members, {report.orders:,} orders,"
        f" {report.checkpoints:,} checkpoints over {report.days} days in {report.seconds:.1f}s",
        highlight=False,
    )
