"""The ``downline`` command: one typer app assembled from the command modules."""

from __future__ import annotations

import typer

from downline.commands import (
    adjust,
    audit,
    cypher,
    db,
    demo,
    export,
    load,
    pay,
    plan,
    reconcile,
    risk,
    rollups,
    serve,
    settle,
    token,
)

app = typer.Typer(
    help="Downline: referral-graph analytics and settlement on Neo4j.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(cypher.app, name="cypher")
app.command("load")(load.command)
app.command("demo-data")(demo.command)
app.command("serve")(serve.command)
app.command("token")(token.command)
app.add_typer(plan.app, name="plan")
app.add_typer(export.app, name="export")
app.command("settle")(settle.command)
app.command("reconcile")(reconcile.command)
app.command("pay")(pay.command)
app.command("adjust")(adjust.command)
app.command("audit")(audit.command)
app.add_typer(rollups.app, name="rollups")
app.add_typer(risk.app, name="risk")
