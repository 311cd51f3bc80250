"""downline plan load [FILE]: checks a compensation plan and stores it in the graph."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import typer

from downline.commands.actor import option as actor_option
from downline.commands.actor import who
from downline.commands.common import driver, fail, out, settings
from graph.errors import DownlineError
from graph.plans import load_plans, read_plan_file, store_plan

app = typer.Typer(help="Compensation plans.", no_args_is_help=True)

DEFAULT_PLAN = Path(str(files("plans"))) / "default.toml"
"""The plan shipped with Downline (plans/default.toml), for an install without a checkout."""


@app.command("load")
def load(
    file: Path = typer.Argument(
        DEFAULT_PLAN, exists=True, dir_okay=False, help="default: the shipped default plan"
    ),
    actor: str | None = actor_option(),
) -> None:
    """Validates FILE (TOML) and stores the plan; refused plans store nothing."""
    config = settings()
    try:
        plan = read_plan_file(file)
    except DownlineError as exc:
        fail(f"{file}: {exc.message}")
    with driver(config) as d:
        try:
            stored = store_plan(d, plan, actor=who(actor), database=config.neo4j_database)
        except DownlineError as exc:
            fail(exc.message)
    when = plan.effective_from.isoformat()
    if stored:
        out.print(f"plan {plan.id} stored, in effect from {when}", highlight=False)
    else:
        out.print(f"plan {plan.id} (from {when}) was already stored; nothing changed")


@app.command("list")
def list_plans() -> None:
    """The stored plans, oldest first."""
    config = settings()
    with driver(config) as d:
        plans = load_plans(d, database=config.neo4j_database)
    if not plans:
        out.print("no plan is stored: load one with 'downline plan load plans/default.toml'")
    for p in plans:
        out.print(
            f"{p.id}\tfrom {p.effective_from.isoformat()}\thold {p.hold_days}d\ttiers {p.tiers}"
            f"\tself-purchase {'on' if p.self_purchase else 'off'}",
            highlight=False,
        )
