"""downline risk refresh: recompute the risk flags (graph/risk.py) from the identity signals."""

from __future__ import annotations

import typer

from downline.commands.common import driver, out, settings
from graph.risk import refresh as refresh_flags

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
