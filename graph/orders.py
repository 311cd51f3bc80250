"""Orders and refunds. An order is immutable once recorded, except for its refund time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import neo4j

from contract.rules import DEFAULT_RULES, Rules, check_id, kind_problem
from graph.db import fetch_one, write
from graph.errors import BadInput, Conflict, NotFound
from graph.members import bad_input

KINDS = ("RETAIL", "GIFT_PACKAGE")


@dataclass(frozen=True)
class Order:
    id: str
    kind: str
    buyer_id: str
    seller_id: str | None
    sku: str
    amount: int
    commission_bp: int
    paid_at: datetime
    refunded_at: datetime | None


# Every anchor names its unique index (USING INDEX SEEK): on a store sampled while empty the
# planner was seen to scan the whole Member(id) index instead of seeking the key, and a plan
# must not depend on the statistics (docs/model.md, "Query plans").

ORDER_FIELDS = """
    id: o.id, kind: o.kind, buyer_id: o.buyer_id, seller_id: o.seller_id, sku: o.sku,
    amount: o.amount, commission_bp: o.commission_bp, paid_at: o.paid_at,
    refunded_at: o.refunded_at
"""

ORDER_CONTEXT = """
OPTIONAL MATCH (existing:Order {id: $id}) USING INDEX SEEK existing:Order(id)
OPTIONAL MATCH (buyer:Member {id: $buyer_id}) USING INDEX SEEK buyer:Member(id)
OPTIONAL MATCH (seller:Member {id: $seller_id}) USING INDEX SEEK seller:Member(id)
OPTIONAL MATCH (product:Product {sku: $sku}) USING INDEX SEEK product:Product(sku)
RETURN existing IS NOT NULL AS exists, buyer.joined_at AS buyer_joined_at,
       seller IS NOT NULL AS seller_found, seller.joined_at AS seller_joined_at,
       product.commission_bp AS commission_bp
"""

CREATE_ORDER = f"""
MATCH (buyer:Member {{id: $buyer_id}}), (product:Product {{sku: $sku}})
  USING INDEX SEEK buyer:Member(id) USING INDEX SEEK product:Product(sku)
CREATE (o:Order {{id: $id, kind: $kind, buyer_id: $buyer_id, seller_id: $seller_id, sku: $sku,
                 amount: $amount, commission_bp: product.commission_bp, paid_at: $paid_at,
                 unsettled_since: $paid_at}})
CREATE (buyer)-[:BOUGHT]->(o)
CREATE (o)-[:OF_PRODUCT]->(product)
WITH o
OPTIONAL MATCH (seller:Member {{id: $seller_id}}) USING INDEX SEEK seller:Member(id)
FOREACH (_ IN CASE WHEN seller IS NULL THEN [] ELSE [1] END | CREATE (seller)-[:SOLD]->(o))
RETURN o {{ {ORDER_FIELDS} }} AS order
"""

# After a refund's SET of o.refunded_at (which takes the order's lock, so settled_run is read
# after any settling transaction committed): a settled order waits for its reversal in
# o.unreversed_since (cypher/schema.cypher); one not settled yet gets it when it settles.
AWAIT_REVERSAL = """
WITH o
SET o.unreversed_since = CASE WHEN o.settled_run IS NOT NULL AND o.reversed_run IS NULL
                              THEN o.refunded_at END
"""

REFUND = f"""
MATCH (o:Order {{id: $id}}) USING INDEX SEEK o:Order(id)
SET o.refunded_at = $refunded_at
{AWAIT_REVERSAL}
RETURN o {{ {ORDER_FIELDS} }} AS order
"""

READ_ORDER = f"""
MATCH (o:Order {{id: $id}}) USING INDEX SEEK o:Order(id)
RETURN o {{ {ORDER_FIELDS} }} AS order
"""


def order_from(row: dict[str, Any]) -> Order:
    refunded = row["refunded_at"]
    return Order(
        id=row["id"],
        kind=row["kind"],
        buyer_id=row["buyer_id"],
        seller_id=row["seller_id"],
        sku=row["sku"],
        amount=row["amount"],
        commission_bp=row["commission_bp"],
        paid_at=row["paid_at"].to_native(),
        refunded_at=None if refunded is None else refunded.to_native(),
    )


def check_amount(amount: object, rules: Rules = DEFAULT_RULES) -> int:
    with bad_input():
        return rules.check_amount(amount)


async def record_order(
    driver: neo4j.AsyncDriver,
    *,
    order_id: str,
    kind: str,
    buyer_id: str,
    seller_id: str | None,
    sku: str,
    amount: int,
    paid_at: datetime,
    rules: Rules = DEFAULT_RULES,
    timeout: float | None = None,
    database: str = "neo4j",
) -> Order:
    """Checks the input (contract/rules.py), then what it refers to: an order of a gift
    package product must be a GIFT_PACKAGE, and of any other product RETAIL."""
    if not order_id:
        raise BadInput("order id must not be empty")
    with bad_input():
        check_id(order_id, "order id")
        check_id(buyer_id, "buyer id")
        if seller_id is not None:
            check_id(seller_id, "seller id")
        check_id(sku, "sku")
    if kind not in KINDS:
        raise BadInput(f"kind must be RETAIL or GIFT_PACKAGE, got {kind!r}")
    check_amount(amount, rules)
    with bad_input():
        rules.check_time(paid_at, "paidAt")

    async def work(tx: neo4j.AsyncManagedTransaction) -> Order:
        ctx = await fetch_one(
            tx, ORDER_CONTEXT, id=order_id, buyer_id=buyer_id, seller_id=seller_id, sku=sku
        )
        assert ctx is not None
        if ctx["exists"]:
            raise Conflict(f"order {order_id} already exists")
        if ctx["buyer_joined_at"] is None:
            raise NotFound(f"buyer {buyer_id} does not exist")
        if seller_id is not None and not ctx["seller_found"]:
            raise NotFound(f"seller {seller_id} does not exist")
        if ctx["commission_bp"] is None:
            raise NotFound(f"product {sku} does not exist")
        problem = kind_problem(order_id, kind, sku, ctx["commission_bp"])
        if problem is not None:
            raise BadInput(problem)
        if paid_at < ctx["buyer_joined_at"].to_native():
            raise BadInput(f"order {order_id} is paid before its buyer {buyer_id} joined")
        row = await fetch_one(
            tx,
            CREATE_ORDER,
            id=order_id,
            kind=kind,
            buyer_id=buyer_id,
            seller_id=seller_id,
            sku=sku,
            amount=amount,
            paid_at=paid_at,
        )
        assert row is not None
        return order_from(row["order"])

    return await write(driver, work, timeout=timeout, database=database)


async def refund_order(
    driver: neo4j.AsyncDriver,
    *,
    order_id: str,
    refunded_at: datetime,
    rules: Rules = DEFAULT_RULES,
    timeout: float | None = None,
    database: str = "neo4j",
) -> Order:
    """Records a refund; settlement turns it into reversals if the order already settled."""
    with bad_input():
        check_id(order_id, "order id")
        rules.check_time(refunded_at, "refundedAt")

    async def work(tx: neo4j.AsyncManagedTransaction) -> Order:
        row = await fetch_one(tx, READ_ORDER, id=order_id)
        if row is None:
            raise NotFound(f"order {order_id} does not exist")
        order = order_from(row["order"])
        if order.refunded_at is not None:
            raise Conflict(f"order {order_id} was already refunded at {order.refunded_at}")
        if refunded_at < order.paid_at:
            raise BadInput(f"order {order_id} cannot be refunded before it was paid")
        changed = await fetch_one(tx, REFUND, id=order_id, refunded_at=refunded_at)
        assert changed is not None
        return order_from(changed["order"])

    return await write(driver, work, timeout=timeout, database=database)


async def get_order(
    driver: neo4j.AsyncDriver, order_id: str, *, database: str = "neo4j"
) -> Order | None:
    async def work(tx: neo4j.AsyncManagedTransaction) -> Order | None:
        row = await fetch_one(tx, READ_ORDER, id=order_id)
        return None if row is None else order_from(row["order"])

    async with driver.session(database=database) as session:
        return await session.execute_read(work)
