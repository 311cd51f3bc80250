"""The driver, the schema, and emptying the graph."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import neo4j

from contract.settings import Settings
from graph.cypherfiles import CYPHER, run_file

SCHEMA_FILE = CYPHER / "schema.cypher"


def connect(settings: Settings) -> neo4j.Driver:
    """One driver per process; the caller closes it."""
    return neo4j.GraphDatabase.driver(
        settings.neo4j_uri,
        auth=(settings.neo4j_user, settings.require_password()),
        connection_timeout=5,
        connection_acquisition_timeout=10,
        max_transaction_retry_time=15,
        notifications_min_severity="OFF",
    )


def connect_async(settings: Settings) -> neo4j.AsyncDriver:
    """The API's driver: short connect and retry times, so a down Neo4j is reported quickly."""
    return neo4j.AsyncGraphDatabase.driver(
        settings.neo4j_uri,
        auth=(settings.neo4j_user, settings.require_password()),
        connection_timeout=2,
        connection_acquisition_timeout=3,
        max_transaction_retry_time=1,
        liveness_check_timeout=30,
        notifications_min_severity="OFF",
    )


def apply_schema(driver: neo4j.Driver, database: str = "neo4j", schema: Path = SCHEMA_FILE) -> None:
    run_file(driver, schema, {}, database=database)
    with driver.session(database=database) as session:
        session.run("CALL db.awaitIndexes(300)").consume()


def clear(driver: neo4j.Driver, database: str = "neo4j") -> int:
    """Deletes everything in batches (constraints and indexes stay); returns the node count.

    Relationships go first so that no batch has to detach a member with thousands of orders,
    which would blow Neo4j's per-transaction memory limit on a big network.
    """
    with driver.session(database=database) as session:
        session.run(
            "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 50000 ROWS"
        ).consume()
        summary = session.run(
            "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 50000 ROWS"
        ).consume()
    return int(summary.counters.nodes_deleted)


T = TypeVar("T")
Work = Callable[[neo4j.AsyncManagedTransaction], Awaitable[T]]

# The change mark (graph/delta.py): every product write that adds or changes orders, members or
# the sponsor tree bumps this counter in its own transaction, so the API's cached "changed since
# the refresh" is dropped by the very next read.
CHANGES_KEY = "changes"
BUMP = """
MERGE (c:ChangeMark {key: $changes})
SET c.seq = coalesce(c.seq, 0) + 1
"""


def bump_changes(tx: neo4j.ManagedTransaction) -> None:
    """Marks the store changed, inside the writer's (synchronous) transaction."""
    tx.run(BUMP, changes=CHANGES_KEY).consume()


async def bump_changes_async(tx: neo4j.AsyncManagedTransaction) -> None:
    """As ``bump_changes``, for the API's asynchronous writes."""
    await (await tx.run(BUMP, changes=CHANGES_KEY)).consume()


async def read(
    driver: neo4j.AsyncDriver, work: Work[T], *, timeout: float | None, database: str
) -> T:
    """Runs ``work`` in a managed read transaction that the server stops after ``timeout``
    seconds (None: the server's default), retried by the driver on transient errors."""
    async with driver.session(database=database) as session:
        return await session.execute_read(neo4j.unit_of_work(timeout=timeout)(work))


async def write(
    driver: neo4j.AsyncDriver, work: Work[T], *, timeout: float | None, database: str
) -> T:
    """As ``read``, for a write: the whole of ``work`` commits or nothing does, and with it the
    change mark (``bump_changes``), so no reader is served what the write changed from before."""

    async def marked(tx: neo4j.AsyncManagedTransaction) -> T:
        done = await work(tx)
        await bump_changes_async(tx)
        return done

    async with driver.session(database=database) as session:
        return await session.execute_write(neo4j.unit_of_work(timeout=timeout)(marked))


async def records(
    tx: neo4j.AsyncManagedTransaction, query: str, **params: Any
) -> list[neo4j.Record]:
    """Every record of a query, read to the end inside the caller's transaction."""
    result = await tx.run(query, params)
    return [record async for record in result]


async def fetch_one(
    tx: neo4j.AsyncManagedTransaction, query: str, **params: Any
) -> dict[str, Any] | None:
    """The first record of a query as a dict, or None when it returned nothing."""
    result = await tx.run(query, params)
    record = await result.single(strict=False)
    return None if record is None else record.data()
