"""Member.ledger, balance and statement, and adjustBalance, through the schema on a network
settled by a real run."""

from __future__ import annotations

from typing import Any

import neo4j
import pytest

from api.auth import Principal, Role
from contract.money import parse_timestamp
from contract.settings import Settings
from graph import plans, settlement
from tests.api.conftest import ADMIN, ANALYST, Gql, member_principal, seed
from tests.cli import ROOT

ALICE = Principal(Role.ADMIN, None, sub="alice")

LEDGER = """query ($id: ID!, $first: Int, $after: String, $from: DateTime) {
  member(id: $id) {
    ledger(first: $first, after: $after, from: $from) {
      totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
      edges { cursor node { kind orderId tier amount reversal settledRun at buyerId buyerName
                            sellerId sellerName adjustmentId reason } } }
  } }"""

BALANCE = """query ($id: ID!) {
  member(id: $id) { balance { balance available withdrawing pending paid } } }"""

STATEMENT = """query ($id: ID!, $from: DateTime, $to: DateTime) {
  member(id: $id) { statement(from: $from, to: $to) {
    memberId from to opening closing lines { kind orderId amount reference reason balance } } } }"""

ADJUST = """mutation ($m: ID!, $amount: Decimal!, $reason: String!) {
  adjustBalance(memberId: $m, amount: $amount, reason: $reason) {
    __typename
    ... on Adjustment { id memberId amount reason actor }
    ... on MutationError { code message } } }"""


@pytest.fixture
def settled(api_settings: Settings, graph: neo4j.Driver, gql: Gql) -> tuple[Gql, str]:
    # A (root) -> B -> C; A and B hold packages; B sells R1 to C; C's package (GC) is still
    # in its hold period at the cutoff.
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
            ("GC", "GIFT_PACKAGE", "C", None, 39_900, "2026-02-28T00:00:00+08:00"),
        ],
    )
    plans.store_plan(graph, plans.read_plan_file(ROOT / "plans" / "default.toml"))
    run = settlement.settle(graph, cutoff=parse_timestamp("2026-03-01T00:00:00+08:00")).run
    assert run is not None
    return gql, run.id


def ok(result: dict[str, Any]) -> dict[str, Any]:
    assert result["errors"] == [], result["errors"]
    data: dict[str, Any] = result["data"]
    return data


def test_ledger_lines_newest_first_with_cursors(settled: tuple[Gql, str]) -> None:
    gql, run_id = settled
    got = ok(gql(LEDGER, member_principal("A"), id="A", first=1))["member"]["ledger"]
    assert got["totalCount"] == 2
    assert got["pageInfo"]["hasNextPage"] is True
    assert got["pageInfo"]["hasPreviousPage"] is False
    (edge,) = got["edges"]
    # Both lines are of one run (one time): by key, newest first, so R1 before GB.
    node = edge["node"]
    assert {k: v for k, v in node.items() if k != "at"} == {
        "kind": "RETAIL",
        "orderId": "R1",
        "tier": 2,
        "amount": "1.50",
        "reversal": False,
        "settledRun": run_id,
        "buyerId": "C",
        "buyerName": "Name C",
        "sellerId": "B",
        "sellerName": "Name B",
        "adjustmentId": None,
        "reason": None,
    }
    rest = ok(gql(LEDGER, member_principal("A"), id="A", first=5, after=edge["cursor"]))
    page = rest["member"]["ledger"]
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["pageInfo"]["hasPreviousPage"] is True
    assert [
        (e["node"]["orderId"], e["node"]["kind"], e["node"]["amount"]) for e in page["edges"]
    ] == [("GB", "GIFT_PACKAGE", "129.67")]
    assert page["edges"][0]["node"]["sellerId"] is None
    bad = gql(LEDGER, member_principal("A"), id="A", after="bm9wZQ==")
    assert [(e["code"], e["message"]) for e in bad["errors"]] == [
        ("BAD_INPUT", "after is not a cursor this API returned")
    ]
    too_many = gql(LEDGER, ANALYST, id="A", first=101)
    assert [e["message"] for e in too_many["errors"]] == ["first must be within 0-100, got 101"]


def test_balance_with_pending(settled: tuple[Gql, str]) -> None:
    gql, _ = settled
    a = ok(gql(BALANCE, member_principal("A"), id="A"))["member"]["balance"]
    # Settled: GB tier 1 (129.67) + R1 tier 2 (1.50). Pending: GC tier 2, 77.80.
    assert a == {
        "balance": "131.17",
        "available": "131.17",
        "withdrawing": "0.00",
        "pending": "77.80",
        "paid": "0.00",
    }
    b = ok(gql(BALANCE, ANALYST, id="B"))["member"]["balance"]
    assert (b["balance"], b["pending"]) == ("15.00", "129.67")


@pytest.mark.parametrize("query", [LEDGER, BALANCE, STATEMENT])
def test_a_member_sees_only_its_own_money(settled: tuple[Gql, str], query: str) -> None:
    gql, _ = settled
    # B is in A's downline, so A may read B, but not B's money; the refusal names nobody.
    result = gql(query, member_principal("A"), id="B")
    assert [(e["code"], e["message"]) for e in result["errors"]] == [
        ("FORBIDDEN", "a member token sees only its own ledger, balance and withdrawals")
    ]
    above = gql(query, member_principal("B"), id="A")
    assert [(e["code"], e["message"]) for e in above["errors"]] == [
        ("FORBIDDEN", "member A is not in your downline")
    ]
    assert gql(query, ANALYST, id="B")["errors"] == []
    assert gql(query, ADMIN, id="B")["errors"] == []


def test_adjust_balance_and_the_statement(settled: tuple[Gql, str]) -> None:
    gql, run_id = settled
    made = ok(gql(ADJUST, ALICE, m="A", amount="-31.17", reason="duplicate payout"))
    adjustment = made["adjustBalance"]
    assert {k: v for k, v in adjustment.items() if k != "id"} == {
        "__typename": "Adjustment",
        "memberId": "A",
        "amount": "-31.17",
        "reason": "duplicate payout",
        "actor": "alice",
    }
    bal = ok(gql(BALANCE, member_principal("A"), id="A"))["member"]["balance"]
    assert (bal["balance"], bal["available"]) == ("100.00", "100.00")
    line = ok(gql(LEDGER, member_principal("A"), id="A", first=1))["member"]["ledger"]["edges"][0]
    assert (line["node"]["kind"], line["node"]["tier"], line["node"]["amount"]) == (
        "ADJUSTMENT",
        None,
        "-31.17",
    )
    assert (line["node"]["adjustmentId"], line["node"]["reason"]) == (
        adjustment["id"],
        "duplicate payout",
    )
    statement = ok(gql(STATEMENT, member_principal("A"), id="A"))["member"]["statement"]
    assert (statement["memberId"], statement["from"], statement["to"]) == ("A", None, None)
    assert (statement["opening"], statement["closing"]) == ("0.00", "100.00")
    assert [(x["kind"], x["amount"], x["reference"], x["balance"]) for x in statement["lines"]] == [
        ("GIFT_PACKAGE", "129.67", run_id, "129.67"),
        ("RETAIL", "1.50", run_id, "131.17"),
        ("ADJUSTMENT", "-31.17", adjustment["id"], "100.00"),
    ]
    window = ok(
        gql(STATEMENT, ANALYST, id="A", **{"from": "2030-01-01T00:00:00+08:00", "to": None})
    )["member"]["statement"]
    assert (window["opening"], window["lines"], window["closing"]) == ("100.00", [], "100.00")
    backwards = gql(
        STATEMENT,
        ANALYST,
        id="A",
        **{"from": "2030-01-01T00:00:00+08:00", "to": "2029-01-01T00:00:00+08:00"},
    )
    assert [e["message"] for e in backwards["errors"]] == ["from must not be after to"]
    compliance = ok(
        gql('{ member(id: "A") { compliance { adjustments income { total } } } }', ANALYST)
    )["member"]["compliance"]
    assert compliance == {"adjustments": "-31.17", "income": {"total": "131.17"}}
    platform = ok(gql("{ compliance { adjustments income { total } } }", ANALYST))["compliance"]
    assert platform == {"adjustments": "-31.17", "income": {"total": "146.17"}}


@pytest.mark.parametrize(
    ("member", "amount", "reason", "code", "message"),
    [
        (
            "A",
            "0.00",
            "x",
            "BAD_INPUT",
            "amount must not be 0.00: an adjustment changes the balance",
        ),
        ("A", "5.00", "  ", "BAD_INPUT", "a reason is required for an adjustment"),
        ("A", "5.00", "a\u202eb", "BAD_INPUT", "reason must not contain control or bidirectional"),
        ("nobody", "5.00", "x", "NOT_FOUND", "member nobody does not exist"),
    ],
)
def test_adjust_refusals_write_nothing(
    settled: tuple[Gql, str], member: str, amount: str, reason: str, code: str, message: str
) -> None:
    gql, _ = settled
    result = ok(gql(ADJUST, ADMIN, m=member, amount=amount, reason=reason))["adjustBalance"]
    assert result["__typename"] == "MutationError"
    assert result["code"] == code
    assert result["message"].startswith(message)
    total = ok(gql(LEDGER, ADMIN, id="A"))["member"]["ledger"]["totalCount"]
    assert total == 2


def test_adjust_waits_for_a_running_settlement(
    settled: tuple[Gql, str], graph: neo4j.Driver
) -> None:
    gql, _ = settled
    graph.execute_query(
        "CREATE (:SettlementLock {id: 'settlement', run_id: 'run-busy', started_at: datetime(),"
        " heartbeat: datetime()})"
    )
    try:
        result = ok(gql(ADJUST, ADMIN, m="A", amount="5.00", reason="x"))["adjustBalance"]
    finally:
        graph.execute_query("MATCH (l:SettlementLock) DELETE l")
    assert result == {
        "__typename": "MutationError",
        "code": "SETTLEMENT_RUNNING",
        "message": "settlement run run-busy is running; adjust the balance after it finished"
        " (nothing was written)",
    }
    assert ok(gql(LEDGER, ADMIN, id="A"))["member"]["ledger"]["totalCount"] == 2


@pytest.mark.parametrize("principal", [ANALYST, member_principal("A")])
def test_only_admins_adjust(settled: tuple[Gql, str], principal: Principal) -> None:
    gql, _ = settled
    result = gql(ADJUST, principal, m="A", amount="5.00", reason="x")
    assert [(e["code"], e["message"]) for e in result["errors"]] == [
        ("FORBIDDEN", "only admins may do this")
    ]
    assert ok(gql(LEDGER, ADMIN, id="A"))["member"]["ledger"]["totalCount"] == 2
    bad = gql(ADJUST, ADMIN, m="A", amount="1.234", reason="x")
    assert [e["code"] for e in bad["errors"]] == ["BAD_INPUT"]
