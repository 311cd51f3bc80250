"""Moving a store written by the old ledger (:Payout nodes) to the new one (issue 12).

The work is cypher/migrations/ledger.cypher, which the data team can also run with cypher-shell:
each payout becomes a ``PAID`` or ``REVERSED`` relationship from its order to its member, deleted
in the transaction that writes its line, then the Payout indexes are dropped. Here it runs after
the schema (whose conversion of old batch links to payments reads the :Payout nodes, so it must
see them) and only while no settlement holds its lock, and says what it did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import neo4j

from graph.cypherfiles import CYPHER, StatementResult, run_file
from graph.db import apply_schema
from graph.errors import Conflict
from graph.runlock import busy_message, lock_is_stale, read_lock

LEDGER_FILE = CYPHER / "migrations" / "ledger.cypher"
BATCH = 1000
"""Payouts per transaction: a few MB of transaction state, whatever the store's size."""

UNMIGRATED = "MATCH (p:Payout) RETURN count(p) AS n"
"""Answered from the count store: no scan, so any command may ask it before it runs."""

BATCH_LINKS = "MATCH (:PayoutBatch)-[l:PAYS]->(:Payout) RETURN count(l) AS n"
LEFT_KEYS = "MATCH (p:Payout) RETURN p.key AS key ORDER BY key LIMIT $limit"


class MigrationRefused(Conflict):
    """A settlement holds its lock: nothing was written."""


@dataclass(frozen=True)
class MigrationReport:
    payouts: int
    """PAID lines written, one per payout moved."""
    frozen: int
    """Of those, the ones settlement had frozen (frozen_by kept)."""
    reversals: int
    """REVERSED lines written, risk decisions' included."""
    risk_reversals: int
    """Of those, the ones a risk decision wrote (decision_id, flag_id, at kept)."""
    already: int
    """Payouts deleted without a line written: their order had that line already."""
    paid: int
    """The PAID lines' total, fen."""
    reversed: int
    """The REVERSED lines' total, fen (negative)."""
    batch_links: int
    """Old (:PayoutBatch)-[:PAYS]->(:Payout) links the schema turned into payments."""
    indexes_dropped: int
    """The Payout constraint and indexes dropped (4 on a store of the old ledger)."""
    left: int
    """Payouts not moved: their order or member is missing."""
    left_keys: tuple[str, ...] = ()
    """The first few of those, by key."""

    @property
    def nothing_done(self) -> bool:
        return not (
            self.payouts
            or self.reversals
            or self.already
            or self.batch_links
            or self.indexes_dropped
        )


def unmigrated(driver: neo4j.Driver, database: str = "neo4j") -> int:
    """How many :Payout nodes the store still has: a command that reads or writes the ledger
    refuses while there are any (run ``downline db migrate``)."""
    records, _, _ = driver.execute_query(UNMIGRATED, database_=database)
    return int(records[0]["n"])


def _count(driver: neo4j.Driver, query: str, database: str) -> int:
    records, _, _ = driver.execute_query(query, database_=database)
    return int(records[0]["n"])


def _refuse_while_locked(driver: neo4j.Driver, database: str) -> None:
    lock = read_lock(driver, database=database)
    if lock is None:
        return
    if lock_is_stale(lock, datetime.now(UTC)):
        raise MigrationRefused(
            f"settlement run {lock.run_id} died holding the lock; nothing was migrated. Finish"
            " it first with 'downline settle --until ...' (which takes over a dead run's lock),"
            f" or release it with cypher/settlement/unlock.cypher (run_id {lock.run_id}), then"
            " run 'downline db migrate' again"
        )
    raise MigrationRefused(
        f"nothing was migrated: {busy_message(lock)}; then run 'downline db migrate' again"
    )


def _row(results: list[StatementResult], key: str) -> dict[str, int]:
    found = next(r for r in results if key in r.keys)
    return dict(zip(found.keys, found.rows[0], strict=True))


def migrate(
    driver: neo4j.Driver,
    database: str = "neo4j",
    say: Callable[[str], None] = lambda _: None,
    *,
    batch: int = BATCH,
) -> MigrationReport:
    """Migrates the ledger; safe to run again (a store already migrated changes in nothing).

    Raises MigrationRefused, writing nothing, while a settlement run holds its lock (a dead one
    too: its run must be finished or unlocked first). A failure half way (Neo4j's error) leaves
    every payout either moved or not; running this again finishes the job.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    _refuse_while_locked(driver, database)
    links = _count(driver, BATCH_LINKS, database)
    say("applying the schema (old batch links become payments first)")
    apply_schema(driver, database)
    links -= _count(driver, BATCH_LINKS, database)
    say(f"moving {unmigrated(driver, database)} :Payout node(s), {batch} per transaction")
    results = run_file(driver, LEDGER_FILE, {"batch": batch}, database=database)
    paid, reversed_ = _row(results, "payouts"), _row(results, "reversals")
    dropped = sum(
        r.counters.get("constraints_removed", 0) + r.counters.get("indexes_removed", 0)
        for r in results
    )
    left = _row(results, "left")["left"]
    keys: tuple[str, ...] = ()
    if left:
        records, _, _ = driver.execute_query(LEFT_KEYS, limit=5, database_=database)
        keys = tuple(str(r["key"]) for r in records)
    return MigrationReport(
        payouts=paid["payouts"],
        frozen=paid["frozen"],
        reversals=reversed_["reversals"],
        risk_reversals=reversed_["risk_reversals"],
        already=paid["already_paid"] + reversed_["already_reversed"],
        paid=paid["paid"],
        reversed=reversed_["reversed"],
        batch_links=links,
        indexes_dropped=dropped,
        left=left,
        left_keys=keys,
    )
