"""Level sums of rolled-up subtrees in a window (docs/model.md, "Rollups").

A window [start, end) splits into whole days, read from the level checkpoints (``LEVELS``), and
at most two partial days at its ends, read once per rollup version and day from the orders by
their ``paid_at`` index and then cut with numpy (``DayRows``, kept in the ``RollupCache``).
What changed since the last refresh (graph/delta.py) is added in Python. A member whose subtree
a transfer changed since the refresh is its numbered subtree less and plus the transferred
members' numbered subtrees (``Delta.pieces``), each read like any other; only a graph whose
changes the watermarks cannot account for (a back-dated order or member) is answered by the
exact walk: slower, never wrong.

Every statement here anchors on a unique key or on an index named by hint and reaches the
rest by expanding from bound nodes, so its plan does not depend on the index statistics
(docs/model.md, "Query plans"; tests/graph/test_rollup_plans.py).

Personal volume excludes an order refunded at any time (also after ``end``): a refunded sale
was never volume, and the same past window must not read differently depending on when the
refund was booked relative to it. Every query here and in graph/metrics.py uses this rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import neo4j
import numpy as np

from graph.db import records
from graph.delta import Delta, NewMember, Piece, RollupCache
from graph.window import Window, day_of, day_start, micros


@dataclass
class Level:
    """Sums for one depth below a member; ``joined`` counts members joined before ``end``."""

    gv: int = 0
    n: int = 0
    joined: int = 0
    joined_in: int = 0


# One day of orders as the refresh saw them (paid up to its watermark, less the refunds it
# had seen), placed in the rolled-up tree; later orders and refunds are the delta's.
DAY_ORDERS = """
MATCH (o:Order) USING INDEX SEEK o:Order(paid_at)
WHERE o.paid_at >= $start AND o.paid_at < $end AND o.paid_at <= $max_paid
  AND (o.refunded_at IS NULL OR o.refunded_at > $max_refunded)
MATCH (b)-[:BOUGHT]->(o)
WHERE b.pre IS NOT NULL
RETURN collect(b.pre) AS pre, collect(b.depth) AS depth, collect(o.amount) AS amount,
       collect(o.paid_at.epochSeconds * 1000000 + o.paid_at.microsecond) AS us
"""

# The members of one day who have a pre-order number (members joined later are the delta's).
DAY_JOINS = """
MATCH (m:Member) USING INDEX SEEK m:Member(joined_at)
WHERE m.joined_at >= $start AND m.joined_at < $end AND m.pre IS NOT NULL
RETURN collect(m.pre) AS pre, collect(m.depth) AS depth,
       collect(m.joined_at.epochSeconds * 1000000 + m.joined_at.microsecond) AS us
"""

# Days kept per process: a window has at most two partial days, and requests cluster on the
# last few days, so a handful covers them (a day is ~30k orders, under 1 MB, at 1M members).
DAY_CACHE_SIZE = 8


def _ints(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


@dataclass(frozen=True)
class DayRows:
    """One day's orders and joins as arrays, sorted by ``pre``; fixed for a rollup version."""

    order_pre: np.ndarray
    order_depth: np.ndarray
    order_amount: np.ndarray
    order_us: np.ndarray
    join_pre: np.ndarray
    join_depth: np.ndarray
    join_us: np.ndarray


async def day_rows(
    tx: neo4j.AsyncManagedTransaction, delta: Delta, day: int, cache: RollupCache | None
) -> DayRows:
    """A day's rows, read once per rollup version while ``cache`` keeps them (LRU)."""
    days = RollupCache().days if cache is None else cache.days
    key = (delta.version, day)
    kept: DayRows | None = days.get(key)
    if kept is not None:
        days.move_to_end(key)
        return kept
    span = {"start": day_start(day), "end": day_start(day + 1)}
    (o,) = await records(
        tx,
        DAY_ORDERS,
        max_paid=delta.max_paid_at,
        max_refunded=delta.max_refunded_at,
        **span,
    )
    (j,) = await records(tx, DAY_JOINS, **span)
    by_order, by_join = np.argsort(_ints(o["pre"])), np.argsort(_ints(j["pre"]))
    found = DayRows(
        *(_ints(o[c])[by_order] for c in ("pre", "depth", "amount", "us")),
        *(_ints(j[c])[by_join] for c in ("pre", "depth", "us")),
    )
    if any(version != delta.version for version, _ in days):
        days.clear()  # a new refresh: the previous version's days are never read again
    days[key] = found
    while len(days) > DAY_CACHE_SIZE:
        days.popitem(last=False)
    return found


@dataclass(frozen=True)
class Placed:
    """Rows placed in the rolled-up tree, sorted by ``pre``: a subtree is one range of them."""

    pre: np.ndarray
    depth: np.ndarray
    amount: np.ndarray

    @classmethod
    def of(cls, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Placed:
        pre = np.concatenate([np.zeros(0, dtype=np.int64), *(p[0] for p in parts)])
        depth = np.concatenate([np.zeros(0, dtype=np.int64), *(p[1] for p in parts)])
        amount = np.concatenate([np.zeros(0, dtype=np.int64), *(p[2] for p in parts)])
        order = np.argsort(pre, kind="stable")
        return cls(pre[order], depth[order], amount[order])

    def levels(
        self, pre: int, last: int, depth: int, max_depth: int | None
    ) -> dict[int, tuple[int, int]]:
        """Per depth below the subtree's root: (sum of amounts, rows)."""
        lo = int(np.searchsorted(self.pre, pre, "left"))
        hi = int(np.searchsorted(self.pre, last, "right"))
        k = self.depth[lo:hi] - depth
        amount = self.amount[lo:hi]
        if max_depth is not None:
            keep = k <= max_depth
            k, amount = k[keep], amount[keep]
        if not len(k):
            return {}
        sums = np.zeros(int(k.max()) + 1, dtype=np.int64)
        np.add.at(sums, k, amount)
        counts = np.bincount(k)
        return {int(d): (int(sums[d]), int(counts[d])) for d in np.flatnonzero(counts)}


@dataclass(frozen=True)
class EdgeRows:
    """A window's partial days as the refresh saw them: orders (amount), members who joined in
    the end's partial day before the end (``joined``) and members who joined in the window's
    partial days (``joined_in``); the latter two with amount 1."""

    orders: Placed
    joined: Placed
    joined_in: Placed

    @classmethod
    async def read(
        cls,
        tx: neo4j.AsyncManagedTransaction,
        w: Window,
        delta: Delta,
        cache: RollupCache | None = None,
    ) -> EdgeRows:
        async def cut(edges: list[list[datetime]], joins: bool) -> Placed:
            parts = []
            for lo, hi in edges:
                a, b = micros(lo), micros(hi)
                rows = await day_rows(tx, delta, day_of(a // 1_000_000), cache)
                if joins:
                    inside = (rows.join_us >= a) & (rows.join_us < b)
                    pre, depth = rows.join_pre[inside], rows.join_depth[inside]
                    parts.append((pre, depth, np.ones(len(pre), dtype=np.int64)))
                else:
                    inside = (rows.order_us >= a) & (rows.order_us < b)
                    parts.append(
                        (
                            rows.order_pre[inside],
                            rows.order_depth[inside],
                            rows.order_amount[inside],
                        )
                    )
            return Placed.of(parts)

        return cls(
            await cut(w.edges(), False), await cut(w.join_edge(), True), await cut(w.edges(), True)
        )


# Per level below u (down to the target's own max_depth): the two pre-order boundaries (u.last
# and u.pre - 1), each the nearest checkpoint at or before it plus the few members between the
# checkpoint and the boundary. Both are seeks named by hint, so no statistics can turn them into
# index scans; the checkpoint is one index entry in (depth, pre) order (no sort of the level).
LEVELS = """
UNWIND $targets AS t
MATCH (u:Member {id: t.id}) USING INDEX SEEK u:Member(id)
WHERE u.pre IS NOT NULL
WITH u, CASE WHEN t.max_depth IS NULL OR t.max_depth > u.height THEN u.height
             ELSE t.max_depth END AS deepest
UNWIND range(0, deepest) AS k
WITH u, k, u.depth + k AS d
UNWIND [[u.last, 1], [u.pre - 1, -1]] AS bound
WITH u, k, d, bound[0] AS p, bound[1] AS sign
OPTIONAL CALL (d, p) {
  MATCH (c:LevelMark) USING INDEX SEEK c:LevelMark(depth, pre) WHERE c.depth = d AND c.pre <= p
  WITH c ORDER BY c.depth DESC, c.pre DESC LIMIT 1
  RETURN c
}
WITH u, k, d, p, sign, c
OPTIONAL CALL (d, p, c) {
  MATCH (m:Member) USING INDEX SEEK m:Member(depth, pre)
  WHERE m.depth = d AND m.pre > c.pre AND m.pre <= p
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
RETURN u.id AS id, u.pre AS pre, u.last AS last, u.depth AS depth, k,
       sum(sign * gv) AS gv, sum(sign * n) AS n, sum(sign * joined) AS joined,
       sum(sign * joined_in) AS joined_in
"""

ROLLED = """
UNWIND $ids AS id
MATCH (u:Member {id: id}) USING INDEX SEEK u:Member(id)
RETURN u.id AS id, u.pre AS pre, u.last AS last, u.depth AS depth
"""

# The naive walk: exact from the live graph, and the baseline the benchmark compares against.
EXACT = """
MATCH (u:Member {id: $id}) USING INDEX SEEK u:Member(id)
MATCH p = (v)-[:SPONSORED_BY*0..]->(u)
WITH v, length(p) AS k
WHERE $max_depth IS NULL OR k <= $max_depth
OPTIONAL CALL (v) {
  MATCH (v)-[:BOUGHT]->(o)
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
    rows = await records(tx, EXACT, id=member_id, start=start, end=end, max_depth=max_depth)
    for r in rows:
        levels[r["k"]] = Level(r["gv"], r["n"], r["joined"], r["joined_in"])
    return levels


class SubtreeReader:
    """Reads rolled-up subtrees in one window: the level sums, then the partial days (read once
    per call) and what changed since, by pre-order range."""

    def __init__(
        self,
        tx: neo4j.AsyncManagedTransaction,
        w: Window,
        delta: Delta,
        cache: RollupCache | None = None,
    ) -> None:
        self.tx, self.w, self.delta, self.cache = tx, w, delta, cache
        self._edges: EdgeRows | None = None

    async def edges(self) -> EdgeRows:
        if self._edges is None:
            self._edges = await EdgeRows.read(self.tx, self.w, self.delta, self.cache)
        return self._edges

    async def raw(self, caps: dict[str, int | None]) -> dict[str, tuple[Any, dict[int, Level]]]:
        """Per member with a pre-order number: its row and its numbered subtree's levels (down
        to its cap) as they are now, transfers aside."""
        w = self.w
        found: dict[str, tuple[Any, dict[int, Level]]] = {}
        targets = [{"id": i, "max_depth": cap} for i, cap in caps.items()]
        if not targets:
            return found
        for r in await records(self.tx, LEVELS, targets=targets, a=w.a, b=w.b, jb=w.joined_to):
            _, levels = found.setdefault(r["id"], (r, defaultdict(Level)))
            level = levels[r["k"]]
            level.gv += r["gv"]
            level.n += r["n"]
            level.joined += r["joined"]
            level.joined_in += r["joined_in"]
        if not found:
            return found
        edges = await self.edges()
        for member_id, (u, levels) in found.items():
            cap = caps[member_id]
            at = (u["pre"], u["last"], u["depth"], cap)
            for k, (gv, n) in edges.orders.levels(*at).items():
                levels[k].gv += gv
                levels[k].n += n
            for k, (joined, _) in edges.joined.levels(*at).items():
                levels[k].joined += joined
            for k, (joined, _) in edges.joined_in.levels(*at).items():
                levels[k].joined_in += joined
            _add_delta(levels, u, w, self.delta, cap)
        return found


def _combine(
    pieces: list[Piece], raw: dict[str, tuple[Any, dict[int, Level]]], max_depth: int | None
) -> dict[int, Level]:
    levels: dict[int, Level] = defaultdict(Level)
    for p in pieces:
        for k, part in raw[p.root][1].items():
            at = k + p.shift
            if max_depth is not None and at > max_depth:
                continue
            level = levels[at]
            level.gv += p.sign * part.gv
            level.n += p.sign * part.n
            level.joined += p.sign * part.joined
            level.joined_in += p.sign * part.joined_in
    return {k: v for k, v in levels.items() if (v.gv, v.n, v.joined, v.joined_in) != (0, 0, 0, 0)}


def _count_new_member(level: Level, m: NewMember, w: Window) -> None:
    """A member joined since the refresh, and its orders, counted in the level it sits at."""
    if w.end is None or m.joined_at < w.end:
        level.joined += 1
    if w.contains(m.joined_at):
        level.joined_in += 1
    for amount, paid in m.orders:
        if w.contains(paid):
            level.gv += amount
            level.n += 1


def _add_new_members(
    levels: dict[int, Level], member_id: str, w: Window, delta: Delta, max_depth: int | None
) -> None:
    """A member without a pre-order number: the new members counted through its chain."""
    for m in delta.new_members:
        k = m.below(member_id)
        if k is None or (max_depth is not None and k > max_depth):
            continue
        _count_new_member(levels.setdefault(k, Level()), m, w)


async def subtree_levels(
    tx: neo4j.AsyncManagedTransaction,
    member_ids: Sequence[str],
    start: datetime | None,
    end: datetime | None,
    max_depth: int | None,
    delta: Delta,
    cache: RollupCache | None = None,
) -> dict[str, dict[int, Level]]:
    """Sums per depth below each existing member; members that do not exist are left out.

    One round trip for windows on local midnights; a partial day adds two the first time a
    process reads its day. A member whose subtree a transfer changed since the refresh adds
    one: the transferred subtrees' own levels, added and taken out (``Delta.pieces``).
    """
    ids = list(dict.fromkeys(member_ids))
    out: dict[str, dict[int, Level]] = {}
    if delta.stale:
        for r in await records(tx, ROLLED, ids=ids):
            out[r["id"]] = await exact_levels(tx, r["id"], start, end, max_depth)
        return out
    w = Window(start, end, delta.day0, delta.days)
    reader = SubtreeReader(tx, w, delta, cache)
    raw = await reader.raw({i: max_depth for i in ids})
    pieces: dict[str, list[Piece]] = {}
    for i in ids:
        if i in raw:
            u = raw[i][0]
            if delta.affected(i, u["pre"], u["last"]):
                pieces[i] = delta.pieces(i, u["pre"], u["last"], u["depth"])
    walk: list[str] = []
    missing = [i for i in ids if i not in raw]
    if missing:
        # Members joined since the refresh have no number: their subtree is the new members
        # under them and any numbered subtree transferred under one of them.
        joined = {m.id for m in delta.new_members}
        for r in await records(tx, ROLLED, ids=missing):
            if r["pre"] is None and r["id"] in joined:
                pieces[r["id"]] = delta.pieces(r["id"], None, None, None)
            else:
                walk.append(r["id"])
    caps: dict[str, int | None] = {}
    for ps in pieces.values():
        for p in ps:
            if p.root in raw:
                continue
            cap = None if max_depth is None else max_depth - p.shift
            if cap is None or cap >= 0:
                before = caps.get(p.root, cap)
                caps[p.root] = None if cap is None or before is None else max(cap, before)
    raw.update(await reader.raw(caps))
    for member_id, ps in pieces.items():
        ps = [p for p in ps if max_depth is None or p.shift <= max_depth]
        if any(p.root not in raw for p in ps):
            walk.append(member_id)  # a part vanished under us: the walk is still exact
            continue
        levels = _combine(ps, raw, max_depth)
        if member_id not in raw:
            _add_new_members(levels, member_id, w, delta, max_depth)
        out[member_id] = levels
    for member_id in walk:
        out[member_id] = await exact_levels(tx, member_id, start, end, max_depth)
    for member_id in ids:
        if member_id in raw and member_id not in out:
            out[member_id] = raw[member_id][1]
    return {i: dict(sorted(out[i].items())) for i in ids if i in out}


def _add_delta(
    levels: dict[int, Level], u: Any, w: Window, delta: Delta, max_depth: int | None
) -> None:
    def below(pre: int, depth: int) -> int | None:
        k = depth - u["depth"]
        inside = u["pre"] <= pre <= u["last"] and (max_depth is None or k <= max_depth)
        return k if inside else None

    # Whole days and partial days alike hold orders as the refresh saw them.
    for o in delta.new_orders:
        k = below(o.pre, o.depth)
        if k is not None and not o.refunded and w.contains(o.paid_at):
            levels[k].gv += o.amount
            levels[k].n += 1
    for o in delta.refunds:
        k = below(o.pre, o.depth)
        if k is not None and w.contains(o.paid_at):
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
        _count_new_member(levels[k], m, w)
