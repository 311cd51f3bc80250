"""The rollup batch: tree numbering, time buckets and level prefix sums the subtree reads need.

What it writes (docs/model.md, "Rollups", says why):
- on every member: ``pre`` (pre-order number), ``last`` (the largest ``pre`` in its subtree),
  ``depth`` (hops below its root), ``height`` (deepest level of its subtree, relative), its own
  volume per day as sparse arrays (``pv_days``, ``pv_cum``, ``pv_n``), ``join_day``, and the
  all-time key-node metrics (``all_gv``, ``all_size``, ``all_recruits``, ``all_infl``) that the
  rankings walk in index order, and the exact influence ``infl_num`` = Σ_k volume_k ·
  2^(height − k) (a decimal string: it outgrows 64 bits) that lets a ranking add what changed
  since to a member's stored value without reading its subtree;
- ``(:LevelMark {depth, pre, gv, n, joined})`` checkpoints: every ``CHECKPOINT_EVERY``-th member
  of each tree level (in pre-order) carries, per day, the cumulative volume, order count and joins
  of all members of its level up to it. A subtree is one pre-order range per level, so a level's
  sum over any run of days is two checkpoint look-ups plus fewer than ``CHECKPOINT_EVERY``
  members on each side;
- ``(:RankSeries)`` per ranking candidate (each calendar month's top members by each metric)
  with prefix sums over days, and in the state the per-month bound on everyone else;
- one ``(:RollupState {key: 'rollups'})`` with the watermarks that tell what changed since.

The numbering needs the whole tree at once, so it is computed here from one read of (member,
sponsor) pairs and chunked reads of every order by ``paid_at`` (each one row of long lists),
with numpy, and written back in ``UNWIND`` batches.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import neo4j
import numpy as np

from graph import statistics
from graph.runlock import SettlementBusy, busy_message, read_lock
from graph.window import BUCKET_OFFSET_S, DAY_S, month_starts

CHECKPOINT_EVERY = 16
WRITE_BATCH = 10_000
# Members per calendar month and metric whose whole day-by-day series the rankings keep (the
# API pages up to 100 rows); everyone else is bounded by the largest month value left out.
RANK_CANDIDATES = 100
STATE_KEY = "rollups"


@dataclass(frozen=True)
class RollupReport:
    version: str
    members: int
    orders: int
    checkpoints: int
    days: int
    seconds: float


# One row of three lists, like the orders: a record per member costs more to decode than
# the read. A root's sponsor is "" (collect would skip a null and misalign the lists).
# Every member, so a label scan (named, whatever the statistics); the sponsor is reached by
# expansion and carries no label, so it cannot be planned as a second scan and a join.
READ_MEMBERS = """
MATCH (m:Member) USING SCAN m:Member
OPTIONAL MATCH (m)-[:SPONSORED_BY]->(s)
RETURN collect(m.id) AS ids, collect(coalesce(s.id, "")) AS sponsors,
       collect(m.joined_at.epochSeconds) AS joined
"""

# Orders cross the wire as three long integer/string lists per chunk of paid_at time, not one
# record per buyer: decoding ~80k records of small lists cost 3x the read itself (100k: 11 s
# grouped per buyer vs 2-3 s). A refunded order keeps its place with day -1 so the lists stay
# aligned and still count towards the total the delta checks.
READ_ORDERS = """
MATCH (o:Order) USING INDEX SEEK o:Order(paid_at)
WHERE o.paid_at >= $lo AND o.paid_at < $hi
WITH o, o.refunded_at IS NULL AS kept
RETURN collect(o.buyer_id) AS ids,
       collect(CASE WHEN kept THEN (o.paid_at.epochSeconds + $offset) / $day ELSE -1 END) AS days,
       collect(CASE WHEN kept THEN o.amount ELSE 0 END) AS amounts,
       max(o.paid_at) AS max_paid, max(o.refunded_at) AS max_refunded
"""

# The paid_at range (both ends by the index) and the count (from the count store) that cut the
# read into chunks of about ORDER_CHUNK orders.
ORDER_SPAN = """
CALL () {
  MATCH (o:Order) USING INDEX o:Order(paid_at) WHERE o.paid_at IS NOT NULL
  RETURN o.paid_at AS lo ORDER BY o.paid_at LIMIT 1
}
CALL () {
  MATCH (o:Order) USING INDEX o:Order(paid_at) WHERE o.paid_at IS NOT NULL
  RETURN o.paid_at AS hi ORDER BY o.paid_at DESC LIMIT 1
}
CALL () { MATCH (o:Order) RETURN count(o) AS n }
RETURN lo, hi, n
"""
# Orders per read: bounds the server's heap for the collected lists (~150 MB at 2M orders).
ORDER_CHUNK = 2_000_000


WRITE_MEMBERS = """
UNWIND $rows AS r
MATCH (m:Member {id: r.id})
SET m.pre = r.pre, m.last = r.last, m.depth = r.depth, m.height = r.height,
    m.pv_days = r.pv_days, m.pv_cum = r.pv_cum, m.pv_n = r.pv_n, m.join_day = r.join_day,
    m.all_gv = r.all_gv, m.all_infl = r.all_infl, m.all_size = r.all_size,
    m.all_recruits = r.all_recruits, m.infl_num = r.infl_num,
    m.rolled_transfer = m.transferred_at
"""

DELETE_MARKS = """
MATCH (c:LevelMark) USING INDEX c:LevelMark(version)
WHERE c.version IS NOT NULL AND c.version <> $version
CALL (c) { DELETE c } IN TRANSACTIONS OF 10000 ROWS
"""

WRITE_MARKS = """
UNWIND $rows AS r
CREATE (c:LevelMark {version: $version, depth: r.depth, pre: r.pre, gv: r.gv, n: r.n,
                     joined: r.joined})
"""

# One node per ranking candidate; the state's version says which set is current, so a refresh
# writes the new set first and deletes the old one only after switching.
WRITE_SERIES = """
UNWIND $rows AS r
CREATE (s:RankSeries {version: $version})
SET s += r
"""

DELETE_SERIES = """
MATCH (s:RankSeries) USING INDEX s:RankSeries(version)
WHERE s.version IS NOT NULL AND s.version <> $version
DELETE s
"""

WRITE_STATE = """
MERGE (s:RollupState {key: $key})
SET s += $state, s.refreshed_at = datetime()
"""


@dataclass
class _Tree:
    ids: list[str]
    parent: np.ndarray
    joined: np.ndarray
    pre: np.ndarray
    last: np.ndarray
    depth: np.ndarray
    height: np.ndarray
    order: np.ndarray  # member indexes in pre-order


def _number(ids: list[str], sponsors: list[str | None], joined: list[int]) -> _Tree:
    """Pre-order numbers: children in (joined_at, id) order, roots likewise."""
    n = len(ids)
    index = {member: i for i, member in enumerate(ids)}
    parent = np.full(n, -1, dtype=np.int64)
    for i, sponsor in enumerate(sponsors):
        if sponsor is not None:
            parent[i] = index[sponsor]
    joined_arr = np.asarray(joined, dtype=np.int64)
    rank = sorted(range(n), key=lambda i: (joined[i], ids[i]))
    children: list[list[int]] = [[] for _ in range(n)]
    roots: list[int] = []
    for i in rank:
        (roots if parent[i] < 0 else children[parent[i]]).append(i)
    pre = np.zeros(n, dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    order = np.zeros(n, dtype=np.int64)
    stack = list(reversed(roots))
    counter = 0
    while stack:
        i = stack.pop()
        pre[i] = counter
        order[counter] = i
        counter += 1
        p = parent[i]
        depth[i] = 0 if p < 0 else depth[p] + 1
        stack.extend(reversed(children[i]))
    if counter != n:
        raise ValueError("the sponsor tree has a cycle; refusing to number it")
    size = np.ones(n, dtype=np.int64)
    height = np.zeros(n, dtype=np.int64)
    for i in order[::-1]:
        p = parent[i]
        if p >= 0:
            size[p] += size[i]
            height[p] = max(height[p], height[i] + 1)
    return _Tree(ids, parent, joined_arr, pre, pre + size - 1, depth, height, order)


def _batches(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class _Ranks:
    """The rankings' candidates with their day-by-day series, and the bound on everyone else."""

    months: list[int]
    bounds: dict[str, list[int]]
    rows: list[dict[str, Any]]


def _sums(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Integer sums of ``values`` per ``index`` (fen stay int64; bincount's weights are floats)."""
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, index, values.astype(np.int64))
    return out


def _subtree_sums(tree: _Tree, values: np.ndarray) -> np.ndarray:
    """Per member, the sum of ``values`` (rows by member) over its subtree, itself included."""
    in_pre = values[tree.order]
    cum = np.concatenate(
        [np.zeros((1, *values.shape[1:]), dtype=values.dtype), np.cumsum(in_pre, 0)]
    )
    sums: np.ndarray = cum[tree.last + 1] - cum[tree.pre]
    return sums


def _top(values: np.ndarray, keep: int) -> np.ndarray:
    """Indexes of the ``keep`` largest values of each column (all rows when there are fewer)."""
    n = values.shape[0]
    if n <= keep:
        return np.arange(n)
    picked = np.argpartition(-values, keep - 1, axis=0)[:keep]
    return np.unique(picked)


def _left_out(values: np.ndarray, chosen: np.ndarray) -> list[int]:
    """Largest value per column among members not chosen; -1 when everyone was chosen."""
    rest = np.ones(values.shape[0], dtype=bool)
    rest[chosen] = False
    if not rest.any():
        return [-1] * values.shape[1]
    return [int(v) for v in np.ceil(values[rest].max(axis=0))]


def _rank_series(
    tree: _Tree,
    member: np.ndarray,
    day: np.ndarray,
    amount: np.ndarray,
    join_day: np.ndarray,
    first: int,
    span: int,
    keep: int,
) -> _Ranks:
    """Candidates of every ranking: each calendar month's top ``keep`` by each metric.

    A window's value of a member is at most the sum of its values in the months the window
    touches (all metrics only add up over time, downline size only grows), so a member outside
    the candidates is bounded by the sum of the months' largest left-out values.
    """
    n = len(tree.ids)
    months = month_starts(first, span)
    m = len(months) - 1
    month_of = np.zeros(span, dtype=np.int64)
    for j in range(m):
        month_of[months[j] : months[j + 1]] = j
    joined_month = month_of[join_day]
    pv = _sums(member * m + month_of[day], amount, n * m).reshape(n, m)
    gv = _subtree_sums(tree, pv)
    # Influence per month in floats, only for choosing and bounding: bounds are rounded up.
    infl = pv.astype(np.float64)
    by_depth = np.argsort(tree.depth, kind="stable")
    cuts = np.searchsorted(tree.depth[by_depth], np.arange(int(tree.depth.max(initial=0)) + 2))
    for d in range(len(cuts) - 2, 0, -1):
        level = by_depth[cuts[d] : cuts[d + 1]]
        np.add.at(infl, tree.parent[level], infl[level] * 0.5)
    infl = infl * (1 + 1e-9) + 1
    has_parent = tree.parent >= 0
    recruits = np.bincount(
        tree.parent[has_parent] * m + joined_month[has_parent], minlength=n * m
    ).reshape(n, m)
    joined_by = (joined_month[:, None] <= np.arange(m)[None, :]).astype(np.int64)
    size = _subtree_sums(tree, joined_by) - joined_by
    chosen: dict[str, np.ndarray] = {}
    bounds: dict[str, list[int]] = {}
    for name, values in (("gv", gv), ("infl", infl), ("rec", recruits), ("size", size)):
        chosen[name] = _top(values, keep) if n else np.zeros(0, dtype=np.int64)
        bounds[name] = _left_out(values, chosen[name]) if n else []
    candidates = np.unique(np.concatenate([*chosen.values(), np.zeros(0, dtype=np.int64)]))
    rows = _series(tree, member, day, amount, join_day, span, candidates, chosen)
    return _Ranks(months, bounds, rows)


def _series(
    tree: _Tree,
    member: np.ndarray,
    day: np.ndarray,
    amount: np.ndarray,
    join_day: np.ndarray,
    span: int,
    candidates: np.ndarray,
    chosen: dict[str, np.ndarray],
) -> list[dict[str, Any]]:
    """Per candidate, prefix sums over days of its subtree's volume, joins, recruits, influence.

    Influence is kept exact as Σ_k volume_k · 2^(height − k), written as decimal strings because
    it outgrows 64 bits; a window's influence is the difference shifted right by the height.
    """
    n = len(tree.ids)
    levels = int(tree.depth.max(initial=0)) + 1
    # Orders sorted by (day, depth, pre): a subtree's volume at one depth on one day is a range.
    key = (day * levels + tree.depth[member]) * n + tree.pre[member]
    sort = np.argsort(key, kind="stable")
    key = key[sort]
    cum = np.concatenate([[0], np.cumsum(amount[sort])])
    join_key = np.sort(join_day * n + tree.pre)
    has_parent = tree.parent >= 0
    recruit_key = np.sort(tree.parent[has_parent] * span + join_day[has_parent])
    days = np.arange(span, dtype=np.int64)
    metric_names = {
        "gv": ["GROUP_VOLUME", "AT_RISK"],
        "infl": ["INFLUENCE"],
        "rec": ["RECRUITS"],
        "size": ["DOWNLINE_SIZE"],
    }
    member_of = {name: set(map(int, idx)) for name, idx in chosen.items()}
    rows: list[dict[str, Any]] = []
    for u in map(int, candidates):
        pre, last, depth, height = (
            int(tree.pre[u]),
            int(tree.last[u]),
            int(tree.depth[u]),
            int(tree.height[u]),
        )
        base = (days[None, :] * levels + depth + np.arange(height + 1)[:, None]) * n
        per_level = (
            cum[np.searchsorted(key, base + last + 1)] - cum[np.searchsorted(key, base + pre)]
        )
        by_day = np.concatenate(
            [np.zeros((height + 1, 1), dtype=np.int64), np.cumsum(per_level, 1)], 1
        )
        scaled = sum(
            (by_day[k].astype(object) * (1 << (height - k)) for k in range(height + 1)),
            start=np.zeros(span + 1, dtype=object),
        )
        joins = np.searchsorted(join_key, days * n + last + 1) - np.searchsorted(
            join_key, days * n + pre
        )
        joins[join_day[u]] -= 1
        recruits = np.searchsorted(recruit_key, u * span + days + 1) - np.searchsorted(
            recruit_key, u * span + days
        )
        rows.append(
            {
                "id": tree.ids[u],
                "pre": pre,
                "last": last,
                "depth": depth,
                "height": height,
                "metrics": sorted(
                    {m for name, ms in metric_names.items() if u in member_of[name] for m in ms}
                ),
                "gv": by_day.sum(axis=0).tolist(),
                "size": [0, *np.cumsum(joins).tolist()],
                "rec": [0, *np.cumsum(recruits).tolist()],
                "infl": [str(x) for x in scaled],
            }
        )
    return rows


@dataclass
class _Days:
    """Every member's volume and order count per day, one row per (member, day) with orders."""

    member: np.ndarray
    day: np.ndarray  # days since ``first``
    amount: np.ndarray
    count: np.ndarray


def _aggregate(member: np.ndarray, day: np.ndarray, amount: np.ndarray, span: int) -> _Days:
    """Sums orders per (member, day), rows sorted by member then day."""
    key = member * span + day
    order = np.argsort(key, kind="stable")
    key = key[order]
    if not len(key):
        empty = np.zeros(0, dtype=np.int64)
        return _Days(empty, empty, empty, empty)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(key)) + 1])
    amounts = np.add.reduceat(amount[order], starts)
    counts = np.diff(np.concatenate([starts, [len(key)]]))
    return _Days(key[starts] // span, key[starts] % span, amounts, counts)


def _mark_rows(
    tree: _Tree, days: _Days, join_day: np.ndarray, span: int
) -> Iterator[dict[str, Any]]:
    """Level checkpoints: every CHECKPOINT_EVERY-th member of a level in pre-order, with per-day
    prefix sums (over days) of the volume, orders and joins of its level up to it."""
    n = len(tree.ids)
    by_level = np.lexsort((tree.pre, tree.depth))
    depth_sorted = tree.depth[by_level]
    level_first = np.searchsorted(depth_sorted, depth_sorted, "left")
    position = np.empty(n, dtype=np.int64)
    position[by_level] = np.arange(n) - level_first
    # A member at position p counts in every checkpoint at a position >= p of its level.
    bucket = -(-position // CHECKPOINT_EVERY)
    pair_level = tree.depth[days.member]
    pair_order = np.argsort(pair_level, kind="stable")
    pair_level_sorted = pair_level[pair_order]
    # A generator, one level at a time: at 1M members all checkpoints hold ~70M integers.
    for d in np.unique(tree.depth):
        lo, hi = np.searchsorted(depth_sorted, [d, d + 1])
        members = by_level[lo:hi]
        marks = -(-(hi - lo) // CHECKPOINT_EVERY)
        plo, phi = np.searchsorted(pair_level_sorted, [d, d + 1])
        pairs = pair_order[plo:phi]
        # Members after the level's last checkpoint are in none (reads take them one by one).
        pairs = pairs[bucket[days.member[pairs]] < marks]
        counted = members[bucket[members] < marks]
        cells = bucket[days.member[pairs]] * span + days.day[pairs]
        size = marks * span
        gv = _sums(cells, days.amount[pairs], size)
        orders = _sums(cells, days.count[pairs], size)
        joined = np.bincount(bucket[counted] * span + join_day[counted], minlength=size)
        tables = []
        for table in (gv, orders, joined):
            grid = table.astype(np.int64).reshape(marks, span).cumsum(0).cumsum(1)
            tables.append(np.hstack([np.zeros((marks, 1), dtype=np.int64), grid]).tolist())
        pres = tree.pre[members[::CHECKPOINT_EVERY]].tolist()
        for q, pre in enumerate(pres):
            yield {
                "depth": int(d),
                "pre": pre,
                "gv": tables[0][q],
                "n": tables[1][q],
                "joined": tables[2][q],
            }


def _read_orders(
    driver: neo4j.Driver, database: str, index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, Any, Any]:
    """Every unrefunded order as (member index, absolute day, amount), the number of orders of
    known buyers, and the latest paid_at and refunded_at seen."""
    span, _, _ = driver.execute_query(
        ORDER_SPAN, database_=database, routing_=neo4j.RoutingControl.READ
    )
    members: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    days: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    amounts: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    total = 0
    max_paid: Any = None
    max_refunded: Any = None
    if span and span[0]["lo"] is not None:
        lo, hi, n = span[0]["lo"].to_native(), span[0]["hi"].to_native(), span[0]["n"]
        chunks = max(1, -(-n // ORDER_CHUNK))
        step = (hi - lo) / chunks
        # The last chunk ends a second after the latest order (a half-open range).
        cuts = [lo + step * c for c in range(chunks)] + [hi + timedelta(seconds=1)]
        for c in range(chunks):
            records, _, _ = driver.execute_query(
                READ_ORDERS,
                lo=cuts[c],
                hi=cuts[c + 1],
                offset=BUCKET_OFFSET_S,
                day=DAY_S,
                database_=database,
                routing_=neo4j.RoutingControl.READ,
            )
            r = records[0]
            ids = r["ids"]
            # A buyer who joined while we were reading is not numbered: the delta counts it.
            who = np.fromiter((index.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))
            day = np.asarray(r["days"], dtype=np.int64)
            amount = np.asarray(r["amounts"], dtype=np.int64)
            known = who >= 0
            total += int(known.sum())
            kept = known & (day >= 0)
            members.append(who[kept])
            days.append(day[kept])
            amounts.append(amount[kept])
            if r["max_paid"] is not None and (max_paid is None or r["max_paid"] > max_paid):
                max_paid = r["max_paid"]
            mr = r["max_refunded"]
            if mr is not None and (max_refunded is None or mr > max_refunded):
                max_refunded = mr
    return (
        np.concatenate(members),
        np.concatenate(days),
        np.concatenate(amounts),
        total,
        max_paid,
        max_refunded,
    )


def refresh(
    driver: neo4j.Driver,
    database: str = "neo4j",
    *,
    candidates: int = RANK_CANDIDATES,
    resample: bool = True,
) -> RollupReport:
    """Rebuilds every rollup from the live graph; safe to run any time and to repeat.

    Ends by resampling the indexes it changed (graph/statistics.py) unless ``resample`` is False.
    Raises SettlementBusy, reading nothing, while a settlement run holds its lock: the run inserts
    ledger lines into the members' relationship chains this reads the tree from, and on Neo4j 5.26
    such a read may miss a sponsor (neo4j/neo4j#13741), which would number a wrong tree.
    """
    lock = read_lock(driver, database=database)
    if lock is not None:
        raise SettlementBusy("nothing was refreshed: " + busy_message(lock))
    started = time.perf_counter()
    version = uuid.uuid4().hex
    records, _, _ = driver.execute_query(
        READ_MEMBERS, database_=database, routing_=neo4j.RoutingControl.READ
    )
    ids: list[str] = records[0]["ids"]
    sponsors: list[str | None] = [sponsor or None for sponsor in records[0]["sponsors"]]
    tree = _number(ids, sponsors, records[0]["joined"])
    index = {member: i for i, member in enumerate(ids)}
    n = len(ids)

    order_member, order_day, order_amount, order_total, max_paid, max_refunded = _read_orders(
        driver, database, index
    )

    join_abs = (tree.joined + BUCKET_OFFSET_S) // DAY_S
    every_day = np.concatenate([order_day, join_abs])
    first = int(every_day.min()) if len(every_day) else 0
    last_day = int(every_day.max()) if len(every_day) else 0
    span = last_day - first + 1
    join_day = join_abs - first
    days = _aggregate(order_member, order_day - first, order_amount, span)

    # All-time metrics: group volume by pre-order ranges, influence exactly as an integer over
    # 2^scale bottom-up (Python integers: it outgrows 64 bits).
    pv = _sums(days.member, days.amount, n)
    gv = _subtree_sums(tree, pv)
    scale = int(tree.height.max(initial=0)) + 1
    infl: list[int] = [v << scale for v in pv.tolist()]
    parent = tree.parent.tolist()
    for i in tree.order[::-1].tolist():
        p = parent[i]
        if p >= 0:
            infl[p] += infl[i] >> 1

    ranks = _rank_series(
        tree, days.member, days.day, days.amount, join_day, first, span, candidates
    )
    for batch in _batches(ranks.rows, 200):
        driver.execute_query(WRITE_SERIES, rows=batch, version=version, database_=database)

    checkpoints = 0
    for batch in _batches(_mark_rows(tree, days, join_day, span), 1_000):
        driver.execute_query(WRITE_MARKS, rows=batch, version=version, database_=database)
        checkpoints += len(batch)

    # Per member, its days with volume and the running sums over them (from 0).
    member_first = np.searchsorted(days.member, np.arange(n + 1))
    cum_amount = np.concatenate([[0], np.cumsum(days.amount)])
    cum_count = np.concatenate([[0], np.cumsum(days.count)])
    day_list = days.day.tolist()
    cum_amount_list = cum_amount.tolist()
    cum_count_list = cum_count.tolist()
    starts = member_first.tolist()
    pre, last_pre = tree.pre.tolist(), tree.last.tolist()
    depth, height = tree.depth.tolist(), tree.height.tolist()
    gv_list, join_list = gv.tolist(), join_day.tolist()
    # All-time downline size and recruits here rather than in a second pass over every member
    # (cypher/rollups.cypher computes the same on its own).
    size_list = (tree.last - tree.pre).tolist()
    recruit_list = np.bincount(tree.parent[tree.parent >= 0], minlength=n).tolist()

    def member_rows() -> Iterator[dict[str, Any]]:
        for i in range(n):
            s, e = starts[i], starts[i + 1]
            base_amount, base_count = cum_amount_list[s], cum_count_list[s]
            yield {
                "id": ids[i],
                "pre": pre[i],
                "last": last_pre[i],
                "depth": depth[i],
                "height": height[i],
                "pv_days": day_list[s:e],
                "pv_cum": [x - base_amount for x in cum_amount_list[s : e + 1]],
                "pv_n": [x - base_count for x in cum_count_list[s : e + 1]],
                "join_day": join_list[i],
                "all_gv": gv_list[i],
                "all_infl": infl[i] >> scale,
                "infl_num": str(infl[i] >> (scale - height[i])),
                "all_size": size_list[i],
                "all_recruits": recruit_list[i],
            }

    for batch in _batches(member_rows(), WRITE_BATCH):
        driver.execute_query(WRITE_MEMBERS, rows=batch, database_=database)
    with driver.session(database=database) as session:
        session.run(DELETE_MARKS, version=version).consume()

    platform_gv = _sums(days.day, days.amount, span)
    platform_n = _sums(days.day, days.count, span)
    state = {
        "version": version,
        "day0": first,
        "days": span,
        "members": n,
        "orders": order_total,
        "max_paid_at": max_paid,
        "max_refunded_at": max_refunded,
        "max_joined_at": (datetime.fromtimestamp(int(tree.joined.max()), tz=UTC) if n else None),
        "gv": [0, *np.cumsum(platform_gv).tolist()],
        "n": [0, *np.cumsum(platform_n).tolist()],
        "checkpoint_every": CHECKPOINT_EVERY,
        "rank_months": ranks.months,
        **{f"rank_bound_{name}": bound for name, bound in ranks.bounds.items()},
    }
    driver.execute_query(WRITE_STATE, key=STATE_KEY, state=state, database_=database)
    driver.execute_query(DELETE_SERIES, version=version, database_=database)
    if resample:
        statistics.resample(driver, database=database)
    return RollupReport(
        version=version,
        members=n,
        orders=order_total,
        checkpoints=checkpoints,
        days=span,
        seconds=time.perf_counter() - started,
    )
