"""The five key-node metrics (domain.md) for any window, and rankings by each of them.

Every number comes from the rollups plus what changed since (graph/revenue.py). Rankings walk
members in the order of their all-time value, kept in an index by the refresh, which bounds
every window's value from above; they stop as soon as no member further down could still
enter the top. For an all-time ranking with nothing changed since the refresh the stored
values are the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import neo4j

from graph.revenue import Delta, Level, Window, _rows, read_delta, subtree_levels

PPM = 1_000_000


class Metric(StrEnum):
    GROUP_VOLUME = "GROUP_VOLUME"
    DOWNLINE_SIZE = "DOWNLINE_SIZE"
    RECRUITS = "RECRUITS"
    INFLUENCE = "INFLUENCE"
    AT_RISK = "AT_RISK"


@dataclass(frozen=True)
class MemberMetrics:
    member_id: str
    downline_size: int
    group_volume: int
    recruits: int
    influence: int
    at_risk_ppm: int

    def value(self, metric: Metric) -> int:
        return {
            Metric.GROUP_VOLUME: self.group_volume,
            Metric.DOWNLINE_SIZE: self.downline_size,
            Metric.RECRUITS: self.recruits,
            Metric.INFLUENCE: self.influence,
            Metric.AT_RISK: self.at_risk_ppm,
        }[metric]


# The stored all-time value that bounds each metric; at risk ranks as group volume does.
STORED = {
    Metric.GROUP_VOLUME: "all_gv",
    Metric.DOWNLINE_SIZE: "all_size",
    Metric.RECRUITS: "all_recruits",
    Metric.INFLUENCE: "all_infl",
    Metric.AT_RISK: "all_gv",
}

WALK = {
    prop: f"""
MATCH (m:Member) WHERE m.{prop} IS NOT NULL
RETURN m.id AS id, m.{prop} AS v, m.all_gv AS gv, m.all_size AS size,
       m.all_recruits AS recruits, m.all_infl AS infl
ORDER BY m.{prop} DESC SKIP $skip LIMIT $limit
"""
    for prop in set(STORED.values())
}

TIES = {
    prop: f"""
MATCH (m:Member) WHERE m.{prop} = $v
RETURN m.id AS id, m.{prop} AS v, m.all_gv AS gv, m.all_size AS size,
       m.all_recruits AS recruits, m.all_infl AS infl
"""
    for prop in set(STORED.values())
}

SMALLEST_IDS = "MATCH (m:Member) WHERE m.id IS NOT NULL RETURN m.id AS id ORDER BY m.id LIMIT $n"

PLATFORM_EDGES = """
UNWIND $edges AS e
MATCH (o:Order) WHERE o.paid_at >= e[0] AND o.paid_at < e[1] AND o.refunded_at IS NULL
RETURN sum(o.amount) AS gv
"""

PLATFORM_EXACT = """
MATCH (o:Order)
WHERE o.refunded_at IS NULL AND ($start IS NULL OR o.paid_at >= $start)
  AND ($end IS NULL OR o.paid_at < $end)
RETURN sum(o.amount) AS gv
"""


def influence(levels: dict[int, Level]) -> int:
    """Σ gv_k / 2^k, rounded down once at the end, in exact integers."""
    if not levels:
        return 0
    top = max(levels)
    return sum(level.gv << (top - k) for k, level in levels.items()) >> top


def metrics_of(member_id: str, levels: dict[int, Level], platform: int) -> MemberMetrics:
    gv = sum(level.gv for level in levels.values())
    return MemberMetrics(
        member_id=member_id,
        downline_size=sum(level.joined for k, level in levels.items() if k > 0),
        group_volume=gv,
        recruits=levels[1].joined_in if 1 in levels else 0,
        influence=influence(levels),
        at_risk_ppm=gv * PPM // platform if platform > 0 else 0,
    )


async def platform_volume(
    tx: neo4j.AsyncManagedTransaction, start: datetime | None, end: datetime | None, delta: Delta
) -> int:
    """The whole platform's group volume in the window: the denominator of at risk."""
    if delta.stale:
        rows = await _rows(tx, PLATFORM_EXACT, start=start, end=end)
        return int(rows[0]["gv"] or 0)
    w = Window(start, end, delta.day0, delta.days)
    total = delta.platform_gv[w.b] - delta.platform_gv[w.a]
    if w.edges():
        rows = await _rows(tx, PLATFORM_EDGES, edges=w.edges())
        total += int(rows[0]["gv"] or 0)
    total += sum(o.amount for o in delta.new_orders if not o.refunded and w.in_full_days(o.paid_at))
    total -= sum(o.amount for o in delta.refunds if w.in_full_days(o.paid_at))
    total += sum(a for m in delta.new_members for a, paid in m.orders if w.in_full_days(paid))
    return total


async def _metrics(
    tx: neo4j.AsyncManagedTransaction,
    member_ids: Sequence[str],
    start: datetime | None,
    end: datetime | None,
    delta: Delta,
    platform: int,
) -> dict[str, MemberMetrics]:
    levels = await subtree_levels(tx, member_ids, start, end, None, delta)
    return {member_id: metrics_of(member_id, lv, platform) for member_id, lv in levels.items()}


async def member_metrics(
    driver: neo4j.AsyncDriver,
    *,
    member_ids: Sequence[str],
    start: datetime | None,
    end: datetime | None,
    database: str = "neo4j",
    timeout: float | None = None,
) -> dict[str, MemberMetrics]:
    """Metrics of the given members in [start, end); unknown ids are left out."""

    @neo4j.unit_of_work(timeout=timeout)
    async def work(tx: neo4j.AsyncManagedTransaction) -> dict[str, MemberMetrics]:
        delta = await read_delta(tx)
        platform = await platform_volume(tx, start, end, delta)
        return await _metrics(tx, member_ids, start, end, delta, platform)

    async with driver.session(database=database) as session:
        return await session.execute_read(work)


def _stored(row: Any, platform: int) -> MemberMetrics:
    return MemberMetrics(
        member_id=row["id"],
        downline_size=row["size"],
        group_volume=row["gv"],
        recruits=row["recruits"],
        influence=row["infl"],
        at_risk_ppm=row["gv"] * PPM // platform if platform > 0 else 0,
    )


def _slack(metric: Metric, delta: Delta) -> int:
    """How far any member's value can have risen above its stored all-time value."""
    if metric in (Metric.GROUP_VOLUME, Metric.INFLUENCE, Metric.AT_RISK):
        return delta.slack_gv
    if metric is Metric.DOWNLINE_SIZE:
        return len(delta.new_members) + delta.moved_size
    return len(delta.new_members) + len(delta.moved)


def _rank(rows: Sequence[MemberMetrics], metric: Metric, limit: int) -> list[MemberMetrics]:
    return sorted(rows, key=lambda m: (-m.value(metric), m.member_id))[:limit]


async def top_members(
    driver: neo4j.AsyncDriver,
    *,
    metric: Metric,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    database: str = "neo4j",
    timeout: float | None = None,
) -> list[MemberMetrics]:
    """The ``limit`` members with the highest value of ``metric``, ties by member id."""
    if limit <= 0:
        return []
    prop = STORED[metric]

    @neo4j.unit_of_work(timeout=timeout)
    async def work(tx: neo4j.AsyncManagedTransaction) -> list[MemberMetrics]:
        delta = await read_delta(tx)
        platform = await platform_volume(tx, start, end, delta)
        if start is None and end is None and not delta.changed:
            rows = await _rows(tx, WALK[prop], skip=0, limit=limit)
            if rows:
                rows += await _rows(tx, TIES[prop], v=rows[-1]["v"])
            unique = {r["id"]: _stored(r, platform) for r in rows}
            return _rank(list(unique.values()), metric, limit)
        return await _threshold(tx, metric, start, end, limit, delta, platform)

    async with driver.session(database=database) as session:
        return await session.execute_read(work)


async def _threshold(
    tx: neo4j.AsyncManagedTransaction,
    metric: Metric,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    delta: Delta,
    platform: int,
) -> list[MemberMetrics]:
    """Exact values for members in descending stored order until none further can rank."""
    prop = STORED[metric]
    slack = _slack(metric, delta)
    seen: dict[str, MemberMetrics] = {}
    if delta.new_members:
        seen.update(
            await _metrics(tx, [m.id for m in delta.new_members], start, end, delta, platform)
        )
    skip = 0
    batch = max(limit, 20)
    while True:
        rows = await _rows(tx, WALK[prop], skip=skip, limit=batch)
        skip += len(rows)
        fresh = [r["id"] for r in rows if r["id"] not in seen]
        seen.update(await _metrics(tx, fresh, start, end, delta, platform))
        if len(rows) < batch:
            break
        bound = rows[-1]["v"] + slack
        if metric is Metric.AT_RISK:
            bound = bound * PPM // platform if platform > 0 else 0
        if delta.stale:
            continue
        best = _rank(list(seen.values()), metric, limit)
        if len(best) == limit and best[-1].value(metric) > bound:
            break
        if bound == 0:
            # Everyone further down has the value 0, so among them the smallest ids rank first.
            smallest = await _rows(tx, SMALLEST_IDS, n=limit + len(seen))
            more = [r["id"] for r in smallest if r["id"] not in seen][:limit]
            seen.update(await _metrics(tx, more, start, end, delta, platform))
            break
    return _rank(list(seen.values()), metric, limit)
