"""A member token's errors and data never name anyone outside its downline."""

from __future__ import annotations

import json
from typing import Any

import neo4j
import pytest

from contract.money import parse_timestamp
from contract.settings import Settings
from tests.api.conftest import ADMIN, Gql, member_principal, seed
from tests.cli import ROOT

plans = pytest.importorskip("graph.plans")
settlement = pytest.importorskip("graph.settlement")

# R ── A ── B ── C ── D        X (another root)
#                 └── E
TREE = [
    ("R", None, "2026-01-01T00:00:00+08:00"),
    ("A", "R", "2026-01-02T00:00:00+08:00"),
    ("B", "A", "2026-01-03T00:00:00+08:00"),
    ("C", "B", "2026-01-04T00:00:00+08:00"),
    ("D", "C", "2026-01-05T00:00:00+08:00"),
    ("E", "C", "2026-01-06T00:00:00+08:00"),
    ("X", None, "2026-01-07T00:00:00+08:00"),
]
# A, B and C are agents; D buys a gift package (tiers C, B, A) and sells itself a retail order
# (tiers D, C, B).
ORDERS = [
    ("GA", "GIFT_PACKAGE", "A", None, 39_900, "2026-01-10T00:00:00+08:00"),
    ("GB", "GIFT_PACKAGE", "B", None, 39_900, "2026-01-10T00:00:00+08:00"),
    ("GC", "GIFT_PACKAGE", "C", None, 39_900, "2026-01-10T00:00:00+08:00"),
    ("GD", "GIFT_PACKAGE", "D", None, 39_900, "2026-01-11T00:00:00+08:00"),
    ("RD", "RETAIL", "D", "D", 10_000, "2026-01-12T00:00:00+08:00"),
]
REGISTER = """
mutation ($input: RegisterMemberInput!) {
  registerMember(input: $input) {
    __typename
    ... on Member { id sponsor { id } }
    ... on MutationError { code message }
  }
}
"""
PATHS = """query ($id: ID!) { member(id: $id) { compliance { paths {
  ok violationCount violations { orderId memberId tier expectedMemberId reason } } } } }"""


@pytest.fixture
def tree(api_settings: Settings, gql: Gql) -> Gql:
    seed(api_settings, TREE)
    return gql


def test_a_forbidden_sponsor_is_not_named(tree: Gql) -> None:
    """Before: "member B is not in your downline", B being the caller's own hidden sponsor."""
    as_c = member_principal("C")
    result = tree('{ member(id: "D") { id sponsor { id sponsor { id name } } } }', as_c)
    assert [(e["code"], e["message"]) for e in result["errors"]] == [
        ("FORBIDDEN", "that member is not in your downline")
    ]
    assert result["data"] == {"member": {"id": "D", "sponsor": {"id": "C", "sponsor": None}}}
    assert '"B"' not in json.dumps(result)
    # An id the caller asked for by name is named back: it tells the caller nothing new.
    asked = tree('{ member(id: "B") { id } }', as_c)
    assert [(e["code"], e["message"]) for e in asked["errors"]] == [
        ("FORBIDDEN", "member B is not in your downline")
    ]


def test_registering_tells_a_member_nothing_about_ids_outside_its_downline(
    tree: Gql, graph: neo4j.Driver
) -> None:
    as_c = member_principal("C")

    def register(**input_: Any) -> dict[str, Any]:
        fields = {"name": "新人", "joinedAt": "2026-03-01T09:00:00+08:00", "sponsorId": "C"}
        result = tree(REGISTER, as_c, input={**fields, **input_})
        assert result["errors"] == [], result["errors"]
        data: dict[str, Any] = result["data"]["registerMember"]
        return data

    # Joining before the sponsor (the caller itself) is refused alike for a taken id (A, X:
    # outside C's downline; D: inside) and a free one (NEW). Before, a taken id said "already
    # exists" first, so an early joinedAt probed any id without writing anything.
    early = "2026-01-01T00:00:00+08:00"
    for member_id in ("A", "X", "D", "NEW"):
        assert register(id=member_id, joinedAt=early) == {
            "__typename": "MutationError",
            "code": "BAD_INPUT",
            "message": f"member {member_id} cannot join before its sponsor C",
        }
    # A registration that would otherwise succeed: one answer whoever holds the id.
    for member_id in ("A", "X", "D"):
        assert register(id=member_id) == {
            "__typename": "MutationError",
            "code": "BAD_INPUT",
            "message": f"member id {member_id} is not available",
        }
    assert register(id="NEW") == {"__typename": "Member", "id": "NEW", "sponsor": {"id": "C"}}
    # Authorization comes before validation: another sponsor (even one in C's downline) is
    # FORBIDDEN whatever else the input holds, and names nobody.
    later = "2026-03-01T09:00:00+08:00"
    for bad in (
        {"id": "A", "name": "n", "joinedAt": later, "sponsorId": "X"},
        {"id": "Q", "name": "\x00", "joinedAt": later, "sponsorId": "D"},
        {"id": "Q", "name": "n", "joinedAt": early, "sponsorId": "D"},
        {"id": "Q\u202e", "name": "n", "joinedAt": later, "sponsorId": "nobody"},
        {"id": "Q", "name": "n", "joinedAt": later},
    ):
        result = tree(REGISTER, as_c, input=bad)
        assert [(e["code"], e["message"]) for e in result["errors"]] == [
            ("FORBIDDEN", "only admins, or a member token for its own recruits, may register")
        ], bad
    # An admin is told plainly.
    taken = tree(REGISTER, input={"id": "A", "name": "n", "joinedAt": early, "sponsorId": None})
    assert taken["data"]["registerMember"]["message"] == "member A already exists"


@pytest.fixture
def settled(api_settings: Settings, graph: neo4j.Driver, gql: Gql) -> Gql:
    seed(api_settings, TREE, ORDERS)
    plans.store_plan(graph, plans.read_plan_file(ROOT / "plans" / "default.toml"))
    settlement.settle(graph, cutoff=parse_timestamp("2026-02-01T00:00:00+08:00"))
    return gql


def paths(gql: Gql, member_id: str, *, as_member: bool) -> dict[str, Any]:
    """A member's path check, asked with its own token or an admin's."""
    principal = member_principal(member_id) if as_member else ADMIN
    result = gql(PATHS, principal, id=member_id)
    assert result["errors"] == [], result["errors"]
    found: dict[str, Any] = result["data"]["member"]["compliance"]["paths"]
    return found


def test_violations_after_a_transfer_out_name_nobody_outside(settled: Gql) -> None:
    """C (and D under it) moves under X: B's payouts for C's and D's orders no longer follow the
    tree. Before, B's own token was shown X and those orders."""
    moved = settled(
        'mutation { transferMember(id: "C", sponsorId: "X", at: "2026-02-02T00:00:00+08:00",'
        ' reason: "test")'
        " { __typename } }"
    )
    assert moved["data"]["transferMember"] == {"__typename": "Member"}
    admin = paths(settled, "B", as_member=False)
    assert admin["violationCount"] == 3 and not admin["ok"]
    assert admin["violations"] == [
        {"orderId": "GC", "memberId": "B", "tier": 1, "expectedMemberId": "X", "reason": "path"},
        {"orderId": "GD", "memberId": "B", "tier": 2, "expectedMemberId": "X", "reason": "path"},
        {"orderId": "RD", "memberId": "B", "tier": 3, "expectedMemberId": "X", "reason": "path"},
    ]
    mine = paths(settled, "B", as_member=True)
    assert mine == {"ok": False, "violationCount": 3, "violations": []}


def test_violations_inside_the_downline_are_still_listed(settled: Gql) -> None:
    """D moves under E, inside C's branch: every name in B's violations is B's downline."""
    moved = settled(
        'mutation { transferMember(id: "D", sponsorId: "E", at: "2026-02-02T00:00:00+08:00",'
        ' reason: "test")'
        " { __typename } }"
    )
    assert moved["data"]["transferMember"] == {"__typename": "Member"}
    # GD: tiers now E, C, B (paid C, B, A); RD: D, E, C (paid D, C, B).
    mine = paths(settled, "B", as_member=True)
    assert mine["violations"] == [
        {"orderId": "GD", "memberId": "B", "tier": 2, "expectedMemberId": "C", "reason": "path"},
        {"orderId": "RD", "memberId": "B", "tier": 3, "expectedMemberId": "C", "reason": "path"},
    ]
    assert mine["violationCount"] == 2
    assert paths(settled, "B", as_member=False) == mine
    # A's GD payout (tier 3): B is there now, in A's downline.
    a = paths(settled, "A", as_member=True)
    assert a["violations"] == [
        {"orderId": "GD", "memberId": "A", "tier": 3, "expectedMemberId": "B", "reason": "path"}
    ]
