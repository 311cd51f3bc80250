"""The member reads the API needs, batched by id lists: one round trip per level of a request.

Every read is one auto-commit query in a read session (a cluster routes it to a reader) under a
transaction timeout; the API passes its ``query_timeout_s``. Auto-commit sends RUN and PULL in one
round trip where a managed transaction adds BEGIN and COMMIT; these reads are single statements
and safe to repeat, so one retry on a dropped connection stands in for the managed retries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import neo4j
from neo4j.exceptions import ServiceUnavailable, SessionExpired

T = TypeVar("T")

# Variable-length bounds cannot be parameters; the API refuses a larger maxDepth or page.
MAX_UPLINE = 100


@dataclass(frozen=True)
class MemberRecord:
    """A member as the API shows it; ``agent_since`` is None when not an agent at ``as_of``."""

    id: str
    name: str
    joined_at: datetime
    sponsor_id: str | None
    suspended: bool
    agent_since: datetime | None

    @property
    def is_agent(self) -> bool:
        return self.agent_since is not None


@dataclass(frozen=True)
class RecruitsPage:
    """Direct recruits ordered by id; ``ids`` holds at most ``first`` of them."""

    ids: tuple[str, ...]
    has_next: bool
    total: int


# Every anchor names its unique index (USING INDEX SEEK): on a store sampled while empty the
# planner was seen to scan the whole Member(id) index instead of seeking the key, and a plan
# must not depend on the statistics (docs/model.md, "Query plans").

# agent_since: the earliest gift package still held at $now (paid, and not refunded by then);
# $now null is the database's clock, which spares the driver packing a datetime per read.
# Nodes reached by expansion carry no label, so the planner cannot seek them by an index
# (Order(paid_at) per member on a store sampled empty: docs/model.md, "Query plans").
MEMBERS = """
WITH coalesce($now, datetime()) AS now
UNWIND $ids AS id
MATCH (m:Member {id: id}) USING INDEX SEEK m:Member(id)
CALL (m, now) {
  OPTIONAL MATCH (m)-[:BOUGHT]->(o)
  WHERE o.kind = 'GIFT_PACKAGE' AND o.paid_at <= now
    AND (o.refunded_at IS NULL OR o.refunded_at > now)
  RETURN min(o.paid_at) AS agent_since
}
RETURN m.id AS id, m.name AS name, m.joined_at AS joined_at,
       coalesce(m.suspended, false) AS suspended,
       [(m)-[:SPONSORED_BY]->(s) | s.id][0] AS sponsor_id, agent_since
"""

# The members and their sponsors in one read, for a member shown with its sponsor.
MEMBERS_AND_SPONSORS = """
WITH coalesce($now, datetime()) AS now
UNWIND $ids AS id
MATCH (m:Member {id: id}) USING INDEX SEEK m:Member(id)
OPTIONAL MATCH (m)-[:SPONSORED_BY]->(s)
WITH now, collect(m) + collect(s) AS found
UNWIND found AS m
WITH DISTINCT m, now
CALL (m, now) {
  OPTIONAL MATCH (m)-[:BOUGHT]->(o)
  WHERE o.kind = 'GIFT_PACKAGE' AND o.paid_at <= now
    AND (o.refunded_at IS NULL OR o.refunded_at > now)
  RETURN min(o.paid_at) AS agent_since
}
RETURN m.id AS id, m.name AS name, m.joined_at AS joined_at,
       coalesce(m.suspended, false) AS suspended,
       [(m)-[:SPONSORED_BY]->(s) | s.id][0] AS sponsor_id, agent_since
"""

# Walking up is a straight line (one sponsor each), so this costs at most MAX_UPLINE hops.
UPLINES = """
UNWIND $ids AS id
MATCH (m:Member {id: id}) USING INDEX SEEK m:Member(id)
OPTIONAL MATCH p = (m)-[:SPONSORED_BY*1..100]->(u)
WHERE length(p) <= $max_depth
WITH id, u, length(p) AS depth ORDER BY depth
RETURN id, [x IN collect(u.id) WHERE x IS NOT NULL] AS upline
"""

RECRUITS = """
UNWIND $requests AS req
MATCH (s:Member {id: req.id}) USING INDEX SEEK s:Member(id)
CALL (s, req) {
  OPTIONAL MATCH (r)-[:SPONSORED_BY]->(s)
  WITH r ORDER BY r.id
  WITH collect(r.id) AS recruits
  RETURN size(recruits) AS total,
         [x IN recruits WHERE req.after IS NULL OR x > req.after] AS rest
}
RETURN req.id AS id, req.first AS first, req.after AS after, total,
       rest[0..req.first] AS ids, size(rest) > req.first AS has_next
"""

# Upward from each candidate: bounded by the tree's depth, never by the viewer's downline size.
# The viewer is sought once, before the candidates: a labelled {id} node inside the check was
# planned as a scan of the whole Member(id) index per candidate on a store sampled empty.
WITHIN_DOWNLINE = """
MATCH (a:Member {id: $ancestor_id}) USING INDEX SEEK a:Member(id)
UNWIND $ids AS id
MATCH (m:Member {id: id}) USING INDEX SEEK m:Member(id)
WHERE EXISTS { (m)-[:SPONSORED_BY*0..]->(a) }
RETURN m.id AS id
"""

PING = "RETURN 1 AS ok"


async def _read(
    driver: neo4j.AsyncDriver,
    query: str,
    params: dict[str, Any],
    convert: Callable[[list[dict[str, Any]]], T],
    *,
    timeout: float | None,
    database: str,
) -> T:
    async def run() -> list[dict[str, Any]]:
        async with driver.session(
            database=database, default_access_mode=neo4j.READ_ACCESS, fetch_size=-1
        ) as session:
            result = await session.run(neo4j.Query(query, timeout=timeout), params)
            return [record.data() async for record in result]

    try:
        rows = await run()
    except (ServiceUnavailable, SessionExpired):
        # Most likely a pooled connection that a restarted Neo4j dropped; the driver has
        # discarded it, so the second attempt opens a fresh one (or fails for real).
        rows = await run()
    return convert(rows)


def _member(row: dict[str, Any]) -> MemberRecord:
    since = row["agent_since"]
    return MemberRecord(
        id=row["id"],
        name=row["name"],
        joined_at=row["joined_at"].to_native(),
        sponsor_id=row["sponsor_id"],
        suspended=bool(row["suspended"]),
        agent_since=None if since is None else since.to_native(),
    )


async def members_by_ids(
    driver: neo4j.AsyncDriver,
    ids: Sequence[str],
    *,
    as_of: datetime | None = None,
    sponsors: bool = False,
    timeout: float | None = None,
    database: str = "neo4j",
) -> dict[str, MemberRecord]:
    """The members that exist among ``ids``, with agent status at ``as_of`` (default now); with
    ``sponsors``, their sponsors too (keyed by their own ids)."""
    return await _read(
        driver,
        MEMBERS_AND_SPONSORS if sponsors else MEMBERS,
        {"ids": list(dict.fromkeys(ids)), "now": as_of},
        lambda rows: {row["id"]: _member(row) for row in rows},
        timeout=timeout,
        database=database,
    )


async def uplines(
    driver: neo4j.AsyncDriver,
    ids: Sequence[str],
    *,
    max_depth: int = MAX_UPLINE,
    timeout: float | None = None,
    database: str = "neo4j",
) -> dict[str, tuple[str, ...]]:
    """Each existing member's sponsors, nearest first, at most ``max_depth`` of them."""
    if not 0 <= max_depth <= MAX_UPLINE:
        raise ValueError(f"max_depth must be within 0-{MAX_UPLINE}")
    return await _read(
        driver,
        UPLINES,
        {"ids": list(dict.fromkeys(ids)), "max_depth": max_depth},
        lambda rows: {row["id"]: tuple(row["upline"]) for row in rows},
        timeout=timeout,
        database=database,
    )


async def recruits_pages(
    driver: neo4j.AsyncDriver,
    requests: Sequence[tuple[str, int, str | None]],
    *,
    timeout: float | None = None,
    database: str = "neo4j",
) -> dict[tuple[str, int, str | None], RecruitsPage]:
    """Pages of direct recruits for (sponsor id, first, after id) requests, ordered by id."""
    params = [{"id": i, "first": first, "after": after} for i, first, after in requests]

    def convert(rows: list[dict[str, Any]]) -> dict[tuple[str, int, str | None], RecruitsPage]:
        return {
            (row["id"], row["first"], row["after"]): RecruitsPage(
                ids=tuple(row["ids"]), has_next=bool(row["has_next"]), total=int(row["total"])
            )
            for row in rows
        }

    return await _read(
        driver, RECRUITS, {"requests": params}, convert, timeout=timeout, database=database
    )


async def within_downline(
    driver: neo4j.AsyncDriver,
    ancestor_id: str,
    ids: Sequence[str],
    *,
    timeout: float | None = None,
    database: str = "neo4j",
) -> frozenset[str]:
    """Those of ``ids`` that are ``ancestor_id`` itself or in its downline."""
    return await _read(
        driver,
        WITHIN_DOWNLINE,
        {"ids": list(dict.fromkeys(ids)), "ancestor_id": ancestor_id},
        lambda rows: frozenset(row["id"] for row in rows),
        timeout=timeout,
        database=database,
    )


async def ping(driver: neo4j.AsyncDriver, *, timeout: float, database: str = "neo4j") -> bool:
    """True when Neo4j answers a trivial query; one attempt, no retries, so a probe is quick."""
    async with driver.session(database=database) as session:
        result = await session.run(neo4j.Query(PING, timeout=timeout))
        record = await result.single(strict=True)
    return bool(record["ok"] == 1)
