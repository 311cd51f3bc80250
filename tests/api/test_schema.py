"""Every query and mutation through the real schema, with a real context on the real Neo4j."""

from __future__ import annotations

from typing import Any

import pytest

from api.scalars import encode_cursor
from contract.settings import Settings
from tests.api.conftest import ANALYST, Gql, member_principal, seed

# A ── B ── D ── F
#  │    └── E
#  └── C
TREE = [
    ("A", None, "2026-01-01T00:00:00+08:00"),
    ("B", "A", "2026-01-02T00:00:00+08:00"),
    ("C", "A", "2026-01-03T00:00:00+08:00"),
    ("D", "B", "2026-01-04T00:00:00+08:00"),
    ("E", "B", "2026-01-05T00:00:00+08:00"),
    ("F", "D", "2026-01-06T00:00:00+08:00"),
]
ORDERS = [
    ("G1", "GIFT_PACKAGE", "B", None, 39_900, "2026-02-01T10:00:00+08:00"),
    (
        "G2",
        "GIFT_PACKAGE",
        "C",
        None,
        39_900,
        "2026-02-01T10:00:00+08:00",
        "2026-02-03T00:00:00+08:00",
    ),
    ("R1", "RETAIL", "D", "B", 10_000, "2026-02-05T10:00:00+08:00"),
]

MEMBER = """
query ($id: ID!) {
  member(id: $id) {
    id name joinedAt isAgent agentSince suspended downlineCount
    sponsor { id }
    upline { id }
  }
}
"""


@pytest.fixture
def tree(api_settings: Settings, gql: Gql) -> Gql:
    seed(api_settings, TREE, ORDERS)
    return gql


def ok(result: dict[str, Any]) -> dict[str, Any]:
    assert result["errors"] == [], result["errors"]
    data: dict[str, Any] | None = result["data"]
    assert data is not None
    return data


def codes(result: dict[str, Any]) -> list[str]:
    return [e["code"] for e in result["errors"]]


def test_member_fields(tree: Gql) -> None:
    m = ok(tree(MEMBER, id="D"))["member"]
    assert m == {
        "id": "D",
        "name": "Name D",
        "joinedAt": "2026-01-04T00:00:00+08:00",
        "isAgent": False,
        "agentSince": None,
        "suspended": False,
        "downlineCount": 1,
        "sponsor": {"id": "B"},
        "upline": [{"id": "B"}, {"id": "A"}],
    }
    b = ok(tree(MEMBER, id="B"))["member"]
    assert b["isAgent"] is True
    assert b["agentSince"] == "2026-02-01T10:00:00+08:00"
    assert b["downlineCount"] == 3
    # C's gift package was refunded: no longer an agent.
    assert ok(tree(MEMBER, id="C"))["member"]["isAgent"] is False
    assert ok(tree(MEMBER, id="A"))["member"]["downlineCount"] == 5


def test_member_unknown_is_null(tree: Gql) -> None:
    assert ok(tree(MEMBER, id="nobody"))["member"] is None


def test_upline_max_depth(tree: Gql) -> None:
    q = 'query ($d: Int) { member(id: "F") { upline(maxDepth: $d) { id } } }'
    assert ok(tree(q, d=1))["member"]["upline"] == [{"id": "D"}]
    assert ok(tree(q, d=0))["member"]["upline"] == []
    assert ok(tree(q, d=None))["member"]["upline"] == [{"id": "D"}, {"id": "B"}, {"id": "A"}]


def test_direct_recruits_pages_with_cursors(tree: Gql) -> None:
    q = """query ($first: Int, $after: String) { member(id: "A") {
      directRecruits(first: $first, after: $after) {
        totalCount edges { cursor node { id sponsor { id } directRecruits { totalCount } } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""
    page = ok(tree(q, first=1, after=None))["member"]["directRecruits"]
    assert page["totalCount"] == 2
    assert [e["node"]["id"] for e in page["edges"]] == ["B"]
    assert page["edges"][0]["node"]["sponsor"] == {"id": "A"}
    assert page["edges"][0]["node"]["directRecruits"]["totalCount"] == 2
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is False
    nxt = ok(tree(q, first=1, after=page["pageInfo"]["endCursor"]))["member"]["directRecruits"]
    assert [e["node"]["id"] for e in nxt["edges"]] == ["C"]
    assert nxt["pageInfo"]["hasNextPage"] is False
    assert nxt["pageInfo"]["hasPreviousPage"] is True
    empty = ok(tree(q, first=0, after=None))["member"]["directRecruits"]
    assert empty["edges"] == [] and empty["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ('query ($v: Int) { member(id: "A") { upline(maxDepth: $v) { id } } }', -1),
        ('query ($v: Int) { member(id: "A") { upline(maxDepth: $v) { id } } }', 101),
        ('query ($v: Int) { member(id: "A") { directRecruits(first: $v) { totalCount } } }', 101),
        ('query ($v: Int) { member(id: "A") { directRecruits(first: $v) { totalCount } } }', -1),
        (
            'query ($v: String) { member(id: "A") { directRecruits(after: $v) { totalCount } } }',
            "not a cursor!",
        ),
        (
            'query ($v: String) { member(id: "A") { directRecruits(after: $v) { totalCount } } }',
            "eHl6",  # base64 of "xyz": decodes, but is not ours
        ),
        ("query ($v: Int) { topInfluencers(metric: RECRUITS, limit: $v) { rank } }", 0),
        ("query ($v: Int) { topInfluencers(metric: RECRUITS, limit: $v) { rank } }", 101),
        ('query ($v: Int) { subtreeRevenue(memberId: "A", maxDepth: $v) { orderCount } }', -1),
        (
            'query ($v: DateTime) { subtreeRevenue(memberId: "A", from: $v) { orderCount } }',
            "2026-01-01T00:00:00",  # no offset
        ),
        (
            "query ($v: DateTime) { tierPayouts(from: $v) { total } }",
            "yesterday",
        ),
        (
            'query ($v: DateTime) { member(id: "A") { metrics(to: $v) { recruits } } }',
            20260101,
        ),
        ("query ($v: InfluenceMetric!) { topInfluencers(metric: $v) { rank } }", "FAME"),
        ("query ($v: ID!) { member(id: $v) { id } }", None),
    ],
)
def test_bad_arguments_are_bad_input(tree: Gql, query: str, variables: object) -> None:
    result = tree(query, v=variables)
    assert codes(result) == ["BAD_INPUT"], result


@pytest.mark.parametrize(
    "query",
    [
        '{ subtreeRevenue(memberId: "A", from: "2026-02-02T00:00:00+08:00",'
        ' to: "2026-02-01T00:00:00+08:00") { orderCount } }',
        '{ tierPayouts(from: "2026-02-02T00:00:00Z", to: "2026-02-01T00:00:00Z") { total } }',
        '{ topInfluencers(metric: RECRUITS, from: "2026-02-02T00:00:00Z",'
        ' to: "2026-02-01T00:00:00Z") { rank } }',
        '{ member(id: "A") { metrics(from: "2026-02-02T00:00:00Z",'
        ' to: "2026-02-01T00:00:00Z") { recruits } } }',
    ],
)
def test_reversed_window_is_bad_input(tree: Gql, query: str) -> None:
    result = tree(query)
    assert codes(result) == ["BAD_INPUT"]
    assert "from must not be after to" in result["errors"][0]["message"]


def test_member_sees_itself_and_its_downline_only(tree: Gql) -> None:
    as_b = member_principal("B")
    assert ok(tree(MEMBER.replace("sponsor { id }", ""), as_b, id="B"))["member"]["id"] == "B"
    assert ok(tree('{ member(id: "F") { id } }', as_b))["member"] == {"id": "F"}
    for other in ("A", "C", "nobody"):
        result = tree("query ($id: ID!) { member(id: $id) { id } }", as_b, id=other)
        assert codes(result) == ["FORBIDDEN"], other
        assert result["data"]["member"] is None
    # Its own sponsor is someone else's data; its upline stops at itself.
    result = tree('{ member(id: "B") { id sponsor { id } } }', as_b)
    assert codes(result) == ["FORBIDDEN"]
    up = ok(tree('{ member(id: "F") { upline { id } } }', as_b))["member"]["upline"]
    assert up == [{"id": "D"}, {"id": "B"}]
    for q in (
        '{ subtreeRevenue(memberId: "C") { orderCount } }',
        '{ tierPayouts(memberId: "A") { total } }',
        "{ tierPayouts { total } }",
        "{ topInfluencers(metric: RECRUITS) { rank } }",
    ):
        assert codes(tree(q, as_b)) == ["FORBIDDEN"], q


def test_analyst_reads_everything_but_cannot_write(tree: Gql) -> None:
    assert ok(tree('{ member(id: "A") { id } }', ANALYST))["member"] == {"id": "A"}
    result = tree('mutation { suspendMember(id: "A", reason: "test") { __typename } }', ANALYST)
    assert codes(result) == ["FORBIDDEN"]


REGISTER = """
mutation ($input: RegisterMemberInput!) {
  registerMember(input: $input) {
    __typename
    ... on Member { id name joinedAt sponsor { id } isAgent }
    ... on MutationError { code message }
  }
}
"""


def test_register_member(tree: Gql) -> None:
    new = {"id": "G", "name": "Gao", "joinedAt": "2026-03-01T09:00:00+08:00", "sponsorId": "F"}
    created = ok(tree(REGISTER, input=new))["registerMember"]
    assert created == {
        "__typename": "Member",
        "id": "G",
        "name": "Gao",
        "joinedAt": "2026-03-01T09:00:00+08:00",
        "sponsor": {"id": "F"},
        "isAgent": False,
    }
    again = ok(tree(REGISTER, input=new))["registerMember"]
    assert again["__typename"] == "MutationError"
    assert again["code"] == "BAD_INPUT" and "already exists" in again["message"]
    orphan = {**new, "id": "H", "sponsorId": "nobody"}
    assert ok(tree(REGISTER, input=orphan))["registerMember"]["code"] == "NOT_FOUND"
    early = {**new, "id": "H", "joinedAt": "2025-01-01T00:00:00+08:00"}
    assert ok(tree(REGISTER, input=early))["registerMember"]["code"] == "BAD_INPUT"


def test_member_registers_its_own_recruits_only(tree: Gql) -> None:
    as_d = member_principal("D")
    mine = {"id": "G", "name": "Gao", "joinedAt": "2026-03-01T09:00:00+08:00", "sponsorId": "D"}
    assert ok(tree(REGISTER, as_d, input=mine))["registerMember"]["id"] == "G"
    theirs = {**mine, "id": "H", "sponsorId": "C"}
    assert codes(tree(REGISTER, as_d, input=theirs)) == ["FORBIDDEN"]
    assert ok(tree(MEMBER, id="H"))["member"] is None


ORDER = """
mutation ($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    __typename
    ... on Order { id kind buyerId sellerId sku amount commissionBp paidAt refundedAt }
    ... on MutationError { code message }
  }
}
"""
REFUND = """
mutation ($id: ID!, $at: DateTime!) {
  refundOrder(id: $id, refundedAt: $at) {
    __typename
    ... on Order { id refundedAt }
    ... on MutationError { code message }
  }
}
"""


def test_record_and_refund_order(tree: Gql) -> None:
    order = {
        "id": "R2",
        "kind": "RETAIL",
        "buyerId": "E",
        "sellerId": "B",
        "sku": "P1",
        "amount": "123.45",
        "paidAt": "2026-03-01T12:00:00+08:00",
    }
    made = ok(tree(ORDER, input=order))["recordOrder"]
    assert made == {
        "__typename": "Order",
        "id": "R2",
        "kind": "RETAIL",
        "buyerId": "E",
        "sellerId": "B",
        "sku": "P1",
        "amount": "123.45",
        "commissionBp": 1500,
        "paidAt": "2026-03-01T12:00:00+08:00",
        "refundedAt": None,
    }
    assert ok(tree(ORDER, input=order))["recordOrder"]["code"] == "BAD_INPUT"
    assert (
        ok(tree(ORDER, input={**order, "id": "R3", "sku": "NOPE"}))["recordOrder"]["code"]
        == "NOT_FOUND"
    )
    assert (
        ok(tree(ORDER, input={**order, "id": "R3", "amount": "0.00"}))["recordOrder"]["code"]
        == "BAD_INPUT"
    )
    refunded = ok(tree(REFUND, id="R2", at="2026-03-02T00:00:00+08:00"))["refundOrder"]
    assert refunded == {
        "__typename": "Order",
        "id": "R2",
        "refundedAt": "2026-03-02T00:00:00+08:00",
    }
    twice = ok(tree(REFUND, id="R2", at="2026-03-03T00:00:00+08:00"))["refundOrder"]
    assert twice["code"] == "BAD_INPUT"
    assert (
        ok(tree(REFUND, id="nope", at="2026-03-03T00:00:00+08:00"))["refundOrder"]["code"]
        == "NOT_FOUND"
    )


@pytest.mark.parametrize("amount", ["12.345", "-1.00", "1e3", 12.5, 100, "abc"])
def test_money_input_is_a_yuan_string(tree: Gql, amount: object) -> None:
    order = {
        "id": "R9",
        "kind": "RETAIL",
        "buyerId": "E",
        "sku": "P1",
        "amount": amount,
        "paidAt": "2026-03-01T12:00:00+08:00",
    }
    result = tree(ORDER, input=order)
    if amount == "-1.00":
        # Well-formed money, refused by the order's own rules as data.
        assert ok(result)["recordOrder"]["code"] == "BAD_INPUT"
    else:
        assert codes(result) == ["BAD_INPUT"]


def test_transfer_member(tree: Gql) -> None:
    q = """mutation ($id: ID!, $to: ID!) { transferMember(id: $id, sponsorId: $to,
      reason: "test", at: "2026-03-01T00:00:00+08:00") {
      __typename ... on Member { id sponsor { id } upline { id } }
      ... on MutationError { code message } } }"""
    moved = ok(tree(q, id="D", to="C"))["transferMember"]
    assert moved == {
        "__typename": "Member",
        "id": "D",
        "sponsor": {"id": "C"},
        "upline": [{"id": "C"}, {"id": "A"}],
    }
    cycle = ok(tree(q, id="A", to="F"))["transferMember"]
    assert cycle["code"] == "BAD_INPUT" and "cycle" in cycle["message"]
    assert ok(tree(q, id="nobody", to="A"))["transferMember"]["code"] == "NOT_FOUND"
    assert codes(tree(q, member_principal("A"), id="D", to="B")) == ["FORBIDDEN"]


def test_suspend_member(tree: Gql) -> None:
    q = """mutation ($id: ID!, $s: Boolean!) {
      suspendMember(id: $id, suspended: $s, reason: "t") {
      __typename ... on Member { id suspended } ... on MutationError { code } } }"""
    assert ok(tree(q, id="B", s=True))["suspendMember"] == {
        "__typename": "Member",
        "id": "B",
        "suspended": True,
    }
    assert ok(tree(q, id="B", s=False))["suspendMember"]["suspended"] is False
    assert ok(tree(q, id="nobody", s=True))["suspendMember"]["code"] == "NOT_FOUND"


def test_nested_lists_batch_per_level(tree: Gql) -> None:
    """Every recruit's recruits, sponsors and counts in one request: the loaders dedupe them."""
    q = """{ member(id: "A") { directRecruits { edges { node { id downlineCount
      sponsor { id } directRecruits { edges { node { id sponsor { id }
      directRecruits { totalCount } } } } } } } } }"""
    data = ok(tree(q))["member"]["directRecruits"]["edges"]
    got = {
        e["node"]["id"]: sorted(x["node"]["id"] for x in e["node"]["directRecruits"]["edges"])
        for e in data
    }
    assert got == {"B": ["D", "E"], "C": []}


def test_cursor_is_opaque_but_stable() -> None:
    assert encode_cursor("B") == encode_cursor("B") != encode_cursor("C")
