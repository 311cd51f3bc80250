"""The platform's growth per day, week or month: members joined, new agents, orders, volume.

Buckets are calendar periods in China Standard Time (UTC+08:00), as everywhere in the growth
signals; a week starts on Monday. Every bucket the window touches is returned, zeros included,
so a chart has no gaps. The figures are read live from the indexes, never from the rollups, so
a write is in the very next answer:
- members joined: ``joined_at`` in the bucket;
- agents: members whose first held gift package (graph/growth.py, ``PLATFORM_AGENTS``) was
  paid in the bucket;
- orders and volume: orders paid in the bucket and not refunded, as the rollups count them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

import neo4j

from graph.errors import BadInput
from graph.growth import PLATFORM_AGENTS, add_months, local_date, month_start, week_start

MAX_BUCKETS = 400


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class GrowthBucket:
    start: date
    """The first day (UTC+08:00) of the bucket."""
    members_joined: int
    agents: int
    orders: int
    volume: int
    """Fen."""


@dataclass(frozen=True)
class PlatformGrowth:
    granularity: Granularity
    buckets: tuple[GrowthBucket, ...]


# Each count is a range seek of its index, named so the plan does not depend on the statistics
# (docs/model.md, "Query plans"), grouped by the bucket in the database: a few rows cross the
# wire, not one per member or order.
_BUCKET = "date.truncate($unit, datetime({datetime: %s, timezone: '+08:00'}))"

JOINED = f"""
MATCH (m:Member) USING INDEX SEEK m:Member(joined_at)
WHERE m.joined_at >= $start AND m.joined_at < $end
RETURN {_BUCKET % "m.joined_at"} AS bucket, count(*) AS n
"""

ORDERS = f"""
MATCH (o:Order) USING INDEX SEEK o:Order(paid_at)
WHERE o.paid_at >= $start AND o.paid_at < $end AND o.refunded_at IS NULL
RETURN {_BUCKET % "o.paid_at"} AS bucket, count(*) AS n, sum(o.amount) AS volume
"""

AGENTS = (
    PLATFORM_AGENTS
    + f"""
WITH m, min(g.paid_at) AS since
WHERE since >= $start AND since < $end
RETURN {_BUCKET % "since"} AS bucket, count(*) AS n
"""
)


def bucket_of(day: date, granularity: Granularity) -> date:
    if granularity is Granularity.WEEK:
        return week_start(day)
    if granularity is Granularity.MONTH:
        return month_start(day)
    return day


def next_bucket(start: date, granularity: Granularity) -> date:
    if granularity is Granularity.WEEK:
        return start + timedelta(days=7)
    if granularity is Granularity.MONTH:
        return add_months(start, 1)
    return start + timedelta(days=1)


def buckets(start: datetime, end: datetime, granularity: Granularity) -> list[date]:
    """Every bucket [start, end) touches; the first and last may be cut by the window."""
    if end <= start:
        return []
    first = bucket_of(local_date(start), granularity)
    last = bucket_of(local_date(end - timedelta(microseconds=1)), granularity)
    out = []
    at = first
    while at <= last:
        out.append(at)
        at = next_bucket(at, granularity)
    return out


async def platform_growth(
    driver: neo4j.AsyncDriver,
    *,
    start: datetime,
    end: datetime,
    granularity: Granularity,
    database: str = "neo4j",
    timeout: float | None = None,
) -> PlatformGrowth:
    """The window's buckets; a window of more than ``MAX_BUCKETS`` buckets is refused."""
    wanted = buckets(start, end, granularity)
    if len(wanted) > MAX_BUCKETS:
        raise BadInput(
            f"from-to spans {len(wanted)} {granularity.value}s; at most {MAX_BUCKETS} at a time"
        )
    params = {"start": start, "end": end, "unit": granularity.value}

    @neo4j.unit_of_work(timeout=timeout)
    async def work(tx: neo4j.AsyncManagedTransaction) -> dict[str, dict[date, Any]]:
        found: dict[str, dict[date, Any]] = {}
        for name, query in (("joined", JOINED), ("orders", ORDERS), ("agents", AGENTS)):
            result = await tx.run(query, params)
            found[name] = {r["bucket"].to_native(): r async for r in result}
        return found

    async with driver.session(database=database) as session:
        found = await session.execute_read(work)
    return PlatformGrowth(
        granularity=granularity,
        buckets=tuple(
            GrowthBucket(
                start=b,
                members_joined=found["joined"][b]["n"] if b in found["joined"] else 0,
                agents=found["agents"][b]["n"] if b in found["agents"] else 0,
                orders=found["orders"][b]["n"] if b in found["orders"] else 0,
                volume=found["orders"][b]["volume"] if b in found["orders"] else 0,
            )
            for b in wanted
        ),
    )
