"""The input rules (contract/rules.py) at the graph's writes and in the CSV loader: each refusal
is BAD_INPUT with its exact message, and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import neo4j
import pytest

from contract.rules import Rules
from graph.errors import BadInput
from graph.loader import LoadRefused, load
from graph.members import register_member, transfer_member
from graph.orders import record_order, refund_order
from graph.products import upsert_product
from tests.graph.test_loader import MEMBERS, ORDERS, PRODUCTS, snapshot, write
from tests.graph.test_loader import load as load_cli

CST = timezone(timedelta(hours=8))
PLUS14 = timezone(timedelta(hours=14))
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=CST)
ID_RULE = "1-64 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'"
HIDDEN = "must not contain control or bidirectional formatting characters"
LONG = "O" * 100_000
LONG_SHOWN = "'" + "O" * 64 + "'... (100,000 characters)"


@pytest.fixture
def shop(arun: Callable[..., Any]) -> None:
    """M1 joins at T0, M2 (under M1) 5 days later, M3 (a root) 20 days later; a retail product
    and a gift package; M2 has a retail order O0."""
    arun(register_member, member_id="M1", name="张三", joined_at=T0, sponsor_id=None)
    arun(register_member, member_id="M2", name="李四", joined_at=T0 + timedelta(5), sponsor_id="M1")
    arun(
        register_member, member_id="M3", name="王五", joined_at=T0 + timedelta(20), sponsor_id=None
    )
    arun(upsert_product, sku="SKU1", name="洗发水", price=10_000, commission_bp=1500)
    arun(upsert_product, sku="GP399", name="礼包", price=39_900, commission_bp=0)
    arun(record_order, **order(order_id="O0"))


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


def refused(
    arun: Callable[..., Any], graph: neo4j.Driver, fn: Callable[..., Any], **kwargs: Any
) -> str:
    """The message of the BadInput ``fn`` raises, checking that it wrote nothing."""
    before = snapshot(graph)
    with pytest.raises(BadInput) as error:
        arun(fn, **kwargs)
    assert snapshot(graph) == before
    return error.value.message


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"paid_at": datetime(9999, 1, 1, tzinfo=CST)},
            "paidAt: 9999-01-01T00:00:00+08:00 is more than a day in the future",
        ),
        (
            {"paid_at": datetime(1999, 12, 31, tzinfo=CST)},
            "paidAt: 1999-12-31T00:00:00+08:00 is before 2000-01-01T00:00:00+00:00",
        ),
        (
            {"paid_at": datetime(1, 1, 1, tzinfo=PLUS14)},
            "paidAt: 0001-01-01T00:00:00+14:00 is before 2000-01-01T00:00:00+00:00",
        ),
        (
            {"amount": 99_999_999_999_999 + 1},
            "amount must be at most 999999999999.99 yuan, got 1000000000000.00",
        ),
        (
            {"kind": "RETAIL", "sku": "GP399", "amount": 39_900},
            "order O1 is RETAIL but product GP399 is a gift package (commission_bp 0)",
        ),
        (
            {"kind": "GIFT_PACKAGE", "sku": "SKU1", "seller_id": None},
            "order O1 is a GIFT_PACKAGE but product SKU1 is retail (commission_bp 1500;"
            " a gift package's is 0)",
        ),
        ({"order_id": LONG}, f"order id must be {ID_RULE}, got {LONG_SHOWN}"),
        ({"order_id": "O1\x00"}, f"order id must be {ID_RULE}, got 'O1\\x00'"),
        ({"order_id": "O1\u202e"}, f"order id must be {ID_RULE}, got 'O1\\u202e'"),
        ({"buyer_id": "M2 "}, f"buyer id must be {ID_RULE}, got 'M2 '"),
        ({"seller_id": "M\u202e1"}, f"seller id must be {ID_RULE}, got 'M\\u202e1'"),
        ({"sku": "SKU\x001"}, f"sku must be {ID_RULE}, got 'SKU\\x001'"),
    ],
)
def test_record_order_rules(
    arun: Callable[..., Any],
    graph: neo4j.Driver,
    shop: None,
    overrides: dict[str, Any],
    message: str,
) -> None:
    assert refused(arun, graph, record_order, **order(**overrides)) == message


def test_the_maximum_is_the_configured_one(
    arun: Callable[..., Any], graph: neo4j.Driver, shop: None
) -> None:
    capped = Rules(max_amount=100_000)
    message = refused(arun, graph, record_order, **order(amount=100_001), rules=capped)
    assert message == "amount must be at most 1000.00 yuan, got 1000.01"
    assert arun(record_order, **order(amount=100_000), rules=capped).amount == 100_000
    # By default 999,999,999,999.99 yuan is still an order (the bench records two).
    assert arun(record_order, **order(order_id="O2", amount=99_999_999_999_999)).amount == (
        99_999_999_999_999
    )
    price = refused(
        arun, graph, upsert_product, sku="BIG", name="椅子", price=100_001, commission_bp=1000,
        rules=capped,
    )  # fmt: skip
    assert price == "price must be at most 1000.00 yuan, got 1000.01"


def test_refund_rules(arun: Callable[..., Any], graph: neo4j.Driver, shop: None) -> None:
    future = datetime(9999, 12, 31, tzinfo=CST)
    message = refused(arun, graph, refund_order, order_id="O0", refunded_at=future)
    assert message == "refundedAt: 9999-12-31T00:00:00+08:00 is more than a day in the future"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"joined_at": datetime(9999, 1, 1, tzinfo=CST)},
            "joinedAt: 9999-01-01T00:00:00+08:00 is more than a day in the future",
        ),
        (
            {"joined_at": datetime(1, 1, 1, tzinfo=PLUS14), "sponsor_id": None},
            "joinedAt: 0001-01-01T00:00:00+14:00 is before 2000-01-01T00:00:00+00:00",
        ),
        ({"name": "x" * 100_000}, "name must be at most 200 characters, got 100,000"),
        ({"name": "x" * 201}, "name must be at most 200 characters, got 201"),
        ({"name": "张\x00三"}, f"name {HIDDEN} (U+0000 at position 2)"),
        ({"name": "\u202e三张"}, f"name {HIDDEN} (U+202E at position 1)"),
        ({"member_id": "M\x009"}, f"member id must be {ID_RULE}, got 'M\\x009'"),
        ({"member_id": "M9\u202e"}, f"member id must be {ID_RULE}, got 'M9\\u202e'"),
        (
            {"member_id": "x" * 65},
            f"member id must be {ID_RULE}, got '{'x' * 64}'... (65 characters)",
        ),
        ({"sponsor_id": "M1\n"}, f"sponsor id must be {ID_RULE}, got 'M1\\n'"),
    ],
)
def test_register_member_rules(
    arun: Callable[..., Any],
    graph: neo4j.Driver,
    shop: None,
    overrides: dict[str, Any],
    message: str,
) -> None:
    args = {"member_id": "M9", "name": "新人", "joined_at": T0 + timedelta(10), "sponsor_id": "M1"}
    assert refused(arun, graph, register_member, **{**args, **overrides}) == message


def test_a_name_of_200_characters_is_fine(arun: Callable[..., Any], shop: None) -> None:
    member = arun(register_member, member_id="M9", name="张" * 200, joined_at=T0, sponsor_id=None)
    assert member.name == "张" * 200


@pytest.mark.parametrize(
    ("member", "sponsor", "at", "message"),
    [
        (
            "M2",
            "M3",
            T0 + timedelta(10),
            "the transfer of M2 is dated 2026-01-11T09:00:00+08:00, before M3 joined"
            " (2026-01-21T09:00:00+08:00)",
        ),
        (
            "M3",
            "M2",
            T0 + timedelta(10),
            "the transfer of M3 is dated 2026-01-11T09:00:00+08:00, before M3 joined"
            " (2026-01-21T09:00:00+08:00)",
        ),
        (
            "M2",
            "M3",
            datetime(1, 1, 1, tzinfo=PLUS14),
            "at: 0001-01-01T00:00:00+14:00 is before 2000-01-01T00:00:00+00:00",
        ),
        (
            "M2",
            "M3",
            datetime(9999, 1, 1, tzinfo=CST),
            "at: 9999-01-01T00:00:00+08:00 is more than a day in the future",
        ),
        ("M2\u202e", "M3", T0 + timedelta(30), f"member id must be {ID_RULE}, got 'M2\\u202e'"),
    ],
)
def test_transfer_rules(
    arun: Callable[..., Any],
    graph: neo4j.Driver,
    shop: None,
    member: str,
    sponsor: str,
    at: datetime,
    message: str,
) -> None:
    assert (
        refused(arun, graph, transfer_member, member_id=member, new_sponsor_id=sponsor, at=at)
        == message
    )
    moved = arun(transfer_member, member_id="M2", new_sponsor_id="M3", at=T0 + timedelta(20))
    assert moved.sponsor_id == "M3"


# The CSV loader: the same rules, reported as file:line.

GOOD_MEMBERS = MEMBERS + "M1,,2026-01-01T09:00:00+08:00,张三\n"
BAD_MEMBERS = (
    GOOD_MEMBERS
    + "M2,M1,9999-01-02T09:00:00+08:00,李四\n"  # line 3: far in the future
    + "M3,M1,0001-01-01T00:00:00+14:00,王五\n"  # line 4: year 0 in UTC
    + "M4,M1,1999-12-31T09:00:00+08:00,赵六\n"  # line 5: before 2000
    + "M5\u202e,M1,2026-01-02T09:00:00+08:00,钱七\n"  # line 6: an override in the id
    + "M6,M1,2026-01-02T09:00:00+08:00,孙\x00八\n"  # line 7: NUL in the name
    + f"M7,M1,2026-01-02T09:00:00+08:00,{'名' * 201}\n"  # line 8: a long name
    + f"{'M' * 100_000},M1,2026-01-02T09:00:00+08:00,周九\n"  # line 9: a long id
)
BAD_PRODUCTS = (
    PRODUCTS
    + "SKU1,洗发水,100.00,1500\n"
    + "GP399,礼包,399.00,0\n"
    + "SKU2,面霜,１００.00,1500\n"  # line 4: fullwidth digits
    + "SKU3,口红,1000000000000.00,1500\n"  # line 5: 13 digits
    + "SKU\x004,眼霜,50.00,1500\n"  # line 6: NUL in the sku
)
BAD_ORDERS = (
    ORDERS
    + "O1,RETAIL,M1,,SKU1,100.00,2026-01-05T10:00:00+08:00,\n"  # line 2: fine
    + "O2,RETAIL,M1,,SKU1,١٤٩,2026-01-05T10:00:00+08:00,\n"  # line 3: Arabic-Indic digits
    + "O3,RETAIL,M1,,SKU1,९९,2026-01-05T10:00:00+08:00,\n"  # line 4: Devanagari digits
    + "O4,RETAIL,M1,,SKU1,100.00,9999-01-05T10:00:00+08:00,\n"  # line 5: far in the future
    + "O5,RETAIL,M1,,GP399,399.00,2026-01-05T10:00:00+08:00,\n"  # line 6: retail of a package
    + "O6,GIFT_PACKAGE,M1,,SKU1,100.00,2026-01-05T10:00:00+08:00,\n"  # line 7: package of retail
    + f"{LONG},RETAIL,M1,,SKU1,100.00,2026-01-05T10:00:00+08:00,\n"  # line 8: a long id
    + "O8,RETAIL,M1,,SKU1,100.00,2026-01-05T10:00:00+08:00,9999-01-01T00:00:00Z\n"  # line 9
    + "O9,RETAIL,M1,,SKU1,100.00,0001-01-01T00:00:00+14:00,\n"  # line 10: year 0 in UTC
)


def test_bad_rows_are_each_reported_and_nothing_is_written(
    cli_env: dict[str, str], graph: neo4j.Driver, tmp_path: Path
) -> None:
    code, _, err = load_cli(
        cli_env,
        members=write(tmp_path, "members.csv", BAD_MEMBERS),
        products=write(tmp_path, "products.csv", BAD_PRODUCTS),
        orders=write(tmp_path, "orders.csv", BAD_ORDERS),
    )
    assert code != 0
    expected = [
        "members.csv:3: joined_at: 9999-01-02T09:00:00+08:00 is more than a day in the future",
        "members.csv:4: joined_at: '0001-01-01T00:00:00+14:00' is out of range"
        " (years 1-9999 in UTC)",
        "members.csv:5: joined_at: 1999-12-31T09:00:00+08:00 is before 2000-01-01T00:00:00+00:00",
        f"members.csv:6: member_id must be {ID_RULE}, got 'M5\\u202e'",
        f"members.csv:7: name {HIDDEN} (U+0000 at position 2)",
        "members.csv:8: name must be at most 200 characters, got 201",
        f"members.csv:9: member_id must be {ID_RULE}, got '{'M' * 64}'... (100,000 characters)",
        "products.csv:4: price: '１００.00' is not an amount in yuan with at most 2 decimals",
        "products.csv:5: price: '1000000000000.00' is not an amount in yuan with at most 2"
        " decimals",
        f"products.csv:6: sku must be {ID_RULE}, got 'SKU\\x004'",
        "orders.csv:3: amount: '١٤٩' is not an amount in yuan with at most 2 decimals",
        "orders.csv:4: amount: '९९' is not an amount in yuan with at most 2 decimals",
        "orders.csv:5: paid_at: 9999-01-05T10:00:00+08:00 is more than a day in the future",
        "orders.csv:6: order O5 is RETAIL but product GP399 is a gift package (commission_bp 0)",
        "orders.csv:7: order O6 is a GIFT_PACKAGE but product SKU1 is retail (commission_bp 1500;"
        " a gift package's is 0)",
        f"orders.csv:8: order_id must be {ID_RULE}, got {LONG_SHOWN}",
        "orders.csv:9: refunded_at: 9999-01-01T00:00:00+00:00 is more than a day in the future",
        "orders.csv:10: paid_at: '0001-01-01T00:00:00+14:00' is out of range (years 1-9999 in UTC)",
    ]
    reported = [line for line in err.splitlines() if ".csv:" in line]
    for line in expected:
        assert line in reported, line
    assert len(reported) == len(expected), reported
    assert "nothing was written" in err
    assert snapshot(graph)["nodes"] == 0


def test_orders_refer_to_stored_products_by_their_rate(
    cli_env: dict[str, str], graph: neo4j.Driver, tmp_path: Path
) -> None:
    """A later orders file: whether a stored product is a gift package comes from the graph."""
    products = write(
        tmp_path, "products.csv", PRODUCTS + "SKU1,洗发水,100.00,1500\nGP399,礼包,399.00,0\n"
    )
    members = write(tmp_path, "members.csv", GOOD_MEMBERS)
    assert load_cli(cli_env, members=members, products=products)[0] == 0
    before = snapshot(graph)
    orders = write(
        tmp_path,
        "orders.csv",
        ORDERS + "O5,RETAIL,M1,,GP399,399.00,2026-01-05T10:00:00+08:00,\n",
    )
    code, _, err = load_cli(cli_env, orders=orders)
    assert code != 0
    assert (
        "orders.csv:2: order O5 is RETAIL but product GP399 is a gift package (commission_bp 0)"
        in err
    )
    assert snapshot(graph) == before


def test_the_loader_takes_the_configured_maximum(graph: neo4j.Driver, tmp_path: Path) -> None:
    members = write(tmp_path, "members.csv", GOOD_MEMBERS)
    products = write(
        tmp_path, "products.csv", PRODUCTS + "SKU1,洗发水,100.00,1500\nBIG,椅子,1000.01,1000\n"
    )
    orders = write(
        tmp_path,
        "orders.csv",
        ORDERS
        + "O1,RETAIL,M1,,SKU1,1000.00,2026-01-05T10:00:00+08:00,\n"
        + "O2,RETAIL,M1,,SKU1,1000.01,2026-01-05T10:00:00+08:00,\n",
    )
    with pytest.raises(LoadRefused) as refused_:
        load(
            graph,
            members=members,
            products=products,
            orders=orders,
            rules=Rules(max_amount=100_000),
            resample=False,
        )
    assert [str(e) for e in refused_.value.errors] == [
        "products.csv:3: price must be at most 1000.00 yuan, got 1000.01",
        "orders.csv:3: amount must be at most 1000.00 yuan, got 1000.01",
    ]
    assert snapshot(graph)["nodes"] == 0
    # By default both are fine.
    report = load(graph, members=members, products=products, orders=orders, resample=False)
    assert (report.members, report.products, report.orders) == (1, 2, 2)
