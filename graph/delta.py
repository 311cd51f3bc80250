"""What changed since the last rollup refresh: new orders, refunds, new members, transfers.

The reads add it to the rolled-up numbers in Python. Reading and decoding it is the largest
fixed cost of a read on a day not yet refreshed, so a ``RollupCache`` keeps the decoded delta
for as long as the store's change mark (``MARK``) is the same: the rollup version, the change
counter every product write path bumps (graph/db.py ``bump_changes``), the order and member
counts and the latest refund and transfer. A write through the product, or a raw insert,
refund or transfer that moves any of those, is seen by the very next read.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import neo4j

from graph.db import CHANGES_KEY, records

STATE_KEY = "rollups"


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
    buyer: str = ""


@dataclass(frozen=True)
class NewMember:
    id: str
    joined_at: datetime
    anchor: Anchor | None  # nearest rolled-up upline
    below_anchor: int  # hops from the anchor down to this member
    chain: tuple[str, ...]  # current upline ids, nearest first
    orders: tuple[tuple[int, datetime], ...]  # unrefunded (amount, paid_at)

    def below(self, member_id: str) -> int | None:
        """Hops from ``member_id`` (a member without a pre-order number) down to this member,
        when this member is counted through the chain: not when a rolled-up member lies
        between them (then it is counted where that member's subtree is placed)."""
        if member_id == self.id:
            return 0
        if member_id not in self.chain:
            return None
        hops = self.chain.index(member_id) + 1
        return hops if self.anchor is None or hops < self.below_anchor else None


@dataclass(frozen=True)
class Moved:
    """A member transferred since the refresh: its subtree as the refresh numbered it, with the
    refresh's all-time values of that subtree, and the chain it hangs from now."""

    id: str
    pre: int | None
    last: int
    depth: int
    height: int
    uplines: tuple[str, ...]  # current upline ids, nearest first
    gv: int = 0
    size: int = 0
    recruits: int = 0
    infl_num: int | None = None  # Σ_k volume_k · 2^(height − k) at the refresh

    @property
    def infl_bound(self) -> int:
        """At least the subtree's all-time influence at the refresh."""
        return self.gv if self.infl_num is None else -(-self.infl_num >> self.height)


@dataclass(frozen=True)
class Piece:
    """A part of a member's current subtree: the subtree ``root`` had at the refresh (its
    pre-order range), ``shift`` levels below the member, added (``sign`` 1) or taken out (-1)."""

    root: str
    pre: int
    last: int
    depth: int
    shift: int
    sign: int


@dataclass
class Delta:
    """What changed since the last refresh, or ``stale`` when it cannot be told cheaply."""

    day0: int = 0
    days: int = 0
    stale: bool = True
    new_orders: list[DeltaOrder] = field(default_factory=list)
    refunds: list[DeltaOrder] = field(default_factory=list)
    new_members: list[NewMember] = field(default_factory=list)
    moved: list[Moved] = field(default_factory=list)
    platform_gv: list[int] = field(default_factory=list)
    platform_n: list[int] = field(default_factory=list)
    version: str = ""
    members: int = 0
    rank_months: list[int] = field(default_factory=list)
    rank_bounds: dict[str, list[int]] = field(default_factory=dict)
    # The refresh's watermarks: partial days are read as the refresh saw them (``DayRows``)
    # and what came after is added from the lists above.
    max_paid_at: Any = None
    max_refunded_at: Any = None

    def affected(self, member_id: str, pre: int | None, last: int | None) -> bool:
        """Whether a transfer since the refresh moved a member into or out of this subtree."""
        for m in self.moved:
            if member_id in m.uplines:
                return True
            if m.pre is None or pre is None or last is None:
                continue
            if pre < m.pre <= last:
                return True
        return False

    def pieces(
        self, member_id: str, pre: int | None, last: int | None, depth: int | None
    ) -> list[Piece]:
        """The member's current subtree as refresh-numbered subtrees, added and taken out.

        Its own subtree as numbered, less the transferred members in it (the outermost ones),
        plus every transferred member whose chain now passes through it, less the transferred
        members in theirs. Nested transfers, moves and moves back all come out exact, and
        every part is read by pre-order range: nothing is walked.
        """
        out: list[Piece] = []
        if pre is not None and last is not None and depth is not None:
            out.append(Piece(member_id, pre, last, depth, 0, 1))
            out += self._holes(pre, last, depth, 0)
        for m in self.moved:
            if m.pre is None or member_id not in m.uplines:
                continue
            shift = m.uplines.index(member_id) + 1
            out.append(Piece(m.id, m.pre, m.last, m.depth, shift, 1))
            out += self._holes(m.pre, m.last, m.depth, shift)
        return out

    def _holes(self, pre: int, last: int, depth: int, shift: int) -> list[Piece]:
        inside = [m for m in self.moved if m.pre is not None and pre < m.pre <= last]
        return [
            Piece(m.id, m.pre, m.last, m.depth, m.depth - depth + shift, -1)
            for m in inside
            if m.pre is not None
            and not any(o.pre is not None and o.pre < m.pre <= o.last for o in inside)
        ]

    @property
    def changed(self) -> bool:
        return bool(self.stale or self.new_orders or self.refunds or self.new_members or self.moved)


# Everything that changed since the refresh, in one round trip: orders paid after the
# watermark, refunds after it, members who joined after it and have no pre-order number yet
# (with their chain up to a root), transfers not rolled up, and the node counts that tell
# whether the watermarks found everything.
DELTA = """
MATCH (s:RollupState {key: $key})
WITH s, coalesce(s.max_paid_at, $epoch) AS max_paid,
     coalesce(s.max_refunded_at, $epoch) AS max_refunded,
     coalesce(s.max_joined_at, $epoch) AS max_joined
CALL (max_paid) {
  MATCH (o:Order) USING INDEX SEEK o:Order(paid_at) WHERE o.paid_at > max_paid
  MATCH (b)-[:BOUGHT]->(o)
  WHERE b.pre IS NOT NULL
  RETURN collect([b.pre, b.depth, o.amount, o.paid_at, o.refunded_at IS NOT NULL, b.id])
    AS new_orders
}
CALL (max_paid, max_refunded) {
  MATCH (o:Order) USING INDEX SEEK o:Order(refunded_at)
  WHERE o.refunded_at > max_refunded AND o.paid_at <= max_paid
  MATCH (b)-[:BOUGHT]->(o)
  WHERE b.pre IS NOT NULL
  RETURN collect([b.pre, b.depth, o.amount, o.paid_at]) AS refunds
}
CALL (max_joined) {
  MATCH (m:Member) USING INDEX SEEK m:Member(joined_at)
  WHERE m.joined_at >= max_joined AND m.pre IS NULL
  MATCH p = (m)-[:SPONSORED_BY*0..]->(r)
  WHERE NOT (r)-[:SPONSORED_BY]->()
  RETURN collect({id: m.id, joined_at: m.joined_at,
                  chain: [n IN nodes(p) | [n.id, n.pre, n.depth]],
                  orders: [(m)-[:BOUGHT]->(o) | [o.amount, o.paid_at, o.refunded_at IS NULL]],
                  order_total: COUNT { (m)-[:BOUGHT]->() }}) AS new_members
}
CALL () {
  MATCH (m:Member) USING INDEX m:Member(transferred_at) WHERE m.transferred_at IS NOT NULL
    AND (m.rolled_transfer IS NULL OR m.rolled_transfer <> m.transferred_at)
  MATCH p = (m)-[:SPONSORED_BY*0..]->(r)
  WHERE NOT (r)-[:SPONSORED_BY]->()
  RETURN collect({id: m.id, pre: m.pre, last: m.last, depth: m.depth, height: m.height,
                  uplines: [n IN tail(nodes(p)) | n.id], gv: m.all_gv, size: m.all_size,
                  recruits: m.all_recruits, infl_num: m.infl_num}) AS moved
}
CALL () { MATCH (o:Order) RETURN count(o) AS orders_now }
CALL () { MATCH (m:Member) RETURN count(m) AS members_now }
RETURN s {.*} AS s, new_orders, refunds, new_members, moved, orders_now, members_now
"""


async def read_delta(tx: neo4j.AsyncManagedTransaction) -> Delta:
    epoch = datetime.fromtimestamp(0).astimezone()
    rows = await records(tx, DELTA, key=STATE_KEY, epoch=epoch)
    if not rows:
        return Delta()
    r = rows[0]
    s = r["s"]
    delta = Delta(day0=s["day0"], days=s["days"], stale=False)
    delta.platform_gv = list(s["gv"])
    delta.platform_n = list(s["n"])
    delta.version = s["version"]
    delta.members = s["members"]
    delta.max_paid_at = s.get("max_paid_at") or epoch
    delta.max_refunded_at = s.get("max_refunded_at") or epoch
    delta.rank_months = list(s.get("rank_months") or [])
    delta.rank_bounds = {
        key.removeprefix("rank_bound_"): list(value)
        for key, value in s.items()
        if key.startswith("rank_bound_")
    }
    for pre, depth, amount, paid_at, refunded, buyer in r["new_orders"]:
        delta.new_orders.append(
            DeltaOrder(pre, depth, amount, paid_at.to_native(), refunded, buyer)
        )
    for pre, depth, amount, paid_at in r["refunds"]:
        delta.refunds.append(DeltaOrder(pre, depth, amount, paid_at.to_native(), True))
    new_member_orders = 0
    for m in r["new_members"]:
        chain = m["chain"]
        anchor: Anchor | None = None
        below = 0
        for hops, (_, pre, depth) in enumerate(chain):
            if pre is not None:
                anchor, below = Anchor(pre, depth), hops
                break
        new_member_orders += m["order_total"]
        delta.new_members.append(
            NewMember(
                id=m["id"],
                joined_at=m["joined_at"].to_native(),
                anchor=anchor,
                below_anchor=below,
                chain=tuple(c[0] for c in chain[1:]),
                orders=tuple(
                    (amount, paid.to_native()) for amount, paid, kept in m["orders"] if kept
                ),
            )
        )
    for m in r["moved"]:
        rolled = m["pre"] is not None
        delta.moved.append(
            Moved(
                id=m["id"],
                pre=m["pre"],
                last=m["last"] if rolled else 0,
                depth=m["depth"] if rolled else 0,
                height=m["height"] if rolled else 0,
                uplines=tuple(m["uplines"]),
                gv=m["gv"] or 0,
                size=m["size"] or 0,
                recruits=m["recruits"] or 0,
                infl_num=None if m["infl_num"] is None else int(m["infl_num"]),
            )
        )
    # Orders recorded since with an older paid_at, or members with an older joined_at, are not
    # found by the watermarks: the counts tell, and then every answer takes the exact walk.
    if r["orders_now"] != s["orders"] + len(delta.new_orders) + new_member_orders:
        delta.stale = True
    if r["members_now"] != s["members"] + len(delta.new_members):
        delta.stale = True
    return delta


# One row, every part an O(1) read: the rollup state and the change counter by their unique
# key, the counts from the count store, and the newest refund and transfer from the end of
# their indexes.
MARK = """
OPTIONAL MATCH (s:RollupState {key: $key})
OPTIONAL MATCH (c:ChangeMark {key: $changes})
CALL () { MATCH (o:Order) RETURN count(o) AS orders }
CALL () { MATCH (m:Member) RETURN count(m) AS members }
CALL () {
  OPTIONAL MATCH (o:Order) USING INDEX o:Order(refunded_at) WHERE o.refunded_at IS NOT NULL
  WITH o ORDER BY o.refunded_at DESC LIMIT 1
  RETURN o.refunded_at AS refunded
}
CALL () {
  OPTIONAL MATCH (m:Member) USING INDEX m:Member(transferred_at)
  WHERE m.transferred_at IS NOT NULL
  WITH m ORDER BY m.transferred_at DESC LIMIT 1
  RETURN m.transferred_at AS transferred
}
RETURN s.version AS version, c.seq AS seq, orders, members, refunded, transferred
"""


@dataclass
class RollupCache:
    """One process's memory of immutable or marked reads: the current delta under its mark,
    values derived from that delta (``derived``, dropped with it), each rollup version's
    partial days (``days``, LRU) and ranking candidates (``candidates``).

    Neo4j stays the source of truth: everything here is keyed by the rollup version or the
    change mark read in the same transaction, so a stale entry is never used.
    """

    mark: tuple[Any, ...] | None = None
    delta: Delta | None = None
    derived: dict[str, Any] = field(default_factory=dict)
    days: OrderedDict[tuple[str, int], Any] = field(default_factory=OrderedDict)
    candidates: dict[str, Any] = field(default_factory=dict)

    def keep(self, mark: tuple[Any, ...], delta: Delta) -> None:
        self.mark, self.delta = mark, delta
        self.derived.clear()


async def current_delta(tx: neo4j.AsyncManagedTransaction, cache: RollupCache | None) -> Delta:
    """The delta, from ``cache`` when the store's mark has not moved since it was read.

    The mark is read before the delta, so a write committed in between is in the delta but
    not in its key: the next read sees a newer mark and reads again. Never the other way.
    """
    if cache is None:
        return await read_delta(tx)
    (row,) = await records(tx, MARK, key=STATE_KEY, changes=CHANGES_KEY)
    mark = tuple(row.values())
    if cache.delta is not None and cache.mark == mark and row["version"] is not None:
        return cache.delta
    delta = await read_delta(tx)
    if row["version"] is not None:
        cache.keep(mark, delta)
    return delta
