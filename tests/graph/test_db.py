"""The one way to run a read or a write: the server stops it at its timeout, and a write that
is stopped leaves nothing behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import neo4j
import pytest
from neo4j.exceptions import ClientError

from graph.db import read, write

# Long enough that only a timeout ends it within the test (about 10^9 additions).
SLOW = "UNWIND range(1, 1000000000) AS x RETURN sum(x) AS s"


async def _slow_write(driver: neo4j.AsyncDriver) -> None:
    async def work(tx: neo4j.AsyncManagedTransaction) -> None:
        await tx.run("CREATE (:Scratch {id: 'half-written'})")
        await (await tx.run(SLOW)).consume()

    await write(driver, work, timeout=0.5, database="neo4j")


async def _slow_read(driver: neo4j.AsyncDriver) -> None:
    async def work(tx: neo4j.AsyncManagedTransaction) -> None:
        await (await tx.run(SLOW)).consume()

    await read(driver, work, timeout=0.5, database="neo4j")


@pytest.mark.parametrize("run", [_slow_write, _slow_read])
def test_the_server_stops_a_transaction_at_its_timeout(
    graph: neo4j.Driver, arun: Callable[..., Any], run: Callable[..., Any]
) -> None:
    with pytest.raises(ClientError) as stopped:
        arun(run)
    assert (
        stopped.value.code == "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration"
    )
    records, _, _ = graph.execute_query("MATCH (s:Scratch) RETURN count(s) AS n")
    assert records[0]["n"] == 0


def test_a_write_within_its_timeout_commits(graph: neo4j.Driver, arun: Callable[..., Any]) -> None:
    async def go(driver: neo4j.AsyncDriver) -> int:
        async def work(tx: neo4j.AsyncManagedTransaction) -> int:
            result = await tx.run("CREATE (s:Scratch {id: 'whole'}) RETURN 1 AS one")
            record = await result.single(strict=True)
            return int(record["one"])

        return await write(driver, work, timeout=5.0, database="neo4j")

    assert arun(go) == 1
    records, _, _ = graph.execute_query("MATCH (s:Scratch) RETURN s.id AS id")
    assert [r["id"] for r in records] == ["whole"]
