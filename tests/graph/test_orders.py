"""Recording orders and refunds: each refusal writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import neo4j
import pytest

from graph.errors import BadInput, Conflict, NotFound
from graph.members import register_member
from graph.orders import get_order, record_order, refund_order
from graph.products import upsert_product

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=CST)


def snapshot(driver: neo4j.Driver) -> tuple[int, int, list[Any]]:
    records, _, _ = driver.execute_query(
        "MATCH (n) WITH count(n) AS n MATCH ()-[r]->() WITH n, count(r) AS r"
        " OPTIONAL MATCH (o:Order) RETURN n, r, collect(properties(o)) AS orders"
    )
    return records[0]["n"], records[0]["r"], records[0]["orders"]


@pytest.fixture
def shop(arun: Callable[..., Any]) -> None:
    arun(register_member, member_id="M1", name="张三", joined_at=T0, sponsor_id=None)
    arun(register_member, member_id="M2", name="李四", joined_at=T0 + timedelta(5), sponsor_id="M1")
    arun(upsert_product, sku="SKU1", name="洗发水", price=10_000, commission_bp=1500)
    arun(upsert_product, sku="GP399", name="礼包", price=39_900, commission_bp=0)


def order(**overrides: Any) -> dict[str, Any]:
    return {
        "order_id": "O1",
        "kind": "RETAIL",
        "buyer_id": "M2",
        "seller_id": "M1",
        "sku": "SKU1",
        "amount": 10_000,
        "paid_at": T0 + timedelta(6),
        **overrides,
    }


def test_record_order_links_buyer_seller_and_product(
    arun: Callable[..., Any], graph: neo4j.Driver, shop: None
) -> None:
    recorded = arun(record_order, **order())
    assert recorded.amount == 10_000
    assert recorded.commission_bp == 1500
    assert recorded.refunded_at is None
    records, _, _ = graph.execute_query(
        "MATCH (b:Member)-[:BOUGHT]->(o:Order {id: 'O1'})<-[:SOLD]-(s:Member),"
        " (o)-[:OF_PRODUCT]->(p:Product) RETURN b.id, s.id, p.sku"
    )
    assert [tuple(r) for r in records] == [("M2", "M1", "SKU1")]


def test_rate_change_does_not_change_recorded_orders(arun: Callable[..., Any], shop: None) -> None:
    arun(record_order, **order())
    arun(upsert_product, sku="SKU1", name="洗发水", price=10_000, commission_bp=4000)
    assert arun(get_order, order_id="O1").commission_bp == 1500


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"order_id": "O0"}, Conflict, "order O0 already exists"),
        ({"buyer_id": "M404"}, NotFound, "buyer M404 does not exist"),
        ({"seller_id": "M404"}, NotFound, "seller M404 does not exist"),
        ({"sku": "NOPE"}, NotFound, "product NOPE does not exist"),
        ({"kind": "CASHBACK"}, BadInput, "kind must be RETAIL or GIFT_PACKAGE"),
        ({"amount": 0}, BadInput, "positive whole number of fen"),
        ({"amount": -5}, BadInput, "positive whole number of fen"),
        ({"amount": 99.5}, BadInput, "positive whole number of fen"),
        ({"amount": True}, BadInput, "positive whole number of fen"),
        ({"paid_at": datetime(2026, 1, 9, 10)}, BadInput, "no UTC offset"),
        ({"paid_at": T0 + timedelta(4)}, BadInput, "paid before its buyer M2 joined"),
        ({"order_id": ""}, BadInput, "order id must not be empty"),
    ],
)
def test_record_order_refusals_write_nothing(
    arun: Callable[..., Any],
    graph: neo4j.Driver,
    shop: None,
    overrides: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    arun(record_order, **order(order_id="O0"))
    before = snapshot(graph)
    with pytest.raises(error, match=message):
        arun(record_order, **order(**overrides))
    assert snapshot(graph) == before


def test_refund_records_time(arun: Callable[..., Any], shop: None) -> None:
    arun(record_order, **order())
    refunded = arun(refund_order, order_id="O1", refunded_at=T0 + timedelta(8))
    assert refunded.refunded_at == T0 + timedelta(8)


@pytest.mark.parametrize(
    ("order_id", "refunded_at", "error", "message"),
    [
        ("O1", T0 + timedelta(5), BadInput, "refunded before it was paid"),
        ("O404", T0 + timedelta(8), NotFound, "order O404 does not exist"),
        ("O1", datetime(2026, 1, 9), BadInput, "no UTC offset"),
        ("O2", T0 + timedelta(9), Conflict, "already refunded"),
    ],
)
def test_refund_refusals_write_nothing(
    arun: Callable[..., Any],
    graph: neo4j.Driver,
    shop: None,
    order_id: str,
    refunded_at: datetime,
    error: type[Exception],
    message: str,
) -> None:
    arun(record_order, **order())
    arun(record_order, **order(order_id="O2"))
    arun(refund_order, order_id="O2", refunded_at=T0 + timedelta(7))
    before = snapshot(graph)
    with pytest.raises(error, match=message):
        arun(refund_order, order_id=order_id, refunded_at=refunded_at)
    assert snapshot(graph) == before
