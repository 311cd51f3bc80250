"""The settlement run lock: who holds it, whether its holder is gone, and releasing it.

The lock is the one ``(:SettlementLock {id: 'settlement'})`` node (a unique id), created by
cypher/settlement/begin.cypher and deleted by finish.cypher or unlock.cypher; ``downline settle``
records its host and pid on it so a later run can tell a dead holder from a live one.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import neo4j

from graph.cypherfiles import CYPHER, run_file
from graph.errors import Conflict

STALE_AFTER = timedelta(seconds=60)
"""A lock held from another host whose heartbeat is older than this is taken to be dead."""
HOST = socket.gethostname()
UNLOCK_FILE = CYPHER / "settlement" / "unlock.cypher"

READ_LOCK = """
MATCH (l:SettlementLock {id: 'settlement'})
RETURN l.run_id AS run_id, l.started_at AS started_at, l.heartbeat AS heartbeat,
       l.holder_host AS holder_host, l.holder_pid AS holder_pid
"""

CLAIM_LOCK = """
MATCH (l:SettlementLock {id: 'settlement', run_id: $run_id})
SET l.holder_host = $host, l.holder_pid = $pid, l.heartbeat = datetime()
"""


class SettlementBusy(Conflict):
    """Another run holds the lock."""


@dataclass(frozen=True)
class RunLock:
    run_id: str
    started_at: datetime
    heartbeat: datetime
    holder_host: str | None
    holder_pid: int | None


class ActiveRuns:
    """The runs this process is executing now: a lock naming this pid but none of these is
    stale (its run died with an exception, and this process lives on)."""

    def __init__(self) -> None:
        self._ids: set[str] = set()

    def add(self, run_id: str) -> None:
        self._ids.add(run_id)

    def discard(self, run_id: str) -> None:
        self._ids.discard(run_id)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._ids


ACTIVE = ActiveRuns()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_lock(driver: neo4j.Driver, *, database: str = "neo4j") -> RunLock | None:
    records, _, _ = driver.execute_query(READ_LOCK, database_=database)
    if not records:
        return None
    r = records[0]
    return RunLock(
        run_id=r["run_id"],
        started_at=r["started_at"].to_native(),
        heartbeat=r["heartbeat"].to_native(),
        holder_host=r["holder_host"],
        holder_pid=r["holder_pid"],
    )


def take_lock(
    driver: neo4j.Driver, begin: str, params: Mapping[str, Any], *, database: str = "neo4j"
) -> None:
    """Runs ``begin`` (begin.cypher's statement, which creates the lock) and names this process
    as the holder in the same transaction. Apart, a run killed between the two left a lock with
    no holder, which no later run may take as dead (the crash drills found it): only an admin's
    ``--force`` or unlock.cypher could release it."""

    def work(tx: neo4j.ManagedTransaction) -> None:
        tx.run(begin, dict(params)).consume()
        tx.run(CLAIM_LOCK, run_id=params["run_id"], host=HOST, pid=os.getpid()).consume()

    with driver.session(database=database) as session:
        session.execute_write(work)


def lock_is_stale(lock: RunLock, now: datetime) -> bool:
    """A lock is stale when its holder process is gone: on this host we can ask the kernel;
    from elsewhere we trust the heartbeat. A lock taken by cypher-shell (no holder) never is."""
    if lock.holder_pid is None:
        return False
    if lock.holder_host == HOST:
        if lock.holder_pid == os.getpid():
            return lock.run_id not in ACTIVE
        return not _pid_alive(lock.holder_pid)
    return now - lock.heartbeat > STALE_AFTER


def release_lock(driver: neo4j.Driver, run_id: str, *, database: str = "neo4j") -> None:
    """Releases a dead run's lock, marks the run interrupted (cypher/settlement/unlock.cypher)."""
    run_file(driver, UNLOCK_FILE, {"run_id": run_id}, database=database)


def busy_message(lock: RunLock) -> str:
    holder = (
        f"process {lock.holder_pid} on {lock.holder_host}"
        if lock.holder_pid is not None
        else "a client that did not say who it is (cypher-shell?)"
    )
    return (
        f"settlement run {lock.run_id} holds the lock (started {lock.started_at.isoformat()},"
        f" last heartbeat {lock.heartbeat.isoformat()}, {holder}); wait for it to finish. If it"
        f" is surely dead, run 'downline settle --force ...' or cypher/settlement/unlock.cypher"
        f" with run_id {lock.run_id}"
    )
