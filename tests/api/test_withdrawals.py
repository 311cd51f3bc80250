"""requestWithdrawal, approveWithdrawal, rejectWithdrawal and Member.withdrawals through the
schema, and two requests at once over HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import neo4j
import pytest

from api.auth import Principal, Role, mint_token
from contract.money import parse_timestamp
from contract.settings import Settings
from graph import plans, settlement
from tests.api.conftest import ADMIN, ANALYST, SECRET, Gql, member_principal, seed
from tests.cli import ROOT

ALICE = Principal(Role.ADMIN, None, sub="alice")
A = member_principal("A")

RESULT = """__typename
  ... on Withdrawal { id memberId amount state idempotencyKey decidedBy reason batchId }
  ... on MutationError { code message }"""

REQUEST = (
    "mutation ($amount: Decimal!, $key: String!) {"
    " requestWithdrawal(amount: $amount, idempotencyKey: $key) { " + RESULT + " } }"
)
APPROVE = "mutation ($id: ID!) { approveWithdrawal(id: $id) { " + RESULT + " } }"
REJECT = (
    "mutation ($id: ID!, $reason: String!) {"
    " rejectWithdrawal(id: $id, reason: $reason) { " + RESULT + " } }"
)
LIST = """query ($id: ID!) { member(id: $id) {
  withdrawals { id amount state reason }
  balance { balance available withdrawing } } }"""


@pytest.fixture
def settled(api_settings: Settings, graph: neo4j.Driver, gql: Gql) -> Gql:
    # A earns 131.17 (GB tier 1 and R1 tier 2), B 15.00 (R1 as seller).
    seed(
        api_settings,
        [
            ("A", None, "2026-01-01T00:00:00+08:00"),
            ("B", "A", "2026-01-02T00:00:00+08:00"),
            ("C", "B", "2026-01-03T00:00:00+08:00"),
        ],
        [
            ("GA", "GIFT_PACKAGE", "A", None, 39_900, "2026-01-10T00:00:00+08:00"),
            ("GB", "GIFT_PACKAGE", "B", None, 39_900, "2026-02-01T00:00:00+08:00"),
            ("R1", "RETAIL", "C", "B", 10_000, "2026-02-05T00:00:00+08:00"),
        ],
    )
    plans.store_plan(graph, plans.read_plan_file(ROOT / "plans" / "default.toml"))
    settlement.settle(graph, cutoff=parse_timestamp("2026-03-01T00:00:00+08:00"))
    return gql


def data(result: dict[str, Any], name: str) -> dict[str, Any]:
    assert result["errors"] == [], result["errors"]
    found: dict[str, Any] = result["data"][name]
    return found


def request(gql: Gql, amount: str, key: str, who: Principal = A) -> dict[str, Any]:
    return data(gql(REQUEST, who, amount=amount, key=key), "requestWithdrawal")


def withdrawals_of(gql: Gql, member: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = data(gql(LIST, ADMIN, id=member), "member")["withdrawals"]
    return found


def test_request_then_the_same_key_again(settled: Gql) -> None:
    made = request(settled, "100.00", "k1")
    assert {k: v for k, v in made.items() if k != "id"} == {
        "__typename": "Withdrawal",
        "memberId": "A",
        "amount": "100.00",
        "state": "REQUESTED",
        "idempotencyKey": "k1",
        "decidedBy": None,
        "reason": None,
        "batchId": None,
    }
    assert request(settled, "100.00", "k1") == made
    mine = data(settled(LIST, A, id="A"), "member")
    assert mine["withdrawals"] == [
        {"id": made["id"], "amount": "100.00", "state": "REQUESTED", "reason": None}
    ]
    assert mine["balance"] == {"balance": "131.17", "available": "31.17", "withdrawing": "100.00"}


@pytest.mark.parametrize(
    ("who", "amount", "key", "code", "message"),
    [
        (A, "99.99", "k", "BELOW_MINIMUM", "a withdrawal must be at least 100.00, got 99.99"),
        (
            A,
            "131.18",
            "k",
            "INSUFFICIENT_BALANCE",
            "the available balance is 131.17, less than 131.18",
        ),
        (
            member_principal("B"),
            "100.00",
            "k",
            "INSUFFICIENT_BALANCE",
            "the available balance is 15.00, less than 100.00",
        ),
        (A, "-100.00", "k", "BAD_INPUT", "amount must be above 0.00, got -100.00"),
        (A, "100.00", "a key", "BAD_INPUT", "idempotencyKey must be 1-64 characters"),
    ],
)
def test_refused_requests(
    settled: Gql, who: Principal, amount: str, key: str, code: str, message: str
) -> None:
    got = request(settled, amount, key, who)
    assert got["__typename"] == "MutationError"
    assert got["code"] == code
    assert got["message"].startswith(message)
    assert withdrawals_of(settled, str(who.member_id)) == []


def test_open_request_and_reused_key(settled: Gql) -> None:
    request(settled, "100.00", "k1")
    conflict = request(settled, "120.00", "k1")
    assert (conflict["code"], conflict["message"]) == (
        "IDEMPOTENCY_CONFLICT",
        "idempotencyKey k1 was used for a withdrawal of 100.00, not 120.00; use a new key",
    )
    again = request(settled, "20.00", "k2")
    assert again["code"] == "BELOW_MINIMUM"
    opened = request(settled, "100.00", "k2")
    assert opened["code"] == "WITHDRAWAL_OPEN"
    assert len(withdrawals_of(settled, "A")) == 1


@pytest.mark.parametrize("who", [ADMIN, ANALYST])
def test_only_a_member_token_requests(settled: Gql, who: Principal) -> None:
    result = settled(REQUEST, who, amount="100.00", key="k")
    assert [(e["code"], e["message"]) for e in result["errors"]] == [
        ("FORBIDDEN", "only a member token may request a withdrawal, for itself")
    ]


def test_approve_and_reject(settled: Gql) -> None:
    made = request(settled, "100.00", "k1")
    for who in (A, ANALYST):
        for query, extra in ((APPROVE, {}), (REJECT, {"reason": "no"})):
            result = settled(query, who, id=made["id"], **extra)
            assert [e["code"] for e in result["errors"]] == ["FORBIDDEN"]
    empty = data(settled(REJECT, ALICE, id=made["id"], reason=""), "rejectWithdrawal")
    assert (empty["code"], empty["message"]) == (
        "BAD_INPUT",
        "a reason is required for a rejection",
    )
    missing = data(settled(APPROVE, ALICE, id="wd-nope"), "approveWithdrawal")
    assert (missing["code"], missing["message"]) == (
        "NOT_FOUND",
        "withdrawal wd-nope does not exist",
    )
    approved = data(settled(APPROVE, ALICE, id=made["id"]), "approveWithdrawal")
    assert (approved["state"], approved["decidedBy"]) == ("APPROVED", "alice")
    late = data(settled(REJECT, ALICE, id=made["id"], reason="changed my mind"), "rejectWithdrawal")
    assert (late["code"], late["message"]) == (
        "WRONG_STATE",
        f"withdrawal {made['id']} is APPROVED: only a REQUESTED one can be rejected",
    )
    assert [w["state"] for w in withdrawals_of(settled, "A")] == ["APPROVED"]


def test_reject_frees_the_amount(settled: Gql) -> None:
    made = request(settled, "131.17", "k1")
    rejected = data(
        settled(REJECT, ALICE, id=made["id"], reason="payee account unverified"),
        "rejectWithdrawal",
    )
    assert (rejected["state"], rejected["reason"]) == ("REJECTED", "payee account unverified")
    second = request(settled, "131.17", "k2")
    assert second["state"] == "REQUESTED"
    assert [w["state"] for w in withdrawals_of(settled, "A")] == ["REQUESTED", "REJECTED"]


def test_two_requests_at_once_over_http(settled: Gql, client: httpx.Client) -> None:
    token = mint_token(SECRET, role=Role.MEMBER, member_id="A")

    def send(key: str) -> dict[str, Any]:
        with httpx.Client(base_url=client.base_url, timeout=30) as own:
            response = own.post(
                "/graphql",
                json={"query": REQUEST, "variables": {"amount": "131.17", "key": key}},
                headers={"Authorization": f"Bearer {token}"},
            )
        body: dict[str, Any] = response.json()
        return body

    with ThreadPoolExecutor(max_workers=2) as pool:
        bodies = list(pool.map(send, ["first", "second"]))
    results = [b["data"]["requestWithdrawal"] for b in bodies]
    assert sorted(r["__typename"] for r in results) == ["MutationError", "Withdrawal"], bodies
    (refusal,) = [r for r in results if r["__typename"] == "MutationError"]
    assert refusal["code"] == "WITHDRAWAL_OPEN"
    assert len(withdrawals_of(settled, "A")) == 1


def test_refused_while_a_settlement_runs(settled: Gql, graph: neo4j.Driver) -> None:
    # Settlement inserts lines into members' relationship chains, which a balance read traverses
    # (graph/ledger.py, lock_ledger): a request waits for the run instead of reading beside it.
    graph.execute_query(
        "CREATE (:SettlementLock {id: 'settlement', run_id: 'run-busy', started_at: datetime(),"
        " heartbeat: datetime()})"
    )
    try:
        refused = request(settled, "100.00", "k-busy")
    finally:
        graph.execute_query("MATCH (l:SettlementLock) DELETE l")
    assert refused == {
        "__typename": "MutationError",
        "code": "SETTLEMENT_RUNNING",
        "message": "settlement run run-busy is running; request the withdrawal after it"
        " finished (nothing was written)",
    }
    assert withdrawals_of(settled, "A") == []
    made = request(settled, "100.00", "k-busy")
    assert made["__typename"] == "Withdrawal" and made["state"] == "REQUESTED"
