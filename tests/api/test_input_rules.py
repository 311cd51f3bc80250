"""The input rules (contract/rules.py) through the schema: the same refusals as the CSV loader's,
each BAD_INPUT with its exact message, never INTERNAL, and nothing written."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import neo4j
import pytest

from api.loaders import Context
from api.schema import schema
from contract.settings import Settings
from graph.db import connect_async
from tests.api.conftest import ADMIN, Gql, seed
from tests.graph.test_loader import snapshot

TREE = [
    ("A", None, "2026-01-01T00:00:00+08:00"),
    ("B", "A", "2026-01-02T00:00:00+08:00"),
    ("C", None, "2026-01-20T00:00:00+08:00"),
]
ID_RULE = "1-64 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'"
HIDDEN = "must not contain control or bidirectional formatting characters"

ORDER = """
mutation ($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    __typename
    ... on Order { id amount }
    ... on MutationError { code message }
  }
}
"""
REGISTER = """
mutation ($input: RegisterMemberInput!) {
  registerMember(input: $input) {
    __typename
    ... on Member { id }
    ... on MutationError { code message }
  }
}
"""
TRANSFER = """
mutation ($id: ID!, $to: ID!, $at: DateTime) {
  transferMember(id: $id, sponsorId: $to, at: $at, reason: "test") {
    __typename
    ... on Member { id }
    ... on MutationError { code message }
  }
}
"""


@pytest.fixture
def tree(api_settings: Settings, gql: Gql) -> Gql:
    seed(api_settings, TREE)
    return gql


def order(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "R1",
        "kind": "RETAIL",
        "buyerId": "B",
        "sellerId": "A",
        "sku": "P1",
        "amount": "100.00",
        "paidAt": "2026-03-01T12:00:00+08:00",
        **overrides,
    }


def member(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "N1",
        "name": "新人",
        "joinedAt": "2026-03-01T09:00:00+08:00",
        "sponsorId": "A",
        **overrides,
    }


def failed(result: dict[str, Any], field: str) -> dict[str, str]:
    """A mutation's expected failure (a MutationError, no GraphQL error)."""
    assert result["errors"] == [], result["errors"]
    data: dict[str, Any] = result["data"][field]
    assert data["__typename"] == "MutationError", data
    return {"code": data["code"], "message": data["message"]}


def refused(result: dict[str, Any]) -> list[tuple[str, str]]:
    """A request refused as a whole (a variable the scalar refuses): its errors' codes and
    messages."""
    assert result["data"] is None
    return [(e["code"], e["message"]) for e in result["errors"]]


@pytest.mark.parametrize("amount", ["١٤٩", "１４９", "९९", "1.00\n", "1000000000000.00"])
def test_amounts_are_ascii_digits(tree: Gql, graph: neo4j.Driver, amount: str) -> None:
    before = snapshot(graph)
    result = tree(ORDER, input=order(amount=amount))
    assert refused(result) == [
        (
            "BAD_INPUT",
            "Variable '$input' has invalid value at .amount: Expected value of type 'Decimal', but"
            f" encountered error '{amount!r} is not an amount in yuan with at most 2 decimals';"
            f" found: {amount!r}.",
        )
    ]
    assert snapshot(graph) == before


def test_the_largest_amount_by_default(tree: Gql) -> None:
    made = tree(ORDER, input=order(amount="999999999999.99"))
    assert made["data"]["recordOrder"] == {
        "__typename": "Order",
        "id": "R1",
        "amount": "999999999999.99",
    }


def test_a_configured_maximum(api_settings: Settings, graph: neo4j.Driver) -> None:
    capped = replace(api_settings, max_order_amount=100_000)

    def run(query: str, **variables: Any) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            async with connect_async(capped) as driver:
                ctx = Context(driver=driver, settings=capped, principal=ADMIN)
                result = await schema.execute(query, variable_values=variables, context_value=ctx)
            assert result.errors is None, result.errors
            assert result.data is not None
            return {"data": result.data, "errors": []}

        return asyncio.run(go())

    seed(capped, TREE)
    before = snapshot(graph)
    assert failed(run(ORDER, input=order(amount="1000.01")), "recordOrder") == {
        "code": "BAD_INPUT",
        "message": "amount must be at most 1000.00 yuan, got 1000.01",
    }
    assert snapshot(graph) == before
    assert run(ORDER, input=order(amount="1000.00"))["data"]["recordOrder"]["amount"] == "1000.00"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"paidAt": "9999-01-01T00:00:00+08:00"},
            "paidAt: 9999-01-01T00:00:00+08:00 is more than a day in the future",
        ),
        (
            {"paidAt": "1999-12-31T23:59:59+00:00"},
            "paidAt: 1999-12-31T23:59:59+00:00 is before 2000-01-01T00:00:00+00:00",
        ),
        (
            {"sku": "GIFT", "amount": "399.00"},
            "order R1 is RETAIL but product GIFT is a gift package (commission_bp 0)",
        ),
        (
            {"kind": "GIFT_PACKAGE", "sellerId": None},
            "order R1 is a GIFT_PACKAGE but product P1 is retail (commission_bp 1500;"
            " a gift package's is 0)",
        ),
        (
            {"id": "O" * 100_000},
            f"order id must be {ID_RULE}, got '{'O' * 64}'... (100,000 characters)",
        ),
        ({"id": "R\x001"}, f"order id must be {ID_RULE}, got 'R\\x001'"),
        ({"id": "R1\u202e"}, f"order id must be {ID_RULE}, got 'R1\\u202e'"),
    ],
)
def test_record_order_rules(
    tree: Gql, graph: neo4j.Driver, overrides: dict[str, Any], message: str
) -> None:
    before = snapshot(graph)
    got = failed(tree(ORDER, input=order(**overrides)), "recordOrder")
    assert got == {"code": "BAD_INPUT", "message": message}
    assert snapshot(graph) == before


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"joinedAt": "9999-01-01T00:00:00+08:00"},
            "joinedAt: 9999-01-01T00:00:00+08:00 is more than a day in the future",
        ),
        (
            {"joinedAt": "0001-01-01T00:00:00+00:00", "sponsorId": None},
            "joinedAt: 0001-01-01T00:00:00+00:00 is before 2000-01-01T00:00:00+00:00",
        ),
        ({"name": "x" * 100_000}, "name must be at most 200 characters, got 100,000"),
        ({"name": "张\x00三"}, f"name {HIDDEN} (U+0000 at position 2)"),
        ({"name": "\u202e三张"}, f"name {HIDDEN} (U+202E at position 1)"),
        ({"id": "N\x001"}, f"member id must be {ID_RULE}, got 'N\\x001'"),
        ({"id": "N1\u202e"}, f"member id must be {ID_RULE}, got 'N1\\u202e'"),
    ],
)
def test_register_member_rules(
    tree: Gql, graph: neo4j.Driver, overrides: dict[str, Any], message: str
) -> None:
    before = snapshot(graph)
    got = failed(tree(REGISTER, input=member(**overrides)), "registerMember")
    assert got == {"code": "BAD_INPUT", "message": message}
    assert snapshot(graph) == before


def test_a_time_utc_cannot_hold_is_bad_input_not_internal(tree: Gql, graph: neo4j.Driver) -> None:
    """The driver's "Ticks out of range" (INTERNAL) before: year 0 in UTC."""
    before = snapshot(graph)
    at = "0001-01-01T00:00:00+14:00"
    error = (
        "Expected value of type 'DateTime', but encountered error"
        f" ''{at}' is out of range (years 1-9999 in UTC)'; found: '{at}'."
    )
    register = tree(REGISTER, input=member(joinedAt=at, sponsorId=None))
    assert refused(register) == [
        ("BAD_INPUT", f"Variable '$input' has invalid value at .joinedAt: {error}")
    ]
    transfer = tree(TRANSFER, id="B", to="C", at=at)
    assert refused(transfer) == [("BAD_INPUT", f"Variable '$at' has invalid value: {error}")]
    assert snapshot(graph) == before


@pytest.mark.parametrize(
    ("member_id", "sponsor", "at", "message"),
    [
        (
            "B",
            "C",
            "2026-01-10T00:00:00+08:00",
            "the transfer of B is dated 2026-01-10T00:00:00+08:00, before C joined"
            " (2026-01-20T00:00:00+08:00)",
        ),
        (
            "C",
            "A",
            "2026-01-10T00:00:00+08:00",
            "the transfer of C is dated 2026-01-10T00:00:00+08:00, before C joined"
            " (2026-01-20T00:00:00+08:00)",
        ),
        (
            "B",
            "C",
            "9999-01-01T00:00:00+08:00",
            "at: 9999-01-01T00:00:00+08:00 is more than a day in the future",
        ),
    ],
)
def test_transfer_rules(
    tree: Gql, graph: neo4j.Driver, member_id: str, sponsor: str, at: str, message: str
) -> None:
    before = snapshot(graph)
    got = failed(tree(TRANSFER, id=member_id, to=sponsor, at=at), "transferMember")
    assert got == {"code": "BAD_INPUT", "message": message}
    assert snapshot(graph) == before
    moved = tree(TRANSFER, id="B", to="C", at="2026-01-20T00:00:00+08:00")
    assert moved["data"]["transferMember"] == {"__typename": "Member", "id": "B"}
