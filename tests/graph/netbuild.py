"""Small networks for the settlement tests in a shorthand, loaded through tests/network.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import neo4j

from graph.plans import Plan, store_plan
from tests import network

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=CST)
PRODUCTS = {
    "GP399": (39_900, 0),
    "GP499": (49_900, 0),
    "SKU1": (10_000, 1500),
    "SKU2": (3_333, 777),
}

DEFAULT_PLAN = Plan(
    id="default",
    effective_from=datetime(2000, 1, 1, tzinfo=CST),
    hold_days=7,
    tiers=3,
    self_purchase=True,
    retail_override_bp=(1000, 500),
    gift_cost_bp=3500,
    gift_shares_bp=(5000, 3000, 2000),
)


@dataclass(frozen=True)
class Ord:
    """One order: ``Ord("O1", "GIFT_PACKAGE", buyer="M2", day=1)``; day counts from T0."""

    id: str
    kind: str
    buyer: str
    seller: str | None = None
    sku: str | None = None
    amount: int | None = None
    day: float = 1
    refunded_day: float | None = None

    @property
    def paid_at(self) -> datetime:
        return T0 + timedelta(days=self.day)

    @property
    def refunded_at(self) -> datetime | None:
        return None if self.refunded_day is None else T0 + timedelta(days=self.refunded_day)

    @property
    def product(self) -> str:
        return self.sku or ("GP399" if self.kind == "GIFT_PACKAGE" else "SKU1")

    @property
    def fen(self) -> int:
        return self.amount if self.amount is not None else PRODUCTS[self.product][0]


def at(day: float) -> datetime:
    return T0 + timedelta(days=day)


def seed(
    driver: neo4j.Driver,
    folder: Path,
    members: Mapping[str, str | None],
    orders: Iterable[Ord] = (),
    *,
    plan: Plan | None = DEFAULT_PLAN,
) -> None:
    """members: id -> sponsor id (sponsors first not required); all join at T0."""
    files = network.write(
        folder,
        [network.MemberRow(m, sponsor, T0) for m, sponsor in members.items()],
        [network.ProductRow(sku, sku, price, bp) for sku, (price, bp) in PRODUCTS.items()],
        [
            network.OrderRow(
                o.id, o.kind, o.buyer, o.seller, o.product, o.fen, o.paid_at, o.refunded_at
            )
            for o in orders
        ],
    )
    network.load(driver, files)
    if plan is not None:
        store_plan(driver, plan)


def payouts(driver: neo4j.Driver) -> dict[str, tuple[str, int]]:
    """key -> (member_id, amount) of every payout and reversal."""
    records, _, _ = driver.execute_query(
        """
        MATCH (o:Order)-[l:PAID|REVERSED]->(m:Member)
        RETURN o.id + '|' + toString(l.tier) + CASE type(l) WHEN 'PAID' THEN '|P' ELSE '|R' END
               AS key, m.id AS member, l.amount AS amount
        """
    )
    return {r["key"]: (r["member"], r["amount"]) for r in records}


def net(driver: neo4j.Driver) -> dict[tuple[str, str], int]:
    """(member_id, order_id) -> net fen, zero entries dropped."""
    records, _, _ = driver.execute_query(
        "MATCH (o:Order)-[l:PAID|REVERSED]->(m:Member)"
        " RETURN m.id AS m, o.id AS o, sum(l.amount) AS fen"
    )
    return {(r["m"], r["o"]): r["fen"] for r in records if r["fen"] != 0}


def order_books(driver: neo4j.Driver, order_id: str) -> tuple[int | None, int | None]:
    """(pool, retained) recorded on an order by settlement."""
    records, _, _ = driver.execute_query(
        "MATCH (o:Order {id: $id}) RETURN o.pool AS pool, o.retained AS retained", id=order_id
    )
    return records[0]["pool"], records[0]["retained"]
