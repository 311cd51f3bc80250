"""The naive way beside the product's: subtree revenue by walking the subtree at query time.

This is the baseline every benchmark table compares the rollups against (``EXACT`` is the
product's own fallback for a store whose changes the watermarks cannot account for).
"""

from __future__ import annotations

from datetime import datetime

import neo4j

from graph.levels import exact_levels
from graph.revenue import DepthRevenue, SubtreeRevenue


async def naive_subtree_revenue(
    driver: neo4j.AsyncDriver,
    *,
    member_id: str,
    start: datetime | None,
    end: datetime | None,
    max_depth: int | None,
    database: str = "neo4j",
    timeout: float | None = None,
) -> SubtreeRevenue | None:
    """The same answer as ``graph.revenue.subtree_revenue``, from the live graph."""

    @neo4j.unit_of_work(timeout=timeout)
    async def work(tx: neo4j.AsyncManagedTransaction) -> SubtreeRevenue | None:
        levels = await exact_levels(tx, member_id, start, end, max_depth)
        if not levels:
            return None
        by_depth = tuple(
            DepthRevenue(k, v.gv, v.n, v.joined) for k, v in sorted(levels.items()) if v.joined
        )
        return SubtreeRevenue(
            member_id,
            sum(d.group_volume for d in by_depth),
            sum(d.order_count for d in by_depth),
            sum(d.member_count for d in by_depth),
            by_depth,
        )

    async with driver.session(database=database) as session:
        return await session.execute_read(work)
