"""The rollup batch: tree numbering, time buckets and level prefix sums the subtree reads need.

What it writes (docs/model.md, "Rollups", says why):
- on every member: ``pre`` (pre-order number), ``last`` (the largest ``pre`` in its subtree),
  ``depth`` (hops below its root), ``height`` (deepest level of its subtree, relative), its own
  volume per day as sparse arrays (``pv_days``, ``pv_cum``, ``pv_n``), ``join_day``, and the
  all-time key-node metrics (``all_gv``, ``all_size``, ``all_recruits``, ``all_infl``) that the
  rankings walk in index order;
- ``(:LevelMark {depth, pre, gv, n, joined})`` checkpoints: every ``CHECKPOINT_EVERY``-th member
  of each tree level (in pre-order) carries, per day, the cumulative volume, order count and joins
  of all members of its level up to it. A subtree is one pre-order range per level, so a level's
  sum over any run of days is two checkpoint look-ups plus fewer than ``CHECKPOINT_EVERY``
  members on each side;
- one ``(:RollupState {key: 'rollups'})`` with the watermarks that tell what changed since.

The numbering needs the whole tree at once, so it is computed here in Python from one read of
(member, sponsor) pairs and written back in ``UNWIND`` batches.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import neo4j
import numpy as np

from downline.settings import ROOT
from graph.cypherfiles import run_file

CHECKPOINT_EVERY = 16
WRITE_BATCH = 10_000
# Day buckets start at midnight China Standard Time, so windows that begin and end on a local
# midnight (a day, a month, the last 30 days) need no partial-day scan at all.
BUCKET_TZ = timezone(timedelta(hours=8))
DAY_S = 86_400
BUCKET_OFFSET_S = 8 * 3600
STATE_KEY = "rollups"
CYPHER_FILE = ROOT / "cypher" / "rollups.cypher"


def day_of(epoch_s: int) -> int:
    """The absolute day bucket (days since 1970-01-01 CST) of an instant."""
    return (epoch_s + BUCKET_OFFSET_S) // DAY_S


def day_start(day: int) -> datetime:
    return datetime.fromtimestamp(day * DAY_S - BUCKET_OFFSET_S, tz=UTC).astimezone(BUCKET_TZ)


@dataclass(frozen=True)
class RollupReport:
    version: str
    members: int
    orders: int
    checkpoints: int
    days: int
    seconds: float


READ_MEMBERS = """
MATCH (m:Member)
OPTIONAL MATCH (m)-[:SPONSORED_BY]->(s:Member)
RETURN m.id AS id, s.id AS sponsor, m.joined_at.epochSeconds AS joined
"""

# Grouped per buyer inside Neo4j so ten million orders cross the wire as one list per member.
READ_ORDERS = """
MATCH (b:Member)-[:BOUGHT]->(o:Order)
WITH b, o.amount AS amount, o.paid_at AS paid_at, o.refunded_at AS refunded_at
RETURN b.id AS id,
       [x IN collect(CASE WHEN refunded_at IS NULL THEN [paid_at.epochSeconds, amount] END)
        WHERE x IS NOT NULL] AS kept,
       count(*) AS total, max(paid_at) AS max_paid, max(refunded_at) AS max_refunded
"""

WRITE_MEMBERS = """
UNWIND $rows AS r
MATCH (m:Member {id: r.id})
SET m.pre = r.pre, m.last = r.last, m.depth = r.depth, m.height = r.height,
    m.pv_days = r.pv_days, m.pv_cum = r.pv_cum, m.pv_n = r.pv_n, m.join_day = r.join_day,
    m.all_gv = r.all_gv, m.all_infl = r.all_infl, m.rolled_transfer = m.transferred_at
"""

DELETE_MARKS = """
MATCH (c:LevelMark) WHERE c.version <> $version
CALL (c) { DELETE c } IN TRANSACTIONS OF 10000 ROWS
"""

WRITE_MARKS = """
UNWIND $rows AS r
CREATE (c:LevelMark {version: $version, depth: r.depth, pre: r.pre, gv: r.gv, n: r.n,
                     joined: r.joined})
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


def refresh(driver: neo4j.Driver, database: str = "neo4j") -> RollupReport:
    """Rebuilds every rollup from the live graph; safe to run any time and to repeat."""
    started = time.perf_counter()
    version = uuid.uuid4().hex
    records, _, _ = driver.execute_query(
        READ_MEMBERS, database_=database, routing_=neo4j.RoutingControl.READ
    )
    ids = [r["id"] for r in records]
    tree = _number(ids, [r["sponsor"] for r in records], [r["joined"] for r in records])
    index = {member: i for i, member in enumerate(ids)}
    n = len(ids)

    order_records, _, _ = driver.execute_query(
        READ_ORDERS, database_=database, routing_=neo4j.RoutingControl.READ
    )
    personal: dict[int, dict[int, list[int]]] = {}
    order_total = 0
    max_paid: Any = None
    max_refunded: Any = None
    for r in order_records:
        i = index.get(r["id"])
        if i is None:  # a buyer who joined while we were reading: the delta counts it
            continue
        order_total += r["total"]
        if r["max_paid"] is not None and (max_paid is None or r["max_paid"] > max_paid):
            max_paid = r["max_paid"]
        mr = r["max_refunded"]
        if mr is not None and (max_refunded is None or mr > max_refunded):
            max_refunded = mr
        days: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for paid, amount in r["kept"]:
            cell = days[day_of(paid)]
            cell[0] += amount
            cell[1] += 1
        if days:
            personal[i] = days

    all_days = [d for days in personal.values() for d in days]
    join_days = [day_of(int(j)) for j in tree.joined]
    first = min([*all_days, *join_days], default=0)
    span = max([*all_days, *join_days], default=first) - first + 1
    pv = np.zeros(n, dtype=np.int64)
    for i, days in personal.items():
        pv[i] = sum(cell[0] for cell in days.values())

    # All-time metrics bottom-up; influence exactly as an integer over 2^scale.
    scale = int(tree.height.max(initial=0)) + 1
    gv = pv.copy()
    infl: list[int] = [int(v) << scale for v in pv]
    for i in tree.order[::-1]:
        p = tree.parent[i]
        if p >= 0:
            gv[p] += gv[i]
            infl[p] += infl[i] >> 1

    def member_rows() -> Iterator[dict[str, Any]]:
        for i in range(n):
            days = personal.get(i, {})
            keys = sorted(days)
            row: dict[str, Any] = {
                "id": ids[i],
                "pre": int(tree.pre[i]),
                "last": int(tree.last[i]),
                "depth": int(tree.depth[i]),
                "height": int(tree.height[i]),
                "pv_days": [k - first for k in keys],
                "pv_cum": [0, *np.cumsum([days[k][0] for k in keys]).tolist()],
                "pv_n": [0, *np.cumsum([days[k][1] for k in keys]).tolist()],
                "join_day": join_days[i] - first,
                "all_gv": int(gv[i]),
                "all_infl": infl[i] >> scale,
            }
            yield row

    def mark_rows() -> Iterator[dict[str, Any]]:
        current_depth = -1
        position = 0
        run_gv = np.zeros(span, dtype=np.int64)
        run_n = np.zeros(span, dtype=np.int64)
        run_joined = np.zeros(span, dtype=np.int64)
        # Members level by level, each level in pre-order.
        for i in sorted(range(n), key=lambda i: (tree.depth[i], tree.pre[i])):
            if tree.depth[i] != current_depth:
                current_depth = int(tree.depth[i])
                position = 0
                run_gv[:] = 0
                run_n[:] = 0
                run_joined[:] = 0
            for day, (amount, count) in personal.get(i, {}).items():
                run_gv[day - first] += amount
                run_n[day - first] += count
            run_joined[join_days[i] - first] += 1
            if position % CHECKPOINT_EVERY == 0:
                yield {
                    "depth": current_depth,
                    "pre": int(tree.pre[i]),
                    "gv": [0, *np.cumsum(run_gv).tolist()],
                    "n": [0, *np.cumsum(run_n).tolist()],
                    "joined": [0, *np.cumsum(run_joined).tolist()],
                }
            position += 1

    checkpoints = 0
    for batch in _batches(mark_rows(), 1_000):
        driver.execute_query(WRITE_MARKS, rows=batch, version=version, database_=database)
        checkpoints += len(batch)
    for batch in _batches(member_rows(), WRITE_BATCH):
        driver.execute_query(WRITE_MEMBERS, rows=batch, database_=database)
    with driver.session(database=database) as session:
        session.run(DELETE_MARKS, version=version).consume()

    platform_gv = np.zeros(span, dtype=np.int64)
    platform_n = np.zeros(span, dtype=np.int64)
    for days in personal.values():
        for day, (amount, count) in days.items():
            platform_gv[day - first] += amount
            platform_n[day - first] += count
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
    }
    driver.execute_query(WRITE_STATE, key=STATE_KEY, state=state, database_=database)
    run_file(driver, CYPHER_FILE, {}, database=database)
    return RollupReport(
        version=version,
        members=n,
        orders=order_total,
        checkpoints=checkpoints,
        days=span,
        seconds=time.perf_counter() - started,
    )
