"""Small networks for the rollup tests, loaded through tests/network.py, and the Python model
of them.

The model computes every number of domain.md straight from its definition, walking the tree,
so the rollups are checked against something that shares none of their machinery.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import neo4j

from graph.orders import record_order
from tests import network

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 1, tzinfo=CST)


def at(day: float) -> datetime:
    return T0 + timedelta(days=day)


@dataclass
class Net:
    """members: id -> (sponsor, joined_at); orders: id -> (buyer, amount, paid_at, refunded_at)."""

    members: dict[str, tuple[str | None, datetime]] = field(default_factory=dict)
    orders: dict[str, tuple[str, int, datetime, datetime | None]] = field(default_factory=dict)

    def member(self, member_id: str, sponsor: str | None, day: float = 0) -> None:
        self.members[member_id] = (sponsor, at(day))

    def order(
        self, order_id: str, buyer: str, amount: int, day: float, refunded: float | None = None
    ) -> None:
        self.orders[order_id] = (buyer, amount, at(day), None if refunded is None else at(refunded))

    def children(self, member_id: str) -> list[str]:
        return [m for m, (s, _) in self.members.items() if s == member_id]

    def below(self, member_id: str) -> dict[str, int]:
        """Every member of the subtree with its depth below ``member_id``."""
        out = {member_id: 0}
        todo = [member_id]
        while todo:
            m = todo.pop()
            for c in self.children(m):
                out[c] = out[m] + 1
                todo.append(c)
        return out

    def kept(self, buyer: str, start: datetime | None, end: datetime | None) -> list[int]:
        return [
            amount
            for b, amount, paid, refunded in self.orders.values()
            if b == buyer
            and refunded is None
            and (start is None or paid >= start)
            and (end is None or paid < end)
        ]

    def revenue(
        self, u: str, start: datetime | None, end: datetime | None, max_depth: int | None
    ) -> dict[int, tuple[int, int, int]]:
        """depth -> (group volume, order count, members joined before end), non-empty depths."""
        out: dict[int, list[int]] = {}
        for v, k in self.below(u).items():
            if max_depth is not None and k > max_depth:
                continue
            if end is not None and self.members[v][1] >= end:
                continue
            row = out.setdefault(k, [0, 0, 0])
            kept = self.kept(v, start, end)
            row[0] += sum(kept)
            row[1] += len(kept)
            row[2] += 1
        return {k: (r[0], r[1], r[2]) for k, r in sorted(out.items())}

    def metrics(
        self, u: str, start: datetime | None, end: datetime | None
    ) -> tuple[int, int, int, int, int]:
        """(downline size, group volume, recruits, influence, at risk ppm)."""
        below = self.below(u)
        size = sum(
            1 for v, k in below.items() if k > 0 and (end is None or self.members[v][1] < end)
        )
        pv = {v: sum(self.kept(v, start, end)) for v in below}
        gv = sum(pv.values())
        recruits = sum(
            1
            for c in self.children(u)
            if (start is None or self.members[c][1] >= start)
            and (end is None or self.members[c][1] < end)
        )
        deepest = max(below.values())
        influence = sum(pv[v] * 2 ** (deepest - k) for v, k in below.items()) // 2**deepest
        platform = sum(sum(self.kept(m, start, end)) for m in self.members)
        risk = gv * 1_000_000 // platform if platform else 0
        return size, gv, recruits, influence, risk

    def ranking(
        self, index: int, start: datetime | None, end: datetime | None, limit: int
    ) -> list[tuple[str, int]]:
        """Highest first, ties by member id; at risk (index 4) ranks by its exact share, the
        group volume (index 1)."""
        by = 1 if index == 4 else index
        rows = [(m, self.metrics(m, start, end)) for m in self.members]
        rows.sort(key=lambda mv: (-mv[1][by], mv[0]))
        return [(m, v[index]) for m, v in rows[:limit]]

    def seed(self, driver: neo4j.Driver, folder: Path) -> None:
        """Writes the CSV files and loads them the way ``downline load`` does."""
        files = network.write(
            folder,
            [network.MemberRow(m, s, joined) for m, (s, joined) in self.members.items()],
            [network.ProductRow("SKU1", "thing", 10_000, 1000)],
            [
                network.OrderRow(o, "RETAIL", b, None, "SKU1", amount, paid, refunded)
                for o, (b, amount, paid, refunded) in self.orders.items()
            ],
        )
        network.load(driver, files)


def record(
    arun: Callable[..., Any], net: Net, order_id: str, buyer: str, amount: int, day: float
) -> None:
    """A retail order recorded through the real write path and in the model alike."""
    arun(
        record_order,
        order_id=order_id,
        kind="RETAIL",
        buyer_id=buyer,
        seller_id=None,
        sku="SKU1",
        amount=amount,
        paid_at=at(day),
    )
    net.order(order_id, buyer, amount, day)
