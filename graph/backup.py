"""Backups of the store Downline runs: ``neo4j-admin database dump`` and ``load``, offline.

Neo4j Community has no online backup, so a backup stops the embedded server, dumps the database
and starts it again; the downtime is reported. A restore first loads the dump into a staging
store beside the real one (which checks the whole file: format, version, truncation), and only
then stops the server and swaps the staged database in, so a bad file changes nothing. Both are
refused while a settlement run holds its lock: a backup taken mid-run would hold half a run.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import neo4j

from graph import server
from graph.bulkimport import ManagedServer
from graph.db import apply_schema
from graph.runlock import lock_is_stale, read_lock

# A Neo4j 5 dump starts with its format's magic: zstd ("DZV1") or gzip ("DGV1").
DUMP_MAGIC = (b"DZV1", b"DGV1")
ADMIN_HEAP = "512m"


class BackupRefused(RuntimeError):
    """The backup or restore did not run (a settlement holds the lock, a bad file); the store and
    the server are as they were."""


class BackupFailed(RuntimeError):
    """A step failed after the server was stopped; the store was put back and started again."""


@dataclass(frozen=True)
class BackupReport:
    file: Path
    bytes: int
    seconds: float
    downtime_s: float
    """From stopping the server to Bolt answering again."""


@dataclass(frozen=True)
class RestoreReport:
    file: Path
    seconds: float
    downtime_s: float


def _refuse_while_settling(driver: neo4j.Driver, database: str, what: str) -> None:
    lock = read_lock(driver, database=database)
    if lock is not None and not lock_is_stale(lock, datetime.now(UTC)):
        raise BackupRefused(
            f"no {what} while settlement run {lock.run_id} holds the lock (last heartbeat"
            f" {lock.heartbeat.isoformat()}); nothing was changed. Run it again once the"
            " settlement has finished"
        )


def _log_tail(log: Path, lines: int = 12) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no output)"
    # The admin commands end with the reason; Java stack frames say nothing to an operator.
    kept = [line for line in text if line.strip() and not line.lstrip().startswith("at ")]
    return "\n".join(kept[-lines:])


def backup(
    driver: neo4j.Driver, target: ManagedServer, out: Path, *, database: str = "neo4j"
) -> BackupReport:
    """Dumps ``database`` into ``out`` (replacing it only once the dump is whole)."""
    out = out.resolve()
    if out.is_dir():
        raise BackupRefused(f"{out} is a directory; give the file the dump goes to")
    if not out.parent.is_dir():
        raise BackupRefused(f"the directory {out.parent} does not exist")
    _refuse_while_settling(driver, database, "backup")
    paths = target.paths
    partial = out.parent / f".{out.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    log = paths.root / "backup.log"
    log.unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        server.stop(paths)
        stopped = time.perf_counter()
        result = server.admin(
            paths, "dump", [f"--to-path={partial}", database], heap=ADMIN_HEAP, log=log
        )
        server.restart(paths, target.launch, password=target.password)
        up = time.perf_counter()
        if result.returncode != 0:
            raise BackupFailed(
                f"neo4j-admin database dump exited with {result.returncode}; nothing was"
                f" written to {out}:\n{_log_tail(log)}"
            )
        os.replace(partial / f"{database}.dump", out)
    finally:
        if server.running_port(paths) is None:
            server.restart(paths, target.launch, password=target.password)
        shutil.rmtree(partial, ignore_errors=True)
    return BackupReport(out, out.stat().st_size, up - started, up - stopped)


def _aside(path: Path) -> Path:
    return path.with_name(path.name + ".before-restore")


def check_dump(dump: Path) -> None:
    """Refuses at once a file that cannot be a dump (a text file, an empty one)."""
    if not dump.is_file():
        raise BackupRefused(f"{dump} is not a file")
    with dump.open("rb") as f:
        magic = f.read(4)
    if magic not in DUMP_MAGIC:
        raise BackupRefused(
            f"{dump} is not a Neo4j 5 database dump (it does not start like one);"
            " nothing was changed"
        )


def restore(
    driver: neo4j.Driver, target: ManagedServer, dump: Path, *, database: str = "neo4j"
) -> RestoreReport:
    """Replaces ``database`` with the one in ``dump``, restarts, re-applies the schema.

    The driver is the caller's, on the server behind ``target``; it reconnects by itself after
    the restart.
    """
    dump = dump.resolve()
    check_dump(dump)
    _refuse_while_settling(driver, database, "restore")
    paths = target.paths
    staging = server.ServerPaths(paths.root / "restore-staging")
    shutil.rmtree(staging.root, ignore_errors=True)
    log = paths.root / "restore.log"
    log.unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        result = server.admin(
            staging,
            "load",
            ["--from-stdin", "--overwrite-destination=true", database],
            heap=ADMIN_HEAP,
            log=log,
            stdin=dump,
        )
        if result.returncode != 0:
            raise BackupRefused(
                f"{dump} is not a whole dump of this Neo4j's database (neo4j-admin database"
                f" load exited with {result.returncode}); nothing was changed:\n{_log_tail(log)}"
            )
        stopped = time.perf_counter()
        _swap_in(target, staging, database)
        up = time.perf_counter()
    finally:
        shutil.rmtree(staging.root, ignore_errors=True)
    apply_schema(driver, database)
    return RestoreReport(dump, time.perf_counter() - started, up - stopped)


def _swap_in(target: ManagedServer, staging: server.ServerPaths, database: str) -> None:
    """Stops the server, moves the staged database in place of the live one, starts again;
    on any failure the live database comes back as it was."""
    paths = target.paths
    server.stop(paths)
    moved: list[tuple[Path, Path]] = []
    try:
        for live, staged in zip(
            paths.database_dirs(database), staging.database_dirs(database), strict=True
        ):
            if live.exists():
                aside = _aside(live)
                shutil.rmtree(aside, ignore_errors=True)
                live.rename(aside)
                moved.append((live, aside))
            staged.rename(live)
        server.restart(paths, target.launch, password=target.password)
    except BaseException as exc:
        server.stop(paths)
        for live, aside in moved:
            shutil.rmtree(live, ignore_errors=True)
            aside.rename(live)
        server.restart(paths, target.launch, password=target.password)
        if isinstance(exc, Exception):
            raise BackupFailed(f"the restore failed and the store was put back: {exc}") from exc
        raise
    for _, aside in moved:
        shutil.rmtree(aside, ignore_errors=True)
