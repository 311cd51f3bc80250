"""openWithdrawals over HTTP: finance's list of requested and approved withdrawals, oldest first,
for admins only, paged by its cursor."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import neo4j
import pytest

from api.auth import Role, mint_token
from contract.money import parse_timestamp
from contract.settings import Settings
from graph import payouts, plans, settlement
from tests.api.conftest import SECRET, seed
from tests.cli import ROOT

OPEN = """query ($first: Int, $after: String) { openWithdrawals(first: $first, after: $after) {
  totalCount
  edges { cursor memberName node { id memberId amount state decidedBy } }
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
REQUEST = """mutation ($amount: Decimal!, $key: String!) {
  requestWithdrawal(amount: $amount, idempotencyKey: $key) {
    ... on Withdrawal { id } ... on MutationError { code message } } }"""
APPROVE = "mutation ($id: ID!) { approveWithdrawal(id: $id) { ... on Withdrawal { state } } }"
REJECT = """mutation ($id: ID!, $reason: String!) {
  rejectWithdrawal(id: $id, reason: $reason) { ... on Withdrawal { state } } }"""

Post = Callable[..., dict[str, Any]]


@pytest.fixture
def post(api_settings: Settings, graph: neo4j.Driver, client: httpx.Client) -> Post:
    """``post(query, role, member_id=None, **variables)`` -> the JSON body, after seeding a
    network where B and D earn 129.67 each and A 414.94 (default plan, settled)."""
    seed(
        api_settings,
        [
            ("A", None, "2026-01-01T00:00:00+08:00"),
            ("B", "A", "2026-01-02T00:00:00+08:00"),
            ("C", "B", "2026-01-03T00:00:00+08:00"),
            ("D", "A", "2026-01-04T00:00:00+08:00"),
            ("E", "D", "2026-01-05T00:00:00+08:00"),
        ],
        [
            ("GA", "GIFT_PACKAGE", "A", None, 39_900, "2026-01-10T00:00:00+08:00"),
            ("GB", "GIFT_PACKAGE", "B", None, 39_900, "2026-01-11T00:00:00+08:00"),
            ("GD", "GIFT_PACKAGE", "D", None, 39_900, "2026-01-12T00:00:00+08:00"),
            ("GC", "GIFT_PACKAGE", "C", None, 39_900, "2026-02-01T00:00:00+08:00"),
            ("GE", "GIFT_PACKAGE", "E", None, 39_900, "2026-02-02T00:00:00+08:00"),
        ],
    )
    plans.store_plan(graph, plans.read_plan_file(ROOT / "plans" / "default.toml"))
    settlement.settle(graph, cutoff=parse_timestamp("2026-03-01T00:00:00+08:00"))

    def send(query: str, role: Role, member_id: str | None = None, **variables: Any) -> Any:
        sub = None if role is Role.MEMBER else "fin"
        token = mint_token(SECRET, role=role, member_id=member_id, sub=sub)
        response = client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        return response.json()

    return send


def _request(post: Post, member_id: str, amount: str) -> str:
    body = post(REQUEST, Role.MEMBER, member_id, amount=amount, key=f"k-{member_id}")
    made: dict[str, str] = body["data"]["requestWithdrawal"]
    assert "id" in made, made
    return made["id"]


def _open(post: Post, **variables: Any) -> dict[str, Any]:
    body = post(OPEN, Role.ADMIN, **variables)
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["openWithdrawals"]
    return found


def _rows(page: dict[str, Any]) -> list[tuple[str, str | None, str, str]]:
    return [
        (e["node"]["memberId"], e["memberName"], e["node"]["amount"], e["node"]["state"])
        for e in page["edges"]
    ]


@pytest.mark.parametrize(("role", "member_id"), [(Role.ANALYST, None), (Role.MEMBER, "A")])
def test_only_admins_see_open_withdrawals(post: Post, role: Role, member_id: str | None) -> None:
    _request(post, "A", "100.00")
    body = post(OPEN, role, member_id)
    assert body["data"] is None
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        ("only admins may do this", "FORBIDDEN")
    ]


def test_oldest_first_with_the_members_name(post: Post) -> None:
    assert _open(post) == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }
    ids = [_request(post, "D", "129.67"), _request(post, "A", "414.94")]
    ids.append(_request(post, "B", "100.00"))
    page = _open(post)
    assert [e["node"]["id"] for e in page["edges"]] == ids
    assert _rows(page) == [
        ("D", "Name D", "129.67", "REQUESTED"),
        ("A", "Name A", "414.94", "REQUESTED"),
        ("B", "Name B", "100.00", "REQUESTED"),
    ]
    assert page["totalCount"] == 3


def test_pages_follow_the_cursor(post: Post) -> None:
    for member_id in ("B", "D", "A"):
        _request(post, member_id, "100.00")
    first = _open(post, first=2)
    assert [r[0] for r in _rows(first)] == ["B", "D"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]
    second = _open(post, first=2, after=first["pageInfo"]["endCursor"])
    assert [r[0] for r in _rows(second)] == ["A"]
    assert second["pageInfo"]["hasNextPage"] is False
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert (first["totalCount"], second["totalCount"]) == (3, 3)
    assert _open(post, first=0)["edges"] == []


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"first": 101}, "first must be within 0-100, got 101"),
        ({"first": -1}, "first must be within 0-100, got -1"),
        ({"after": "bm90LWEtY3Vyc29y"}, "after is not a cursor this API returned"),
        ({"after": "!!"}, "after is not a cursor this API returned"),
        (
            {"after": base64.urlsafe_b64encode(b"withdrawal:2026-01-01T00:00:00|wd-1").decode()},
            "after is not a cursor this API returned",
        ),
    ],
)
def test_bad_paging_is_refused(post: Post, variables: dict[str, Any], message: str) -> None:
    body = post(OPEN, Role.ADMIN, **variables)
    assert body["data"] is None
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        (message, "BAD_INPUT")
    ]


def test_approved_stay_rejected_and_paid_leave(post: Post, graph: neo4j.Driver) -> None:
    b, d, a = (_request(post, m, "100.00") for m in ("B", "D", "A"))
    assert post(APPROVE, Role.ADMIN, id=d)["data"]["approveWithdrawal"] == {"state": "APPROVED"}
    rejected = post(REJECT, Role.ADMIN, id=b, reason="payee account unverified")
    assert rejected["data"]["rejectWithdrawal"] == {"state": "REJECTED"}
    page = _open(post)
    assert _rows(page) == [
        ("D", "Name D", "100.00", "APPROVED"),
        ("A", "Name A", "100.00", "REQUESTED"),
    ]
    assert [e["node"]["decidedBy"] for e in page["edges"]] == ["fin", None]
    assert [e["node"]["id"] for e in page["edges"]] == [d, a]
    # A payout batch pays the approved one; it is no longer open.
    batch = payouts.open_batch(graph, actor="fin")
    assert [(line.member_id, line.amount) for line in batch.lines] == [("D", 10_000)]
    assert _rows(_open(post)) == [("A", "Name A", "100.00", "REQUESTED")]
    assert _open(post)["totalCount"] == 1
