"""Subtree revenue from the rollups, without walking the subtree (docs/model.md, "Rollups").

A window [start, end) splits into whole days, read from the level checkpoints, and at most two
partial days at its ends, read from the orders by their ``paid_at`` index. What changed since
the last refresh (new members, new orders, refunds) is read once per call and added in Python.
A member whose subtree a transfer changed since the refresh, or a graph whose changes the
watermarks cannot account for, is answered by the exact walk instead: slower, never wrong.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import neo4j

from graph.rollups import STATE_KEY, day_of, day_start

# Personal volume excludes an order refunded at any time (also after `end`): a refunded sale
# was never volume, and the same past window must not read differently depending on when the
# refund was booked relative to it. Every query here and in graph/metrics.py uses this rule.


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


@dataclass(frozen=True)
class Window:
    """A half-open window cut into whole day buckets and the partial-day edges around them."""

    start: datetime | None
    end: datetime | None
    day0: int
    days: int

    @property
    def full_from(self) -> int | None:
        """Absolute day of the first whole day, None when unbounded."""
        if self.start is None:
            return None
        ts = int(self.start.timestamp())
        day = day_of(ts)
        return day if day_start(day).timestamp() == ts else day + 1

    @property
    def full_to(self) -> int | None:
        return None if self.end is None else day_of(int(self.end.timestamp()))

    def _clamp(self, day: int | None, default: int) -> int:
        if day is None:
            return default
        return min(max(day - self.day0, 0), self.days)

    @property
    def a(self) -> int:
        """Index into the rollup arrays of the first whole day."""
        return min(self._clamp(self.full_from, 0), self.b)

    @property
    def b(self) -> int:
        return self._clamp(self.full_to, self.days)

    @property
    def joined_to(self) -> int:
        return self._clamp(self.full_to, self.days)

    @property
    def split(self) -> bool:
        """Whether there are whole days at all (else the whole window is one edge)."""
        f, t = self.full_from, self.full_to
        return f is None or t is None or f <= t

    def edges(self) -> list[list[datetime]]:
        if not self.split:
            assert self.start is not None and self.end is not None
            return [[self.start, self.end]] if self.start < self.end else []
        out: list[list[datetime]] = []
        if self.start is not None and self.full_from is not None:
            first = day_start(self.full_from)
            if self.start < first:
                out.append([self.start, first])
        if self.end is not None and self.full_to is not None:
            last = day_start(self.full_to)
            if last < self.end:
                out.append([last, self.end])
        return out

    def join_edge(self) -> list[list[datetime]]:
        if self.end is None or self.full_to is None:
            return []
        last = day_start(self.full_to)
        return [[last, self.end]] if last < self.end else []

    def in_full_days(self, at: datetime) -> bool:
        """Whether an instant falls in the whole-day part of the window."""
        if not self.split:
            return False
        day = day_of(int(at.timestamp()))
        f, t = self.full_from, self.full_to
        return (f is None or day >= f) and (t is None or day < t)

    def contains(self, at: datetime) -> bool:
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)


@dataclass
class Level:
    """Sums for one depth below a member; ``joined`` counts members joined before ``end``."""

    gv: int = 0
    n: int = 0
    joined: int = 0
    joined_in: int = 0


@dataclass(frozen=True)
class Anchor:
    pre: int
    depth: int


@dataclass(frozen=True)
class DeltaOrder:
    pre: int
    depth: int
    amount: int
    paid_at: datetime
    refunded: bool


@dataclass(frozen=True)
class NewMember:
    id: str
    joined_at: datetime
    anchor: Anchor | None  # nearest rolled-up upline
    below_anchor: int  # hops from the anchor down to this member
    chain: tuple[str, ...]  # current upline ids, nearest first
    orders: tuple[tuple[int, datetime], ...]  # unrefunded (amount, paid_at)


@dataclass
class Delta:
    """What changed since the last refresh, or ``stale`` when it cannot be told cheaply."""

    day0: int = 0
    days: int = 0
    stale: bool = True
    new_orders: list[DeltaOrder] = field(default_factory=list)
    refunds: list[DeltaOrder] = field(default_factory=list)
    new_members: list[NewMember] = field(default_factory=list)
    moved: list[tuple[int | None, tuple[str, ...]]] = field(default_factory=list)
    moved_gv: int = 0
    moved_size: int = 0
    platform_gv: list[int] = field(default_factory=list)
    platform_n: list[int] = field(default_factory=list)

    def affected(self, member_id: str, pre: int, last: int) -> bool:
        """Whether a transfer since the refresh moved a member into or out of this subtree."""
        for moved_pre, uplines in self.moved:
            if moved_pre is not None and pre < moved_pre <= last:
                return True
            if member_id in uplines:
                return True
        return False

    @property
    def changed(self) -> bool:
        return bool(self.stale or self.new_orders or self.refunds or self.new_members or self.moved)

    @property
    def slack_gv(self) -> int:
        """How much any member's group volume can have grown since the refresh."""
        return (
            sum(o.amount for o in self.new_orders if not o.refunded)
            + sum(amount for m in self.new_members for amount, _ in m.orders)
            + self.moved_gv
        )


STATE = "MATCH (s:RollupState {key: $key}) RETURN s {.*} AS s"
COUNT_ORDERS = "MATCH (o:Order) RETURN count(o) AS n"
COUNT_MEMBERS = "MATCH (m:Member) RETURN count(m) AS n"

NEW_ORDERS = """
MATCH (o:Order) WHERE o.paid_at > $max_paid
MATCH (b:Member)-[:BOUGHT]->(o)
WHERE b.pre IS NOT NULL
RETURN b.pre AS pre, b.depth AS depth, o.amount AS amount, o.paid_at AS paid_at,
       o.refunded_at IS NOT NULL AS refunded
"""

REFUNDS = """
MATCH (o:Order) WHERE o.refunded_at > $max_refunded AND o.paid_at <= $max_paid
MATCH (b:Member)-[:BOUGHT]->(o)
WHERE b.pre IS NOT NULL
RETURN b.pre AS pre, b.depth AS depth, o.amount AS amount, o.paid_at AS paid_at, true AS refunded
"""

NEW_MEMBERS = """
MATCH (m:Member) WHERE m.joined_at >= $max_joined AND m.pre IS NULL
MATCH p = (m)-[:SPONSORED_BY*0..]->(r:Member)
WHERE NOT (r)-[:SPONSORED_BY]->()
RETURN m.id AS id, m.joined_at AS joined_at,
       [n IN nodes(p) | [n.id, n.pre, n.depth]] AS chain,
       [(m)-[:BOUGHT]->(o) | [o.amount, o.paid_at, o.refunded_at IS NULL]] AS orders,
       COUNT { (m)-[:BOUGHT]->() } AS order_total
"""

MOVED = """
MATCH (m:Member) WHERE m.transferred_at IS NOT NULL
  AND (m.rolled_transfer IS NULL OR m.rolled_transfer <> m.transferred_at)
MATCH p = (m)-[:SPONSORED_BY*0..]->(r:Member)
WHERE NOT (r)-[:SPONSORED_BY]->()
RETURN m.pre AS pre, [n IN tail(nodes(p)) | n.id] AS uplines,
       coalesce(m.all_gv, 0) AS gv, coalesce(m.all_size, 0) AS size
"""


async def _rows(tx: neo4j.AsyncManagedTransaction, query: str, **params: Any) -> list[Any]:
    result = await tx.run(query, params)
    return [record async for record in result]


async def read_delta(tx: neo4j.AsyncManagedTransaction) -> Delta:
    state_rows = await _rows(tx, STATE, key=STATE_KEY)
    if not state_rows:
        return Delta()
    s = state_rows[0]["s"]
    delta = Delta(day0=s["day0"], days=s["days"], stale=False)
    delta.platform_gv = list(s["gv"])
    delta.platform_n = list(s["n"])
    epoch = datetime.fromtimestamp(0).astimezone()
    max_paid = s.get("max_paid_at") or epoch
    max_refunded = s.get("max_refunded_at") or epoch
    max_joined = s.get("max_joined_at") or epoch
    for r in await _rows(tx, NEW_ORDERS, max_paid=max_paid):
        delta.new_orders.append(
            DeltaOrder(r["pre"], r["depth"], r["amount"], r["paid_at"].to_native(), r["refunded"])
        )
    for r in await _rows(tx, REFUNDS, max_refunded=max_refunded, max_paid=max_paid):
        delta.refunds.append(
            DeltaOrder(r["pre"], r["depth"], r["amount"], r["paid_at"].to_native(), True)
        )
    new_member_orders = 0
    for r in await _rows(tx, NEW_MEMBERS, max_joined=max_joined):
        chain = r["chain"]
        anchor: Anchor | None = None
        below = 0
        for hops, (_, pre, depth) in enumerate(chain):
            if pre is not None:
                anchor, below = Anchor(pre, depth), hops
                break
        new_member_orders += r["order_total"]
        delta.new_members.append(
            NewMember(
                id=r["id"],
                joined_at=r["joined_at"].to_native(),
                anchor=anchor,
                below_anchor=below,
                chain=tuple(c[0] for c in chain[1:]),
                orders=tuple(
                    (amount, paid.to_native()) for amount, paid, kept in r["orders"] if kept
                ),
            )
        )
    for r in await _rows(tx, MOVED):
        delta.moved.append((r["pre"], tuple(r["uplines"])))
        delta.moved_gv += r["gv"]
        delta.moved_size += r["size"] + 1
    orders_now = (await _rows(tx, COUNT_ORDERS))[0]["n"]
    members_now = (await _rows(tx, COUNT_MEMBERS))[0]["n"]
    # Orders recorded since with an older paid_at, or members with an older joined_at, are not
    # found by the watermarks: the counts tell, and then every answer takes the exact walk.
    if orders_now != s["orders"] + len(delta.new_orders) + new_member_orders:
        delta.stale = True
    if members_now != s["members"] + len(delta.new_members):
        delta.stale = True
    return delta


# Per level below u: the two pre-order boundaries (u.last and u.pre - 1), each the nearest
# checkpoint at or before it plus the few members between the checkpoint and the boundary.
LEVELS = """
UNWIND $targets AS t
MATCH (u:Member {id: t})
WHERE u.pre IS NOT NULL
WITH u, CASE WHEN $max_depth IS NULL OR $max_depth > u.height THEN u.height
             ELSE $max_depth END AS deepest
UNWIND range(0, deepest) AS k
WITH u, k, u.depth + k AS d
UNWIND [[u.last, 1], [u.pre - 1, -1]] AS bound
WITH u, k, d, bound[0] AS p, bound[1] AS sign
OPTIONAL CALL (d, p) {
  MATCH (c:LevelMark) WHERE c.depth = d AND c.pre <= p
  WITH c ORDER BY c.pre DESC LIMIT 1
  RETURN c
}
WITH u, k, d, p, sign, c
OPTIONAL CALL (d, p, c) {
  MATCH (m:Member) WHERE m.depth = d AND m.pre > c.pre AND m.pre <= p
  WITH m,
       size([x IN m.pv_days WHERE x < $a]) AS ia, size([x IN m.pv_days WHERE x < $b]) AS ib
  RETURN sum(m.pv_cum[ib] - m.pv_cum[ia]) AS gv, sum(m.pv_n[ib] - m.pv_n[ia]) AS n,
         sum(CASE WHEN m.join_day < $jb THEN 1 ELSE 0 END) AS joined,
         sum(CASE WHEN m.join_day >= $a AND m.join_day < $b THEN 1 ELSE 0 END) AS joined_in
}
WITH u, k, sign,
     CASE WHEN c IS NULL THEN 0 ELSE c.gv[$b] - c.gv[$a] + coalesce(gv, 0) END AS gv,
     CASE WHEN c IS NULL THEN 0 ELSE c.n[$b] - c.n[$a] + coalesce(n, 0) END AS n,
     CASE WHEN c IS NULL THEN 0 ELSE c.joined[$jb] + coalesce(joined, 0) END AS joined,
     CASE WHEN c IS NULL THEN 0 ELSE c.joined[$b] - c.joined[$a] + coalesce(joined_in, 0) END
       AS joined_in
RETURN u.id AS id, k, sum(sign * gv) AS gv, sum(sign * n) AS n, sum(sign * joined) AS joined,
       sum(sign * joined_in) AS joined_in
"""

# The subqueries keep the planner on the time index: a partial day holds few orders, while the pre
# range of a large subtree holds most members.
EDGE_ORDERS = """
UNWIND $targets AS t
MATCH (u:Member {id: t})
UNWIND $edges AS e
CALL (e) {
  MATCH (o:Order) USING INDEX o:Order(paid_at)
  WHERE o.paid_at >= e[0] AND o.paid_at < e[1] AND o.refunded_at IS NULL
  RETURN o
}
MATCH (b:Member)-[:BOUGHT]->(o)
WHERE u.pre <= b.pre <= u.last AND ($max_depth IS NULL OR b.depth - u.depth <= $max_depth)
RETURN u.id AS id, b.depth - u.depth AS k, sum(o.amount) AS gv, count(o) AS n
"""

EDGE_MEMBERS = """
UNWIND $targets AS t
MATCH (u:Member {id: t})
UNWIND $edges AS e
CALL (e) {
  MATCH (m:Member) USING INDEX m:Member(joined_at)
  WHERE m.joined_at >= e[0] AND m.joined_at < e[1]
  RETURN m
}
WITH u, e, m
WHERE u.pre <= m.pre <= u.last AND ($max_depth IS NULL OR m.depth - u.depth <= $max_depth)
RETURN u.id AS id, m.depth - u.depth AS k, e[2] AS kind, count(m) AS joined
"""

ROLLED = """
UNWIND $ids AS id
MATCH (u:Member {id: id})
RETURN u.id AS id, u.pre AS pre, u.last AS last, u.depth AS depth
"""

# The naive walk: exact from the live graph, and the baseline the benchmark compares against.
EXACT = """
MATCH (u:Member {id: $id})
MATCH p = (v:Member)-[:SPONSORED_BY*0..]->(u)
WITH v, length(p) AS k
WHERE $max_depth IS NULL OR k <= $max_depth
OPTIONAL CALL (v) {
  MATCH (v)-[:BOUGHT]->(o:Order)
  WHERE o.refunded_at IS NULL AND ($start IS NULL OR o.paid_at >= $start)
    AND ($end IS NULL OR o.paid_at < $end)
  RETURN sum(o.amount) AS gv, count(o) AS n
}
RETURN k, sum(coalesce(gv, 0)) AS gv, sum(coalesce(n, 0)) AS n,
       sum(CASE WHEN $end IS NULL OR v.joined_at < $end THEN 1 ELSE 0 END) AS joined,
       sum(CASE WHEN ($start IS NULL OR v.joined_at >= $start)
                 AND ($end IS NULL OR v.joined_at < $end) THEN 1 ELSE 0 END) AS joined_in
"""


async def exact_levels(
    tx: neo4j.AsyncManagedTransaction,
    member_id: str,
    start: datetime | None,
    end: datetime | None,
    max_depth: int | None,
) -> dict[int, Level]:
    levels: dict[int, Level] = {}
    rows = await _rows(tx, EXACT, id=member_id, start=start, end=end, max_depth=max_depth)
    for r in rows:
        levels[r["k"]] = Level(r["gv"], r["n"], r["joined"], r["joined_in"])
    return levels


async def subtree_levels(
    tx: neo4j.AsyncManagedTransaction,
    member_ids: Sequence[str],
    start: datetime | None,
    end: datetime | None,
    max_depth: int | None,
    delta: Delta,
) -> dict[str, dict[int, Level]]:
    """Sums per depth below each existing member; members that do not exist are left out."""
    found = {r["id"]: r for r in await _rows(tx, ROLLED, ids=list(dict.fromkeys(member_ids)))}
    out: dict[str, dict[int, Level]] = {}
    fast: list[str] = []
    for member_id, r in found.items():
        if delta.stale or r["pre"] is None or delta.affected(member_id, r["pre"], r["last"]):
            out[member_id] = await exact_levels(tx, member_id, start, end, max_depth)
        else:
            fast.append(member_id)
            out[member_id] = defaultdict(Level)
    if not fast:
        return out
    w = Window(start, end, delta.day0, delta.days)
    common = {"targets": fast, "max_depth": max_depth}
    for r in await _rows(tx, LEVELS, a=w.a, b=w.b, jb=w.joined_to, **common):
        level = out[r["id"]][r["k"]]
        level.gv += r["gv"]
        level.n += r["n"]
        level.joined += r["joined"]
        level.joined_in += r["joined_in"]
    if w.edges():
        for r in await _rows(tx, EDGE_ORDERS, edges=w.edges(), **common):
            out[r["id"]][r["k"]].gv += r["gv"]
            out[r["id"]][r["k"]].n += r["n"]
    member_edges = [[*e, "joined"] for e in w.join_edge()] + [[*e, "in"] for e in w.edges()]
    if member_edges:
        for r in await _rows(tx, EDGE_MEMBERS, edges=member_edges, **common):
            level = out[r["id"]][r["k"]]
            if r["kind"] == "joined":
                level.joined += r["joined"]
            else:
                level.joined_in += r["joined"]
    for member_id in fast:
        _add_delta(out[member_id], found[member_id], w, delta, max_depth)
        out[member_id] = {k: v for k, v in sorted(out[member_id].items())}
    return out


def _add_delta(
    levels: dict[int, Level], u: Any, w: Window, delta: Delta, max_depth: int | None
) -> None:
    def below(pre: int, depth: int) -> int | None:
        k = depth - u["depth"]
        inside = u["pre"] <= pre <= u["last"] and (max_depth is None or k <= max_depth)
        return k if inside else None

    for o in delta.new_orders:
        k = below(o.pre, o.depth)
        if k is not None and not o.refunded and w.in_full_days(o.paid_at):
            levels[k].gv += o.amount
            levels[k].n += 1
    for o in delta.refunds:
        k = below(o.pre, o.depth)
        if k is not None and w.in_full_days(o.paid_at):
            levels[k].gv -= o.amount
            levels[k].n -= 1
    for m in delta.new_members:
        if m.anchor is None:
            continue
        base = below(m.anchor.pre, m.anchor.depth)
        if base is None:
            continue
        k = base + m.below_anchor
        if max_depth is not None and k > max_depth:
            continue
        level = levels[k]
        if w.end is None or m.joined_at < w.end:
            level.joined += 1
        if w.contains(m.joined_at):
            level.joined_in += 1
        for amount, paid in m.orders:
            if w.contains(paid):
                level.gv += amount
                level.n += 1


async def subtree_revenue(
    driver: neo4j.AsyncDriver,
    *,
    member_id: str,
    start: datetime | None,
    end: datetime | None,
    max_depth: int | None,
    database: str = "neo4j",
    timeout: float | None = None,
) -> SubtreeRevenue | None:
    """Group volume, orders and members of a member's subtree in [start, end), per depth."""

    @neo4j.unit_of_work(timeout=timeout)
    async def work(tx: neo4j.AsyncManagedTransaction) -> SubtreeRevenue | None:
        delta = await read_delta(tx)
        levels = await subtree_levels(tx, [member_id], start, end, max_depth, delta)
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
    """The same answer by walking the subtree at query time: the benchmark's baseline."""

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
