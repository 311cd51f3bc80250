"""Withdrawals: requests and every refusal, decisions and their audit records, payment once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import neo4j
import pytest

from contract.settings import Settings
from graph import ledger, withdrawals
from graph.db import connect_async
from graph.errors import BadInput, DownlineError, NotFound
from graph.orders import refund_order
from graph.payouts import balance, open_batch
from graph.settlement import settle
from tests.graph.netbuild import DEFAULT_PLAN, Ord, at, seed

LINE = {"A": None, "B": "A", "C": "B", "D": "C"}
# After the run at day 10, C's balance is 144.67 (G1 tier 1 129.67 + R1 tier 1 15.00).
C_BALANCE = 14_467
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def settled(graph: neo4j.Driver, tmp_path: Path) -> neo4j.Driver:
    seed(
        graph,
        tmp_path,
        LINE,
        [
            *(Ord(f"G-{m}", "GIFT_PACKAGE", m, day=0) for m in "ABC"),
            Ord("G1", "GIFT_PACKAGE", "D", day=1),
            Ord("R1", "RETAIL", "D", seller="C", day=2),
        ],
    )
    settle(graph, cutoff=at(10))
    return graph


def request(arun: Callable[..., Any], amount: int, key: str = "k1", member: str = "C") -> Any:
    return arun(
        withdrawals.request_withdrawal,
        member_id=member,
        amount=amount,
        idempotency_key=key,
        now=NOW,
    )


def refused(arun: Callable[..., Any], fn: Any, **kwargs: Any) -> DownlineError:
    with pytest.raises(DownlineError) as caught:
        arun(fn, **kwargs)
    return caught.value


def count(graph: neo4j.Driver, label: str) -> int:
    records, _, _ = graph.execute_query(f"MATCH (n:{label}) RETURN count(n) AS n")
    return int(records[0]["n"])


def audits(graph: neo4j.Driver) -> list[dict[str, Any]]:
    records, _, _ = graph.execute_query(
        "MATCH (a:AuditRecord) WHERE a.action IN $mine RETURN a {.*} AS a ORDER BY a.at, a.action",
        mine=["withdrawal.approve", "withdrawal.reject", "pay", "adjust"],
    )
    return [r["a"] for r in records]


def test_request_reserves_the_amount(settled: neo4j.Driver, arun: Callable[..., Any]) -> None:
    made = request(arun, 10_000)
    assert (made.member_id, made.amount, made.state, made.idempotency_key) == (
        "C",
        10_000,
        "REQUESTED",
        "k1",
    )
    assert made.requested_at == NOW
    found = arun(ledger.balance, member_id="C")
    assert (found.balance, found.withdrawing, found.available) == (
        C_BALANCE,
        10_000,
        C_BALANCE - 10_000,
    )
    # The same key again: the first request, not a second one.
    again = request(arun, 10_000)
    assert again == made
    assert count(settled, "Withdrawal") == 1
    assert arun(withdrawals.member_withdrawals, member_id="C") == [made]


@pytest.mark.parametrize(
    ("amount", "key", "member", "error", "message"),
    [
        (9_999, "k", "C", withdrawals.BelowMinimum, "at least 100.00, got 99.99"),
        (C_BALANCE + 1, "k", "C", withdrawals.InsufficientBalance, "144.67, less than 144.68"),
        (0, "k", "C", BadInput, "amount must be above 0.00, got 0.00"),
        (-100, "k", "C", BadInput, "amount must be above 0.00, got -1.00"),
        (10_000, "", "C", BadInput, "idempotencyKey must be 1-64 characters"),
        (10_000, "a b", "C", BadInput, "idempotencyKey must be 1-64 characters"),
        (10_000, "k", "nobody", NotFound, "member nobody does not exist"),
        (10_000, "k", "D", withdrawals.InsufficientBalance, "the available balance is 0.00"),
    ],
)
def test_refused_requests_write_nothing(
    settled: neo4j.Driver,
    arun: Callable[..., Any],
    amount: int,
    key: str,
    member: str,
    error: type[DownlineError],
    message: str,
) -> None:
    exc = refused(
        arun,
        withdrawals.request_withdrawal,
        member_id=member,
        amount=amount,
        idempotency_key=key,
        now=NOW,
    )
    assert type(exc) is error
    assert message in exc.message
    assert count(settled, "Withdrawal") == 0


def test_open_request_and_reused_key_are_refused(
    settled: neo4j.Driver, arun: Callable[..., Any]
) -> None:
    request(arun, 10_000)
    conflict = refused(
        arun,
        withdrawals.request_withdrawal,
        member_id="C",
        amount=12_000,
        idempotency_key="k1",
        now=NOW,
    )
    assert conflict.code == "IDEMPOTENCY_CONFLICT"
    assert conflict.message == (
        "idempotencyKey k1 was used for a withdrawal of 100.00, not 120.00; use a new key"
    )
    second = refused(
        arun,
        withdrawals.request_withdrawal,
        member_id="C",
        amount=10_000,
        idempotency_key="k2",
        now=NOW,
    )
    assert second.code == "WITHDRAWAL_OPEN"
    assert count(settled, "Withdrawal") == 1
    # Another member's key of the same name is its own.
    b = request(arun, 10_000, key="k1", member="B")
    assert b.member_id == "B"


def test_the_plans_minimum_applies(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    plan = DEFAULT_PLAN.__class__(**{**DEFAULT_PLAN.__dict__, "min_withdrawal": 15_000})
    seed(
        graph,
        tmp_path,
        LINE,
        [*(Ord(f"G-{m}", "GIFT_PACKAGE", m, day=0) for m in "ABC")],
        plan=plan,
    )
    settle(graph, cutoff=at(10))
    exc = refused(
        arun,
        withdrawals.request_withdrawal,
        member_id="A",
        amount=14_999,
        idempotency_key="k",
        now=NOW,
    )
    assert (exc.code, exc.message) == (
        "BELOW_MINIMUM",
        "a withdrawal must be at least 150.00, got 149.99",
    )
    assert request(arun, 15_000, member="A").state == "REQUESTED"


def test_two_requests_at_once_for_the_whole_balance(
    settled: neo4j.Driver, settings: Settings
) -> None:
    async def both() -> list[Any]:
        async with connect_async(settings) as driver:
            return await asyncio.gather(
                *(
                    withdrawals.request_withdrawal(
                        driver, member_id="C", amount=C_BALANCE, idempotency_key=key, now=NOW
                    )
                    for key in ("first", "second")
                ),
                return_exceptions=True,
            )

    results = asyncio.run(both())
    made = [r for r in results if isinstance(r, withdrawals.Withdrawal)]
    failed = [r for r in results if isinstance(r, DownlineError)]
    assert len(made) == 1 and len(failed) == 1, results
    assert failed[0].code == "WITHDRAWAL_OPEN"
    assert count(settled, "Withdrawal") == 1


def test_decisions_are_audited(settled: neo4j.Driver, arun: Callable[..., Any]) -> None:
    made = request(arun, 10_000)
    no_reason = refused(
        arun,
        withdrawals.decide_withdrawal,
        withdrawal_id=made.id,
        approve=False,
        actor="alice",
        now=NOW,
        reason="  ",
    )
    assert (no_reason.code, no_reason.message) == (
        "BAD_INPUT",
        "a reason is required for a rejection",
    )
    missing = refused(
        arun,
        withdrawals.decide_withdrawal,
        withdrawal_id="wd-nope",
        approve=True,
        actor="alice",
        now=NOW,
    )
    assert (missing.code, missing.message) == ("NOT_FOUND", "withdrawal wd-nope does not exist")
    assert audits(settled) == []
    rejected = arun(
        withdrawals.decide_withdrawal,
        withdrawal_id=made.id,
        approve=False,
        actor="alice",
        now=NOW,
        reason="payee account unverified",
    )
    assert (rejected.state, rejected.decided_by, rejected.reason) == (
        "REJECTED",
        "alice",
        "payee account unverified",
    )
    again = refused(
        arun,
        withdrawals.decide_withdrawal,
        withdrawal_id=made.id,
        approve=True,
        actor="alice",
        now=NOW,
    )
    assert again.code == "WRONG_STATE"
    assert (
        again.message == f"withdrawal {made.id} is REJECTED: only a REQUESTED one can be approved"
    )
    # Rejected: the amount is available again, and a new request may be made.
    assert arun(ledger.balance, member_id="C").available == C_BALANCE
    second = request(arun, 12_000, key="k2")
    arun(
        withdrawals.decide_withdrawal,
        withdrawal_id=second.id,
        approve=True,
        actor="bob",
        now=NOW,
    )
    records = audits(settled)
    assert [(r["action"], r["actor"], r["target"], r.get("reason")) for r in records] == [
        ("withdrawal.approve", "bob", "C", None),
        ("withdrawal.reject", "alice", "C", "payee account unverified"),
    ]
    assert json.loads(records[1]["before"]) == {
        "amount": 10_000,
        "state": "REQUESTED",
        "withdrawal": made.id,
    }
    assert json.loads(records[1]["after"])["state"] == "REJECTED"


def test_pay_pays_approved_withdrawals_once(
    settled: neo4j.Driver, arun: Callable[..., Any]
) -> None:
    made = request(arun, 10_000)
    # Requested, not approved: nothing is due.
    assert open_batch(settled, actor="finance").id is None
    arun(withdrawals.decide_withdrawal, withdrawal_id=made.id, approve=True, actor="a", now=NOW)
    batch = open_batch(settled, actor="finance", at=NOW)
    assert batch.id is not None
    assert [(x.member_id, x.amount, x.withdrawal_id) for x in batch.lines] == [
        ("C", 10_000, made.id)
    ]
    assert open_batch(settled, actor="finance").lines == ()
    (paid,) = arun(withdrawals.member_withdrawals, member_id="C")
    assert (paid.state, paid.paid_at, paid.batch_id) == ("PAID", NOW, batch.id)
    found = arun(ledger.balance, member_id="C")
    assert (found.balance, found.available, found.withdrawing, found.paid) == (
        C_BALANCE - 10_000,
        C_BALANCE - 10_000,
        0,
        10_000,
    )
    (pay,) = [r for r in audits(settled) if r["action"] == "pay"]
    assert (pay["actor"], pay["target"]) == ("finance", "C")
    assert json.loads(pay["before"]) == {"balance": "144.67", "withdrawal": made.id}
    assert json.loads(pay["after"]) == {
        "balance": "44.67",
        "paid": "100.00",
        "batch": batch.id,
        "withdrawal": made.id,
    }


def test_an_approved_withdrawal_the_balance_no_longer_covers_waits(
    settled: neo4j.Driver, arun: Callable[..., Any]
) -> None:
    made = request(arun, C_BALANCE)
    arun(withdrawals.decide_withdrawal, withdrawal_id=made.id, approve=True, actor="a", now=NOW)
    arun(refund_order, order_id="R1", refunded_at=at(11))
    settle(settled, cutoff=at(12))
    batch = open_batch(settled, actor="finance")
    assert batch.id is None and batch.lines == ()
    assert [(u.withdrawal_id, u.amount, u.balance) for u in batch.unpaid] == [
        (made.id, C_BALANCE, C_BALANCE - 1_500)
    ]
    assert balance(settled, "C") == C_BALANCE - 1_500
    assert count(settled, "Payment") == 0


def test_the_minimum_sweeps_members_without_an_open_withdrawal(
    settled: neo4j.Driver, arun: Callable[..., Any]
) -> None:
    made = request(arun, 10_000)
    batch = open_batch(settled, actor="finance", minimum=10_000)
    # C has a request open: it is paid by its request (once approved), not by the sweep.
    assert [(x.member_id, x.amount, x.withdrawal_id) for x in batch.lines] == [
        ("A", 12_967 + 7_780 + 5_187 + 75, None),
        ("B", 12_967 + 7_780 + 150, None),
    ]
    assert (made.state, balance(settled, "C")) == ("REQUESTED", C_BALANCE)
