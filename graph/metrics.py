"""The five key-node metrics (domain.md) for any window, and rankings by each of them.

Every number comes from the rollups plus what changed since (graph/revenue.py). A ranking over
a window is computed from the refresh's candidates (each month's top members by each metric)
when the months' bound on everyone else proves it (``top_from_series``); otherwise it walks
members in the order of their all-time value, kept in an index by the refresh, which bounds
every window's value from above, and stops as soon as no member further down could still
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
import numpy as np

from graph.revenue import Delta, EdgeRows, Level, Window, _rows, read_delta, subtree_levels

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

# Every ranking candidate of a refresh (graph/rollups.py), read once per version and process.
SERIES = """
MATCH (r:RankSeries {version: $version})
RETURN r.id AS id, r.pre AS pre, r.last AS last, r.depth AS depth, r.height AS height,
       r.metrics AS metrics, r.gv AS gv, r.size AS size, r.rec AS rec, r.infl AS infl
"""

# Which stored month bounds bound each metric; at risk ranks as group volume does.
BOUND = {
    Metric.GROUP_VOLUME: "gv",
    Metric.DOWNLINE_SIZE: "size",
    Metric.RECRUITS: "rec",
    Metric.INFLUENCE: "infl",
    Metric.AT_RISK: "gv",
}

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
        total += int((await EdgeRows.read(tx, w, delta)).orders.amount.sum())
    # Whole and partial days hold orders as the refresh saw them; the rest is the delta's.
    total += sum(o.amount for o in delta.new_orders if not o.refunded and w.contains(o.paid_at))
    total -= sum(o.amount for o in delta.refunds if w.contains(o.paid_at))
    total += sum(a for m in delta.new_members for a, paid in m.orders if w.contains(paid))
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
        fast = await top_from_series(tx, metric, start, end, limit, delta, platform)
        if fast is not None:
            return fast
        return await _threshold(tx, metric, start, end, limit, delta, platform)

    async with driver.session(database=database) as session:
        return await session.execute_read(work)


@dataclass(frozen=True)
class Candidates:
    """One refresh's ranking candidates: per member, prefix sums over day buckets.

    Immutable for its rollup version, so each process keeps the current version's set in
    memory (``_CACHE``): a ranking is then arithmetic on a few hundred rows, not a read of as
    many array properties.
    """

    version: str
    ids: tuple[str, ...]
    pre: np.ndarray
    last: np.ndarray
    depth: np.ndarray
    height: np.ndarray
    gv: np.ndarray  # (candidates, days + 1)
    size: np.ndarray
    rec: np.ndarray
    infl: tuple[tuple[int, ...], ...]  # Σ_k volume_k · 2^(height − k), prefix over days
    of: dict[str, np.ndarray]  # metric -> indexes of its candidates


_CACHE: dict[str, Candidates] = {}


async def candidates(tx: neo4j.AsyncManagedTransaction, version: str) -> Candidates:
    found = _CACHE.get(version)
    if found is not None:
        return found
    rows = await _rows(tx, SERIES, version=version)

    def column(key: str) -> np.ndarray:
        return np.asarray([r[key] for r in rows], dtype=np.int64)

    def series(key: str) -> np.ndarray:
        return np.asarray([r[key] for r in rows], dtype=np.int64).reshape(len(rows), -1)

    of: dict[str, list[int]] = {m.value: [] for m in Metric}
    for i, r in enumerate(rows):
        for m in r["metrics"]:
            of[m].append(i)
    found = Candidates(
        version=version,
        ids=tuple(r["id"] for r in rows),
        pre=column("pre"),
        last=column("last"),
        depth=column("depth"),
        height=column("height"),
        gv=series("gv"),
        size=series("size"),
        rec=series("rec"),
        infl=tuple(tuple(int(x) for x in r["infl"]) for r in rows),
        of={m: np.asarray(idx, dtype=np.int64) for m, idx in of.items()},
    )
    _CACHE.clear()  # one version at a time: the previous refresh's set is never read again
    _CACHE[version] = found
    return found


@dataclass(frozen=True)
class _Changes:
    """What the stored day buckets miss in the window, as rows placed in the tree.

    Orders: (pre, depth, signed amount) of orders in partial days, orders and refunds since the
    refresh, and new members' orders (placed at their nearest rolled-up upline's pre and their
    own depth). Joins: (pre, depth, joined before the end, joined in the window).
    """

    order_pre: np.ndarray
    order_depth: np.ndarray
    order_amount: np.ndarray
    join_pre: np.ndarray
    join_depth: np.ndarray
    join_before_end: np.ndarray
    join_in: np.ndarray

    @classmethod
    async def read(cls, tx: neo4j.AsyncManagedTransaction, w: Window, delta: Delta) -> _Changes:
        orders = [
            (o.pre, o.depth, o.amount)
            for o in delta.new_orders
            if not o.refunded and w.contains(o.paid_at)
        ]
        orders += [(o.pre, o.depth, -o.amount) for o in delta.refunds if w.contains(o.paid_at)]
        joins: list[tuple[int, int, bool, bool]] = []
        for m in delta.new_members:
            if m.anchor is None:
                continue
            place = (m.anchor.pre, m.anchor.depth + m.below_anchor)
            joins.append((*place, w.end is None or m.joined_at < w.end, w.contains(m.joined_at)))
            orders += [(*place, amount) for amount, paid in m.orders if w.contains(paid)]
        o = np.asarray(orders, dtype=np.int64).reshape(-1, 3)
        j = np.asarray(joins, dtype=np.int64).reshape(-1, 4)
        if w.edges() or w.join_edge():
            # The partial days come from the process's day cache, already as arrays.
            e = await EdgeRows.read(tx, w, delta)
            o = np.concatenate([o, np.stack([e.orders.pre, e.orders.depth, e.orders.amount], 1)])
            j = np.concatenate(
                [
                    j,
                    np.stack([e.joined.pre, e.joined.depth, e.joined.amount, 0 * e.joined.pre], 1),
                    np.stack(
                        [
                            e.joined_in.pre,
                            e.joined_in.depth,
                            0 * e.joined_in.pre,
                            e.joined_in.amount,
                        ],
                        1,
                    ),
                ]
            )
        o = o[np.lexsort((o[:, 2], o[:, 1], o[:, 0]))]
        j = j[np.lexsort((j[:, 3], j[:, 2], j[:, 1], j[:, 0]))]
        return cls(o[:, 0], o[:, 1], o[:, 2], j[:, 0], j[:, 1], j[:, 2] > 0, j[:, 3] > 0)

    def volume(self, c: Candidates, idx: np.ndarray) -> np.ndarray:
        """Added group volume per candidate: rows are sorted by pre, so a subtree is a range."""
        cum = np.concatenate([[0], np.cumsum(self.order_amount)])
        lo = np.searchsorted(self.order_pre, c.pre[idx], "left")
        hi = np.searchsorted(self.order_pre, c.last[idx], "right")
        added: np.ndarray = cum[hi] - cum[lo]
        return added

    def joined(self, c: Candidates, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Added (downline size, recruits) per candidate."""
        inside = (self.join_pre[None, :] >= c.pre[idx, None]) & (
            self.join_pre[None, :] <= c.last[idx, None]
        )
        below = self.join_depth[None, :] - c.depth[idx, None]
        size = (inside & (below > 0) & self.join_before_end[None, :]).sum(axis=1)
        recruits = (inside & (below == 1) & self.join_in[None, :]).sum(axis=1)
        return size, recruits

    def influence(self, c: Candidates, i: int, a: int, b: int) -> int:
        """A candidate's exact influence: stored Σ volume_k · 2^(height − k) plus these rows."""
        scale = int(c.height[i])
        scaled = c.infl[i][b] - c.infl[i][a]
        lo = int(np.searchsorted(self.order_pre, c.pre[i], "left"))
        hi = int(np.searchsorted(self.order_pre, c.last[i], "right"))
        depths = (self.order_depth[lo:hi] - c.depth[i]).tolist()
        for k, amount in zip(depths, self.order_amount[lo:hi].tolist(), strict=True):
            if k > scale:
                scaled <<= k - scale
                scale = k
            scaled += amount << (scale - k)
        return scaled >> scale


def _outside_bound(metric: Metric, w: Window, delta: Delta, platform: int) -> int | None:
    """The most any non-candidate can reach in the window; -1 when there is no one else.

    None when the refresh stored no bounds (rollups from before rankings kept them).
    """
    bounds = delta.rank_bounds.get(BOUND[metric])
    months = delta.rank_months
    if bounds is None or len(months) != len(bounds) + 1:
        return None
    a, b = w.a, w.b
    if any(v < 0 for v in bounds):
        base = -1
    elif metric is Metric.DOWNLINE_SIZE:
        # Downline size counts everyone joined before the end: the end's month bounds it.
        base = 0 if b == 0 else next(bounds[j] for j in range(len(bounds)) if months[j + 1] >= b)
    else:
        base = sum(bounds[j] for j in range(len(bounds)) if months[j] < b and months[j + 1] > a)
    if delta.new_members:
        base = max(base, 0)
    if base < 0:
        return -1
    total = base + _slack(metric, delta)
    if metric is Metric.AT_RISK:
        return total * PPM // platform if platform > 0 else 0
    return total


async def top_from_series(
    tx: neo4j.AsyncManagedTransaction,
    metric: Metric,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    delta: Delta,
    platform: int,
) -> list[MemberMetrics] | None:
    """The ranking from the stored candidates when the bound proves it, else None.

    Needs no transfer since the refresh; partial days come from the process's day cache.
    """
    if delta.stale or delta.moved or not delta.version:
        return None
    w = Window(start, end, delta.day0, delta.days)
    bound = _outside_bound(metric, w, delta, platform)
    if bound is None:
        return None
    c = await candidates(tx, delta.version)
    changes = await _Changes.read(tx, w, delta)
    a, b = w.a, w.b
    mine = c.of[metric.value]
    gv = c.gv[mine, b] - c.gv[mine, a] + changes.volume(c, mine)
    size, recruits = c.size[mine, b], c.rec[mine, b] - c.rec[mine, a]
    if len(changes.join_pre):
        more_size, more_recruits = changes.joined(c, mine)
        size, recruits = size + more_size, recruits + more_recruits
    ids = [c.ids[i] for i in mine]
    if metric is Metric.INFLUENCE:
        value = [changes.influence(c, int(i), a, b) for i in mine]
    else:
        value = {
            Metric.GROUP_VOLUME: gv,
            Metric.AT_RISK: gv * PPM // platform if platform > 0 else gv * 0,
            Metric.DOWNLINE_SIZE: size,
            Metric.RECRUITS: recruits,
        }[metric].tolist()
    order = sorted(range(len(mine)), key=lambda j: (-value[j], ids[j]))
    best = [
        MemberMetrics(
            member_id=ids[j],
            downline_size=int(size[j]),
            group_volume=int(gv[j]),
            recruits=int(recruits[j]),
            influence=changes.influence(c, int(mine[j]), a, b),
            at_risk_ppm=int(gv[j]) * PPM // platform if platform > 0 else 0,
        )
        for j in order[:limit]
    ]
    if bound < 0 or (len(best) == limit and best[-1].value(metric) > bound):
        return best
    return None


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
