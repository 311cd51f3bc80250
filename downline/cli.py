"""The ``downline`` command: one typer app over the command modules, each imported when it runs.

A command module is imported only when its command is called (or ``--help`` lists them all), so
``downline settle`` does not pay at every start for the imports of the others (the API's, for
``serve`` and ``token``): the daily settlement's budget counts the interpreter's start.
"""

from __future__ import annotations

from importlib import import_module

import typer
from typer._click.core import Command, Context
from typer.core import TyperGroup

# Command name -> module under downline.commands; the module's ``app`` (a group of commands) or
# its ``command`` (a single command). In the order ``--help`` lists them.
COMMANDS = {
    "db": "db",
    "cypher": "cypher",
    "load": "load",
    "demo-data": "demo",
    "serve": "serve",
    "token": "token",
    "plan": "plan",
    "export": "export",
    "settle": "settle",
    "reconcile": "reconcile",
    "pay": "pay",
    "adjust": "adjust",
    "audit": "audit",
    "rollups": "rollups",
    "risk": "risk",
}


class LazyCommands(TyperGroup):
    """Builds a command from its module on first use."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        module_name = COMMANDS.get(cmd_name)
        if module_name is None:
            return None
        module = import_module(f"downline.commands.{module_name}")
        group: typer.Typer | None = getattr(module, "app", None)
        if group is not None:
            command: Command = typer.main.get_group(group)
        else:
            single = typer.Typer(add_completion=False)
            single.command(cmd_name)(module.command)
            command = typer.main.get_command(single)
        command.name = cmd_name
        return command


app = typer.Typer(
    cls=LazyCommands,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """Downline: referral-graph analytics and settlement on Neo4j."""
