"""downline db start|stop|status|reset|schema|migrate|backup|restore: the embedded Neo4j, the
schema of any and the migration of its data, and backups of the embedded one."""

from __future__ import annotations

from pathlib import Path

import typer
from neo4j.exceptions import Neo4jError, ServiceUnavailable, SessionExpired

from contract.money import format_yuan
from contract.settings import Settings
from downline.commands.actor import option as actor_option
from downline.commands.actor import who
from downline.commands.common import driver, err, fail, out, settings
from graph import server
from graph.backup import BackupFailed, BackupRefused
from graph.backup import backup as dump_database
from graph.backup import restore as load_database
from graph.bulkimport import ManagedServer, managed_server
from graph.db import apply_schema
from graph.migrate import BATCH, MigrationRefused, MigrationReport, migrate
from graph.reset import reset_graph

app = typer.Typer(help="Start, stop, inspect or empty the embedded Neo4j.", no_args_is_help=True)


def paths(config: Settings) -> server.ServerPaths:
    return server.ServerPaths(config.neo4j_data_dir)


def auth(config: Settings) -> tuple[str, str]:
    return config.neo4j_user, config.require_password()


def managed(config: Settings) -> ManagedServer:
    """The embedded server a backup or restore may stop and start; fails for any other."""
    target = managed_server(
        config.neo4j_data_dir,
        host=config.bolt_host,
        port=config.bolt_port,
        password=config.neo4j_password,
    )
    if target is None:
        fail(
            f"backup and restore run on the server Downline runs in {config.neo4j_data_dir}"
            f" ('downline db start'), and none runs there at {config.neo4j_uri}; for another"
            " Neo4j use its own neo4j-admin database dump and load"
        )
    return target


@app.command()
def start() -> None:
    """Builds the launcher the first time, starts Neo4j in the background, applies the schema."""
    config = settings()
    if config.bolt_host not in {"127.0.0.1", "localhost"}:
        fail(f"NEO4J_URI points at {config.bolt_host}; the embedded server only runs on loopback")
    try:
        pid = server.start(
            paths(config),
            port=config.bolt_port,
            password=config.require_password(),
            user=config.neo4j_user,
            heap=config.neo4j_heap,
            pagecache=config.neo4j_pagecache,
        )
    except server.ServerError as exc:
        fail(str(exc))
    with driver(config) as d:
        apply_schema(d, config.neo4j_database)
    out.print(
        f"Neo4j is up at {config.neo4j_uri} (pid {pid}); log: {paths(config).log_file}",
        highlight=False,
    )


@app.command()
def stop() -> None:
    """Stops Neo4j cleanly (SIGTERM, then waits for the store to close)."""
    config = settings()
    if server.stop(paths(config)):
        out.print("Neo4j stopped")
    else:
        out.print("Neo4j was not running")


@app.command()
def status() -> None:
    """Says whether Neo4j runs and answers; exits 1 when it does not."""
    config = settings()
    state = server.status(paths(config), auth(config))
    if not state.running:
        out.print(f"Neo4j is not running (log: {state.log_file})", highlight=False)
        raise typer.Exit(1)
    answer = "answers on Bolt" if state.reachable else "does NOT answer on Bolt"
    out.print(
        f"Neo4j runs (pid {state.pid}) and {answer} at bolt://127.0.0.1:{state.port}",
        highlight=False,
    )
    if not state.reachable:
        raise typer.Exit(1)


@app.command()
def reset(
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    actor: str | None = actor_option(),
) -> None:
    """Deletes every node and relationship but the audit trail (the schema stays); audited."""
    config = settings()
    if not yes and not typer.confirm(f"Delete the whole graph at {config.neo4j_uri}?"):
        fail("nothing was deleted")
    with driver(config) as d:
        deleted = reset_graph(d, actor=who(actor), database=config.neo4j_database)
        apply_schema(d, config.neo4j_database)
    out.print(f"deleted {deleted} nodes; the graph is empty but for its audit trail")


@app.command()
def schema() -> None:
    """Applies the constraints and indexes to a Neo4j started elsewhere (Docker, a managed one);
    `db start` does it for the embedded one. Safe to repeat."""
    config = settings()
    with driver(config) as d:
        apply_schema(d, config.neo4j_database)
    out.print(f"schema applied at {config.neo4j_uri}", highlight=False)


def migration_summary(report: MigrationReport) -> str:
    """What a migration did, in one sentence."""
    if report.nothing_done:
        if report.left:
            return "nothing moved: no :Payout node left could be"
        return "nothing to do: the ledger is already migrated (no :Payout nodes to move)"
    done = [
        f"{report.payouts} payout(s) {format_yuan(report.paid)} moved to PAID lines"
        f" ({report.frozen} of them frozen)",
        f"{report.reversals} reversal(s) {format_yuan(report.reversed)} moved to REVERSED lines"
        f" ({report.risk_reversals} of them a risk decision's)",
    ]
    if report.already:
        done.append(f"{report.already} payout(s) whose line was already there deleted")
    if report.batch_links:
        done.append(f"{report.batch_links} old batch link(s) turned into payments")
    done.append(f"{report.indexes_dropped} Payout index(es) and constraint(s) dropped")
    return "migrated the ledger: " + "; ".join(done)


@app.command("migrate")
def migrate_command(
    batch: int = typer.Option(BATCH, "--batch", min=1, help="Payouts per transaction."),
) -> None:
    """Moves a store written by the old ledger (:Payout nodes) to the new one (PAID and REVERSED
    relationships from each order to the member paid) and drops the Payout indexes, after
    applying the schema. Refused while a settlement holds its lock. Safe to repeat: a run killed
    half way leaves every line moved or not, and the next run finishes the job."""
    config = settings()
    with driver(config) as d:
        try:
            report = migrate(
                d,
                config.neo4j_database,
                lambda text: err.print(text, highlight=False),
                batch=batch,
            )
        except MigrationRefused as exc:
            fail(exc.message)
        except (ServiceUnavailable, SessionExpired) as exc:
            fail(
                f"lost Neo4j during the migration ({exc}); every payout is either moved or not:"
                " run 'downline db migrate' again to finish the job"
            )
        except Neo4jError as exc:
            hint = (
                " (a :Payout node still linked to something: MATCH (p:Payout)-[r]-(x) RETURN"
                " p.key, type(r), labels(x) lists them)"
                if "still has relationships" in str(exc.message)
                else ""
            )
            fail(
                f"Neo4j stopped the migration: {exc.message}{hint}; every payout is either moved"
                " or not: fix the cause and run 'downline db migrate' again to finish the job"
            )
    out.print(migration_summary(report), highlight=False)
    if report.left:
        fail(
            f"{report.left} :Payout node(s) were not moved, as their order or member is missing"
            f" (or a settlement took its lock meanwhile): {', '.join(report.left_keys)}"
            + (", ..." if report.left > len(report.left_keys) else "")
            + "; repair (or delete) them, then run 'downline db migrate' again"
        )


@app.command()
def backup(
    to: Path = typer.Option(..., "--out", dir_okay=False, help="The dump file to write."),
) -> None:
    """Dumps the database into FILE (neo4j-admin database dump). Neo4j Community dumps offline:
    the server is stopped for the dump and started again; refused while a settlement runs."""
    config = settings()
    target = managed(config)
    with driver(config) as d:
        try:
            report = dump_database(d, target, to, database=config.neo4j_database)
        except (BackupRefused, BackupFailed, server.ServerError) as exc:
            fail(str(exc))
    out.print(
        f"backed up {config.neo4j_database} to {report.file} ({report.bytes:,} bytes) in"
        f" {report.seconds:.1f}s; Neo4j was down {report.downtime_s:.1f}s",
        highlight=False,
    )


@app.command()
def restore(
    dump: Path = typer.Argument(..., dir_okay=False, help="A dump made by 'downline db backup'."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Replaces the whole database with the one in DUMP (neo4j-admin database load
    --overwrite-destination), restarts Neo4j and re-applies the schema. The file is loaded
    aside first: a file that is not a whole dump changes nothing."""
    config = settings()
    target = managed(config)
    question = (
        f"Replace the whole database at {config.neo4j_uri} with {dump}? Everything written since"
        " that backup is lost"
    )
    if not yes and not typer.confirm(question):
        fail("nothing was restored")
    with driver(config) as d:
        try:
            report = load_database(d, target, dump, database=config.neo4j_database)
        except (BackupRefused, BackupFailed, server.ServerError) as exc:
            fail(str(exc))
    out.print(
        f"restored {config.neo4j_database} from {report.file} in {report.seconds:.1f}s; Neo4j"
        f" was down {report.downtime_s:.1f}s",
        highlight=False,
    )
