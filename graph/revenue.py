"""Subtree revenue from the rollups, without walking the subtree (docs/model.md, "Rollups").

The level sums come from graph/levels.py, what changed since the refresh from graph/delta.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import neo4j

from graph.delta import RollupCache, current_delta
from graph.levels import subtree_levels


@dataclass(frozen=True)
class DepthRevenue:
    depth: int
    group_volume: int
    order_count: int
    member_count: int


@dataclass(frozen=True)
class SubtreeRevenue:
    member_id: str
    group_volume: int
    order_count: int
    member_count: int
    by_depth: tuple[DepthRevenue, ...]


async def subtree_revenue(
    driver: neo4j.AsyncDriver,
    *,
    member_id: str,
    start: datetime | None,
    end: datetime | None,
    max_depth: int | None,
    database: str = "neo4j",
    timeout: float | None = None,
    cache: RollupCache | None = None,
) -> SubtreeRevenue | None:
    """Group volume, orders and members of a member's subtree in [start, end), per depth."""

    @neo4j.unit_of_work(timeout=timeout)
    async def work(tx: neo4j.AsyncManagedTransaction) -> SubtreeRevenue | None:
        delta = await current_delta(tx, cache)
        levels = await subtree_levels(tx, [member_id], start, end, max_depth, delta, cache)
        if member_id not in levels:
            return None
        by_depth = tuple(
            DepthRevenue(k, v.gv, v.n, v.joined)
            for k, v in sorted(levels[member_id].items())
            if v.joined > 0
        )
        return SubtreeRevenue(
            member_id=member_id,
            group_volume=sum(d.group_volume for d in by_depth),
            order_count=sum(d.order_count for d in by_depth),
            member_count=sum(d.member_count for d in by_depth),
            by_depth=by_depth,
        )

    async with driver.session(database=database) as session:
        return await session.execute_read(work)
