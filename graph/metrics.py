"""The five key-node metrics (domain.md) for any window, and rankings by each of them.

Every number comes from the rollups (graph/levels.py) plus what changed since (graph/delta.py).
A ranking over a window is computed from the refresh's candidates (each month's top members by
each metric) when the months' bound on everyone else proves it (``top_from_series``); otherwise
it walks members in the order of their all-time value, kept in an index by the refresh, which
bounds every window's value from above, and stops as soon as no member further down could still
enter the top. For an all-time ranking with nothing changed since the refresh the stored
values are the answer.

What changed since the refresh never widens the search (``_Rises``): it is placed in the
refresh's numbering, so every member whose range holds none of it and who is on none of the
current chains above new orders, new members and transfers keeps its stored values exactly.
Only the members on those chains (the risers, at most the tree's depth per change) can have
gained; each gets an upper bound (its stored value plus what it can have gained) and is
computed exactly only while that bound still reaches the top. All-time values of changed
members come from stored values alone (a transferred branch at its stored values, added or
taken out); window values from the level sums.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import neo4j
import numpy as np

from graph.db import records
from graph.delta import Delta, Moved, RollupCache, current_delta
from graph.levels import EdgeRows, Level, SubtreeReader, subtree_levels
from graph.window import Window

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

    def rank_value(self, metric: Metric) -> int:
        """What a ranking orders by: the value, except that at risk ranks by its exact share
        (the group volume), not by the rounded ppm, so that equal ppm never reorders it."""
        return self.group_volume if metric is Metric.AT_RISK else self.value(metric)


# The stored all-time value that bounds each metric; at risk ranks as group volume does.
STORED = {
    Metric.GROUP_VOLUME: "all_gv",
    Metric.DOWNLINE_SIZE: "all_size",
    Metric.RECRUITS: "all_recruits",
    Metric.INFLUENCE: "all_infl",
    Metric.AT_RISK: "all_gv",
}

# What a ranking reads of a member: its number, its stored all-time values and the exact
# influence behind ``all_infl`` (graph/rollups.py).
ROW = """m.id AS id, m.pre AS pre, m.last AS last, m.depth AS depth, m.height AS height,
       m.all_gv AS gv, m.all_size AS size, m.all_recruits AS recruits, m.all_infl AS infl,
       m.infl_num AS infl_num"""

# Each stored value's own index, named: the walk reads it in order (no sort) and stops early.
WALK = {
    prop: f"""
MATCH (m:Member) USING INDEX m:Member({prop}) WHERE m.{prop} IS NOT NULL
RETURN {ROW}, m.{prop} AS v
ORDER BY m.{prop} DESC SKIP $skip LIMIT $limit
"""
    for prop in set(STORED.values())
}

TIES = {
    prop: f"""
MATCH (m:Member) USING INDEX SEEK m:Member({prop}) WHERE m.{prop} = $v
RETURN {ROW}, m.{prop} AS v
"""
    for prop in set(STORED.values())
}

SMALLEST_IDS = f"""
MATCH (m:Member) USING INDEX m:Member(id) WHERE m.id IS NOT NULL
RETURN {ROW} ORDER BY m.id LIMIT $n
"""

# The members whose values can have risen since the refresh: the current chains above new
# orders' buyers, new members and transferred members (each at most the tree's depth), walked
# up from each by its key; nothing else can have gained.
RISERS = f"""
UNWIND $ids AS id
MATCH (b:Member {{id: id}}) USING INDEX SEEK b:Member(id)
MATCH (b)-[:SPONSORED_BY*0..]->(m)
WITH DISTINCT m
RETURN {ROW}
"""

# Every ranking candidate of a refresh (graph/rollups.py), read once per version and process.
SERIES = """
MATCH (r:RankSeries) USING INDEX SEEK r:RankSeries(version) WHERE r.version = $version
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

# The window's orders by their paid_at index; an open end is passed as the earliest or latest
# instant Neo4j holds, so the seek has two ends whatever the window.
PLATFORM_EXACT = """
MATCH (o:Order) USING INDEX SEEK o:Order(paid_at)
WHERE o.paid_at >= $start AND o.paid_at < $end AND o.refunded_at IS NULL
RETURN sum(o.amount) AS gv
"""
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)


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
    tx: neo4j.AsyncManagedTransaction,
    start: datetime | None,
    end: datetime | None,
    delta: Delta,
    cache: RollupCache | None = None,
) -> int:
    """The whole platform's group volume in the window: the denominator of at risk."""
    if delta.stale:
        bounds = {"start": start or EARLIEST, "end": end or LATEST}
        rows = await records(tx, PLATFORM_EXACT, **bounds)
        return int(rows[0]["gv"] or 0)
    w = Window(start, end, delta.day0, delta.days)
    total = delta.platform_gv[w.b] - delta.platform_gv[w.a]
    if w.edges():
        total += int((await EdgeRows.read(tx, w, delta, cache)).orders.amount.sum())
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
    cache: RollupCache | None = None,
) -> dict[str, MemberMetrics]:
    levels = await subtree_levels(tx, member_ids, start, end, None, delta, cache)
    return {member_id: metrics_of(member_id, lv, platform) for member_id, lv in levels.items()}


async def member_metrics(
    driver: neo4j.AsyncDriver,
    *,
    member_ids: Sequence[str],
    start: datetime | None,
    end: datetime | None,
    database: str = "neo4j",
    timeout: float | None = None,
    cache: RollupCache | None = None,
) -> dict[str, MemberMetrics]:
    """Metrics of the given members in [start, end); unknown ids are left out."""

    @neo4j.unit_of_work(timeout=timeout)
    async def work(tx: neo4j.AsyncManagedTransaction) -> dict[str, MemberMetrics]:
        delta = await current_delta(tx, cache)
        platform = await platform_volume(tx, start, end, delta, cache)
        return await _metrics(tx, member_ids, start, end, delta, platform, cache)

    async with driver.session(database=database) as session:
        return await session.execute_read(work)


def ppm(gv: int, platform: int) -> int:
    return gv * PPM // platform if platform > 0 else 0


@dataclass(frozen=True)
class Stored:
    """A member's number and all-time values as the last refresh stored them (a member who
    joined since has no number and zeros)."""

    id: str
    pre: int | None
    last: int | None
    depth: int | None
    height: int
    gv: int
    size: int
    recruits: int
    infl: int
    infl_num: int | None  # exact influence · 2^height

    @classmethod
    def of(cls, r: Any) -> Stored:
        num = r["infl_num"]
        return cls(
            id=r["id"],
            pre=r["pre"],
            last=r["last"],
            depth=r["depth"],
            height=r["height"] or 0,
            gv=r["gv"] or 0,
            size=r["size"] or 0,
            recruits=r["recruits"] or 0,
            infl=r["infl"] or 0,
            infl_num=None if num is None else int(num),
        )

    def metrics(self, platform: int) -> MemberMetrics:
        return MemberMetrics(
            self.id, self.size, self.gv, self.recruits, self.infl, ppm(self.gv, platform)
        )


def _stored(row: Any, platform: int) -> MemberMetrics:
    return Stored.of(row).metrics(platform)


def _rank(rows: Iterable[MemberMetrics], metric: Metric, limit: int) -> list[MemberMetrics]:
    return sorted(rows, key=lambda m: (-m.rank_value(metric), m.member_id))[:limit]


def _floor(terms: Iterable[tuple[int, int]]) -> int:
    """⌊Σ n / 2^e⌋ over (n, e), in exact integers."""
    terms = list(terms)
    if not terms:
        return 0
    top = max(e for _, e in terms)
    return sum(n << (top - e) for n, e in terms) >> top


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
    async def read(
        cls,
        tx: neo4j.AsyncManagedTransaction,
        w: Window,
        delta: Delta,
        cache: RollupCache | None = None,
    ) -> _Changes:
        edges = await EdgeRows.read(tx, w, delta, cache) if w.edges() or w.join_edge() else None
        return cls.of(w, delta, edges)

    @classmethod
    def of(cls, w: Window, delta: Delta, e: EdgeRows | None) -> _Changes:
        """The changes since the refresh, and with ``e`` the partial days as it saw them."""
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
        if e is not None:
            # The partial days come from the process's day cache, already as arrays.
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

    def orders_in(self, pre: int, last: int) -> tuple[list[int], list[int]]:
        """(depth, signed amount) of the orders placed in a pre-order range."""
        lo = int(np.searchsorted(self.order_pre, pre, "left"))
        hi = int(np.searchsorted(self.order_pre, last, "right"))
        return self.order_depth[lo:hi].tolist(), self.order_amount[lo:hi].tolist()

    def joins_in(self, pre: int, last: int) -> slice:
        lo = int(np.searchsorted(self.join_pre, pre, "left"))
        hi = int(np.searchsorted(self.join_pre, last, "right"))
        return slice(lo, hi)

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

    def influence(self, c: Candidates, i: int, a: int, b: int) -> list[tuple[int, int]]:
        """A candidate's exact influence as terms for ``_floor``: the stored
        Σ volume_k · 2^(height − k) over 2^height, plus these rows."""
        depths, amounts = self.orders_in(int(c.pre[i]), int(c.last[i]))
        terms = [(c.infl[i][b] - c.infl[i][a], int(c.height[i]))]
        return terms + [(x, k - int(c.depth[i])) for k, x in zip(depths, amounts, strict=True)]


class _Rises:
    """Which members' values can differ from the refresh's, and by how much at most.

    Everything since the refresh is placed in the refresh's numbering: a member whose
    pre-order range holds none of it and who is on none of the current chains above new orders,
    new members and transfers has exactly its stored values, in every window. Members on those
    chains (``risers``) are the only ones that can have gained; members whose range holds a
    change (a refund, a branch transferred away) can only have lost.
    """

    def __init__(self, delta: Delta, risers: dict[str, Stored]) -> None:
        self.delta = delta
        self.risers = risers
        self.moved = {m.id: m for m in delta.moved}
        points = [m.pre for m in delta.moved if m.pre is not None]
        points += [o.pre for o in delta.new_orders] + [o.pre for o in delta.refunds]
        points += [m.anchor.pre for m in delta.new_members if m.anchor is not None]
        self.points = np.sort(np.asarray(points, dtype=np.int64))
        self._all_time: _Changes | None = None

    @classmethod
    async def read(
        cls, tx: neo4j.AsyncManagedTransaction, delta: Delta, cache: RollupCache | None = None
    ) -> _Rises:
        """The risers of ``delta``, kept with it in ``cache`` (they change only with it)."""
        if cache is not None and cache.delta is delta and "rises" in cache.derived:
            found: _Rises = cache.derived["rises"]
            return found
        rises = await cls._read(tx, delta)
        if cache is not None and cache.delta is delta:
            cache.derived["rises"] = rises
        return rises

    @classmethod
    async def _read(cls, tx: neo4j.AsyncManagedTransaction, delta: Delta) -> _Rises:
        ids = {o.buyer for o in delta.new_orders if not o.refunded and o.buyer}
        ids |= {m.id for m in delta.new_members} | {m.id for m in delta.moved}
        rows = await records(tx, RISERS, ids=sorted(ids)) if ids else []
        return cls(delta, {r["id"]: Stored.of(r) for r in rows})

    def touched(self, row: Stored) -> bool:
        if row.id in self.risers or row.pre is None or row.last is None:
            return True
        i = int(np.searchsorted(self.points, row.pre, "left"))
        return i < len(self.points) and int(self.points[i]) <= row.last

    def _root(self, row: Stored, root: str, shift: int) -> Stored | Moved:
        return row if shift == 0 else self.moved[root]

    def all_time(self, row: Stored, platform: int) -> MemberMetrics | None:
        """Exact all-time metrics now from stored values: the member's stored subtree, less
        and plus the transferred subtrees' stored values, plus what changed in each; no read.
        None when the refresh stored no exact influence (rollups from before it did)."""
        if not self.touched(row):
            return row.metrics(platform)
        if self._all_time is None:
            self._all_time = _Changes.of(Window(None, None, 0, 0), self.delta, None)
        ch = self._all_time
        gv = members = recruits = 0
        terms: list[tuple[int, int]] = []
        for p in self.delta.pieces(row.id, row.pre, row.last, row.depth):
            root = self._root(row, p.root, p.shift)
            if root.infl_num is None:
                return None
            depths, amounts = ch.orders_in(p.pre, p.last)
            joins = ch.join_depth[ch.joins_in(p.pre, p.last)] - p.depth + p.shift
            gv += p.sign * (root.gv + sum(amounts))
            members += p.sign * (root.size + 1 + len(joins))
            if p.shift == 0:
                recruits += root.recruits + int((joins == 1).sum())
            elif p.shift == 1:
                recruits += p.sign
            terms.append((p.sign * root.infl_num, root.height + p.shift))
            terms += [
                (p.sign * x, k - p.depth + p.shift) for k, x in zip(depths, amounts, strict=True)
            ]
        if row.pre is None:
            for m in self.delta.new_members:
                k = m.below(row.id)
                if k is None:
                    continue
                members += 1
                recruits += k == 1
                gv += sum(amount for amount, _ in m.orders)
                terms += [(amount, k) for amount, _ in m.orders]
        return MemberMetrics(row.id, members - 1, gv, recruits, _floor(terms), ppm(gv, platform))

    def gain(self, row: Stored, metric: Metric, w: Window, ch: _Changes) -> int:
        """At most how much the member's value in the window has grown since the refresh:
        transferred subtrees at their stored all-time values, orders and joins since at face
        value (``ch``: the changes without partial days)."""
        unit = Metric.GROUP_VOLUME if metric is Metric.AT_RISK else metric
        total = 0
        for p in self.delta.pieces(row.id, row.pre, row.last, row.depth):
            if p.sign < 0:
                continue
            if p.shift > 0:
                root = self.moved[p.root]
                total += {
                    Metric.DOWNLINE_SIZE: root.size + 1,
                    Metric.RECRUITS: int(p.shift == 1),
                    Metric.INFLUENCE: root.infl_bound,
                }.get(unit, root.gv)
            joins = ch.joins_in(p.pre, p.last)
            if unit is Metric.DOWNLINE_SIZE:
                total += int(ch.join_before_end[joins].sum())
            elif unit is Metric.RECRUITS:
                direct = ch.join_depth[joins] == p.depth + 1
                total += int((direct & ch.join_in[joins]).sum()) if p.shift == 0 else 0
            else:
                for k, x in zip(*ch.orders_in(p.pre, p.last), strict=True):
                    if x > 0:
                        below = k - p.depth + p.shift
                        total += -(-x >> below) if unit is Metric.INFLUENCE else x
        if row.pre is None:
            for m in self.delta.new_members:
                hops = m.below(row.id)
                if hops is None:
                    continue
                if unit is Metric.DOWNLINE_SIZE:
                    total += w.end is None or m.joined_at < w.end
                elif unit is Metric.RECRUITS:
                    total += hops == 1 and w.contains(m.joined_at)
                else:
                    kept = [x for x, paid in m.orders if w.contains(paid)]
                    total += sum(-(-x >> hops) if unit is Metric.INFLUENCE else x for x in kept)
        return total

    def bounds(
        self, metric: Metric, w: Window, base: int | None, platform: int, skip: Iterable[str]
    ) -> dict[str, int]:
        """Per riser not in ``skip``, at most its value in the window now: at most what it had
        at the refresh (its stored all-time value, and ``base`` when given; 0 for a member the
        refresh did not number) plus its ``gain``, and never more than its exact all-time value
        now. Vectorised over the risers no transfer concerns, who are nearly all of them."""
        unit = Metric.GROUP_VOLUME if metric is Metric.AT_RISK else metric
        left_out = set(skip)
        rows = [r for r in self.risers.values() if r.id not in left_out]
        ch = _Changes.of(w, self.delta, None)
        gains: dict[str, int] = {}
        plain = [
            r for r in rows if r.pre is not None and not self.delta.affected(r.id, r.pre, r.last)
        ]
        if plain:
            pre = np.asarray([r.pre for r in plain], dtype=np.int64)
            last = np.asarray([r.last for r in plain], dtype=np.int64)
            depth = np.asarray([r.depth for r in plain], dtype=np.int64)
            if unit is Metric.RECRUITS:
                direct: dict[tuple[int, int], int] = {}
                for jp, jd in zip(
                    ch.join_pre[ch.join_in].tolist(),
                    ch.join_depth[ch.join_in].tolist(),
                    strict=True,
                ):
                    direct[(jp, jd)] = direct.get((jp, jd), 0) + 1
                found = [
                    direct.get((int(x), int(d) + 1), 0) for x, d in zip(pre, depth, strict=True)
                ]
            elif unit is Metric.DOWNLINE_SIZE:
                cum = np.concatenate([[0], np.cumsum(ch.join_before_end.astype(np.int64))])
                lo = np.searchsorted(ch.join_pre, pre, "left")
                hi = np.searchsorted(ch.join_pre, last, "right")
                found = (cum[hi] - cum[lo]).tolist()
            else:
                positive = np.maximum(ch.order_amount, 0)
                lo = np.searchsorted(ch.order_pre, pre, "left")
                hi = np.searchsorted(ch.order_pre, last, "right")
                if unit is Metric.INFLUENCE:
                    # Σ x / 2^(depth − member's depth) in floats, rounded up with room to spare.
                    weighted = np.concatenate(
                        [[0.0], np.cumsum(positive * np.exp2(-ch.order_depth.astype(float)))]
                    )
                    scaled = (weighted[hi] - weighted[lo]) * np.exp2(depth.astype(float))
                    found = (np.ceil(scaled * (1 + 1e-9)) + 1).astype(np.int64).tolist()
                else:
                    cum = np.concatenate([[0], np.cumsum(positive)])
                    found = (cum[hi] - cum[lo]).tolist()
            gains = dict(zip([r.id for r in plain], found, strict=True))
        out: dict[str, int] = {}
        for r in rows:
            if r.pre is None:
                had = 0
            else:
                had = {
                    Metric.DOWNLINE_SIZE: r.size,
                    Metric.RECRUITS: r.recruits,
                    Metric.INFLUENCE: r.infl,
                }.get(unit, r.gv)
                if base is not None:
                    had = min(had, max(base, 0))
            if r.id in gains:
                most = had + gains[r.id]
            else:
                most = had + self.gain(r, metric, w, ch)
                now = self.all_time(r, platform)
                if now is not None:
                    most = min(most, now.value(unit))
            out[r.id] = most
        return out


async def top_members(
    driver: neo4j.AsyncDriver,
    *,
    metric: Metric,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    database: str = "neo4j",
    timeout: float | None = None,
    cache: RollupCache | None = None,
) -> list[MemberMetrics]:
    """The ``limit`` members with the highest value of ``metric``, ties by member id."""
    if limit <= 0:
        return []
    prop = STORED[metric]

    @neo4j.unit_of_work(timeout=timeout)
    async def work(tx: neo4j.AsyncManagedTransaction) -> list[MemberMetrics]:
        delta = await current_delta(tx, cache)
        platform = await platform_volume(tx, start, end, delta, cache)
        if start is None and end is None and not delta.changed:
            rows = await records(tx, WALK[prop], skip=0, limit=limit)
            if rows:
                rows += await records(tx, TIES[prop], v=rows[-1]["v"])
            unique = {r["id"]: _stored(r, platform) for r in rows}
            return _rank(list(unique.values()), metric, limit)
        if delta.stale:
            return await _threshold(tx, metric, start, end, limit, delta, platform, None, cache)
        rises = await _Rises.read(tx, delta, cache)
        if start is None and end is None:
            return await _all_time(tx, metric, limit, delta, platform, rises, cache)
        fast = await top_from_series(tx, metric, start, end, limit, delta, platform, rises, cache)
        if fast is not None:
            return fast
        return await _threshold(tx, metric, start, end, limit, delta, platform, rises, cache)

    async with driver.session(database=database) as session:
        return await session.execute_read(work)


@dataclass(frozen=True)
class Candidates:
    """One refresh's ranking candidates: per member, prefix sums over day buckets.

    Immutable for its rollup version, so the ``RollupCache`` keeps the current version's set:
    a ranking is then arithmetic on a few hundred rows, not a read of as many array
    properties.
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


async def candidates(
    tx: neo4j.AsyncManagedTransaction, version: str, cache: RollupCache | None = None
) -> Candidates:
    kept = RollupCache().candidates if cache is None else cache.candidates
    found: Candidates | None = kept.get(version)
    if found is not None:
        return found
    rows = await records(tx, SERIES, version=version)

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
    kept.clear()  # one version at a time: the previous refresh's set is never read again
    kept[version] = found
    return found


def _bound_base(metric: Metric, w: Window, delta: Delta) -> int | None:
    """The most any member outside the candidates had in the window at the refresh (in group
    volume for at risk); -1 when there is no one else.

    None when the refresh stored no bounds (rollups from before rankings kept them).
    """
    bounds = delta.rank_bounds.get(BOUND[metric])
    months = delta.rank_months
    if bounds is None or len(months) != len(bounds) + 1:
        return None
    a, b = w.a, w.b
    if any(v < 0 for v in bounds):
        return -1
    if metric is Metric.DOWNLINE_SIZE:
        # Downline size counts everyone joined before the end: the end's month bounds it.
        return 0 if b == 0 else next(bounds[j] for j in range(len(bounds)) if months[j + 1] >= b)
    return sum(bounds[j] for j in range(len(bounds)) if months[j] < b and months[j + 1] > a)


def _reaches(last: MemberMetrics | None, metric: Metric, member_id: str, bound: int) -> bool:
    """Whether a member with at most ``bound`` could rank at or above ``last``."""
    if last is None:
        return True
    value = last.rank_value(metric)
    return bound > value or (bound == value and member_id < last.member_id)


async def _settle(
    best: dict[str, MemberMetrics],
    pending: dict[str, int],
    metric: Metric,
    limit: int,
    exact: Callable[[list[str]], Awaitable[dict[str, MemberMetrics]]],
) -> None:
    """Adds the exact values of the pending members whose bound still reaches the top, the
    highest bounds first, so that a few reads usually raise the top past the rest."""
    chunk = max(limit, 20)
    while pending:
        ranked = _rank(best.values(), metric, limit)
        last = ranked[-1] if len(ranked) == limit else None
        due = sorted(
            (i for i, bound in pending.items() if _reaches(last, metric, i, bound)),
            key=lambda i: (-pending[i], i),
        )[:chunk]
        if not due:
            return
        for i in due:
            del pending[i]
        best.update(await exact(due))


async def top_from_series(
    tx: neo4j.AsyncManagedTransaction,
    metric: Metric,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    delta: Delta,
    platform: int,
    rises: _Rises | None = None,
    cache: RollupCache | None = None,
) -> list[MemberMetrics] | None:
    """The ranking from the stored candidates when the bound proves it, else None.

    Candidates are exact from their series, plus the changes in their range and, when a
    transfer changed their subtree, the transferred subtrees' levels. Everyone else had at
    most the months' bound at the refresh; of them only the risers can have gained, and
    those whose gain could still reach the top are computed exactly.
    """
    if delta.stale or not delta.version:
        return None
    w = Window(start, end, delta.day0, delta.days)
    base = _bound_base(metric, w, delta)
    if base is None:
        return None
    if rises is None:
        rises = await _Rises.read(tx, delta, cache)
    c = await candidates(tx, delta.version, cache)
    changes = await _Changes.read(tx, w, delta, cache)
    a, b = w.a, w.b
    mine = c.of[metric.value]
    gv = (c.gv[mine, b] - c.gv[mine, a] + changes.volume(c, mine)).tolist()
    size, recruits = c.size[mine, b], c.rec[mine, b] - c.rec[mine, a]
    if len(changes.join_pre):
        more_size, more_recruits = changes.joined(c, mine)
        size, recruits = size + more_size, recruits + more_recruits
    sizes, recruit_list = size.tolist(), recruits.tolist()
    ids = [c.ids[i] for i in mine]
    terms = [changes.influence(c, int(i), a, b) for i in mine]
    moved = [j for j, i in enumerate(mine) if delta.affected(ids[j], int(c.pre[i]), int(c.last[i]))]
    if moved:
        parts = {
            j: [
                p
                for p in delta.pieces(ids[j], int(c.pre[i]), int(c.last[i]), int(c.depth[i]))
                if p.shift > 0
            ]
            for j, i in ((j, mine[j]) for j in moved)
        }
        raw = await SubtreeReader(tx, w, delta, cache).raw(
            {p.root: None for ps in parts.values() for p in ps}
        )
        for j, ps in parts.items():
            for p in ps:
                if p.root not in raw:
                    return None
                for k, level in raw[p.root][1].items():
                    gv[j] += p.sign * level.gv
                    sizes[j] += p.sign * level.joined
                    recruits_here = level.joined_in if k + p.shift == 1 else 0
                    recruit_list[j] += p.sign * recruits_here
                    terms[j].append((p.sign * level.gv, k + p.shift))
    best = {
        ids[j]: MemberMetrics(
            member_id=ids[j],
            downline_size=int(sizes[j]),
            group_volume=int(gv[j]),
            recruits=int(recruit_list[j]),
            influence=_floor(terms[j]),
            at_risk_ppm=ppm(int(gv[j]), platform),
        )
        for j in range(len(mine))
    }
    # Members outside the candidates had at most the bound at the refresh; of them only the
    # risers can have gained since, and only those whose gain could reach the top are read.
    pending = rises.bounds(metric, w, base, platform, best)

    async def exact(due: list[str]) -> dict[str, MemberMetrics]:
        return await _metrics(tx, due, start, end, delta, platform, cache)

    await _settle(best, pending, metric, limit, exact)
    ranked = _rank(best.values(), metric, limit)
    if base < 0 or (len(ranked) == limit and ranked[-1].rank_value(metric) > base):
        return ranked
    return None


async def _exact_all_time(
    tx: neo4j.AsyncManagedTransaction,
    rows: Iterable[Stored],
    delta: Delta,
    platform: int,
    rises: _Rises,
    cache: RollupCache | None = None,
) -> dict[str, MemberMetrics]:
    out: dict[str, MemberMetrics] = {}
    slow: list[str] = []
    for row in rows:
        found = rises.all_time(row, platform)
        if found is None:
            slow.append(row.id)
        else:
            out[row.id] = found
    if slow:
        out.update(await _metrics(tx, slow, None, None, delta, platform, cache))
    return out


async def _all_time(
    tx: neo4j.AsyncManagedTransaction,
    metric: Metric,
    limit: int,
    delta: Delta,
    platform: int,
    rises: _Rises,
    cache: RollupCache | None = None,
) -> list[MemberMetrics]:
    """All-time ranking after changes: members in stored order, each exact from its stored
    values, until no member further down can reach the top; then the risers whose bound
    (stored value plus gain) still does."""
    prop = STORED[metric]
    seen: dict[str, MemberMetrics] = {}
    pending = rises.bounds(metric, Window(None, None, 0, 0), None, platform, ())
    skip = 0
    batch = max(limit, 20)
    while True:
        rows = await records(tx, WALK[prop], skip=skip, limit=batch)
        skip += len(rows)
        fresh = [Stored.of(r) for r in rows if r["id"] not in seen]
        seen.update(await _exact_all_time(tx, fresh, delta, platform, rises, cache))
        for row in fresh:
            pending.pop(row.id, None)
        if len(rows) < batch:
            break
        # Members further down are not risers: they have at most their stored value.
        bound = rows[-1]["v"]
        best = _rank(seen.values(), metric, limit)
        if len(best) == limit and best[-1].rank_value(metric) > bound:
            break
        if bound == 0:
            smallest = await records(tx, SMALLEST_IDS, n=limit + len(seen) + len(pending))
            more = [
                Stored.of(r) for r in smallest if r["id"] not in seen and r["id"] not in pending
            ]
            seen.update(await _exact_all_time(tx, more[:limit], delta, platform, rises, cache))
            break

    async def exact(due: list[str]) -> dict[str, MemberMetrics]:
        rows = [rises.risers[i] for i in due]
        return await _exact_all_time(tx, rows, delta, platform, rises, cache)

    await _settle(seen, pending, metric, limit, exact)
    return _rank(seen.values(), metric, limit)


async def _threshold(
    tx: neo4j.AsyncManagedTransaction,
    metric: Metric,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    delta: Delta,
    platform: int,
    rises: _Rises | None,
    cache: RollupCache | None = None,
) -> list[MemberMetrics]:
    """Exact values for members in descending stored order until none further can rank.

    Members further down are not risers, so their stored all-time value bounds them; the
    risers are bounded by their stored value plus what they gained, and computed while that
    can reach the top. Without ``rises`` (a stale delta) every member is walked.
    """
    prop = STORED[metric]
    seen: dict[str, MemberMetrics] = {}
    pending: dict[str, int] = {}
    if rises is None:
        if delta.new_members:
            ids = [m.id for m in delta.new_members]
            seen.update(await _metrics(tx, ids, start, end, delta, platform, cache))
    else:
        w = Window(start, end, delta.day0, delta.days)
        pending = rises.bounds(metric, w, None, platform, ())

    async def exact(due: list[str]) -> dict[str, MemberMetrics]:
        return await _metrics(tx, due, start, end, delta, platform, cache)

    skip = 0
    batch = max(limit, 20)
    while True:
        rows = await records(tx, WALK[prop], skip=skip, limit=batch)
        skip += len(rows)
        fresh = [r["id"] for r in rows if r["id"] not in seen]
        seen.update(await exact(fresh))
        for i in fresh:
            pending.pop(i, None)
        if len(rows) < batch:
            break
        if rises is None:
            continue
        bound = rows[-1]["v"]
        best = _rank(seen.values(), metric, limit)
        if len(best) == limit and best[-1].rank_value(metric) > bound:
            break
        if bound == 0:
            # Everyone further down has the value 0, so among them the smallest ids rank first.
            smallest = await records(tx, SMALLEST_IDS, n=limit + len(seen) + len(pending))
            more = [r["id"] for r in smallest if r["id"] not in seen and r["id"] not in pending]
            seen.update(await exact(more[:limit]))
            break
    await _settle(seen, pending, metric, limit, exact)
    return _rank(seen.values(), metric, limit)
