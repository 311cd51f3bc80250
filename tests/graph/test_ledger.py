"""A member's ledger, balance, pending and statement, on networks settled by real runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import neo4j

from graph import ledger
from graph.adjustments import adjust_balance
from graph.orders import refund_order
from graph.payouts import open_batch
from graph.settlement import settle
from tests.graph.netbuild import Ord, at, seed

LINE = {"A": None, "B": "A", "C": "B", "D": "C"}
ORDERS = [
    *(Ord(f"G-{m}", "GIFT_PACKAGE", m, day=0) for m in "ABC"),
    Ord("G1", "GIFT_PACKAGE", "D", day=1),
    Ord("R1", "RETAIL", "D", seller="C", day=2),
    Ord("R2", "RETAIL", "C", seller="C", day=9),
]
# What the first run (cutoff day 10) pays; R2 (day 9) is still in its hold period then.
EARNED = {
    "A": 12_967 + 7_780 + 5_187 + 75,
    "B": 12_967 + 7_780 + 150,
    "C": 12_967 + 1_500,
}
R2 = {"C": 1_500, "B": 150, "A": 75}


def network(graph: neo4j.Driver, folder: Path) -> None:
    seed(graph, folder, LINE, ORDERS)


def balance_of(arun: Callable[..., Any], member_id: str) -> ledger.Balance:
    found: ledger.Balance = arun(ledger.balance, member_id=member_id)
    return found


def run_started(graph: neo4j.Driver, run_id: str) -> datetime:
    records, _, _ = graph.execute_query(
        "MATCH (r:SettlementRun {id: $id}) RETURN r.started_at AS at", id=run_id
    )
    # A millisecond early: to_native() rounds the server's nanoseconds to microseconds.
    started: datetime = records[0]["at"].to_native()
    return started - timedelta(milliseconds=1)


def test_pending_is_what_settlement_then_pays(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    network(graph, tmp_path)
    # Nothing settled: every member's pending is what the runs will pay it, to the fen; C's
    # agency comes from its own package, which settlement has not linked yet.
    before = {m: balance_of(arun, m) for m in "ABCD"}
    assert {m: b.pending for m, b in before.items()} == {
        m: EARNED.get(m, 0) + R2.get(m, 0) for m in "ABCD"
    }
    assert all(b.balance == b.available == b.paid == 0 for b in before.values())
    settle(graph, cutoff=at(10))
    after = {m: balance_of(arun, m) for m in "ABCD"}
    assert {m: (b.balance, b.available, b.pending) for m, b in after.items()} == {
        m: (EARNED.get(m, 0), EARNED.get(m, 0), R2.get(m, 0)) for m in "ABCD"
    }
    settle(graph, cutoff=at(20))
    final = {m: balance_of(arun, m) for m in "ABCD"}
    assert {m: (b.balance, b.pending) for m, b in final.items()} == {
        m: (EARNED.get(m, 0) + R2.get(m, 0), 0) for m in "ABCD"
    }


def test_refunded_and_suspended_orders_are_not_pending(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    seed(
        graph,
        tmp_path,
        LINE,
        [
            *(Ord(f"G-{m}", "GIFT_PACKAGE", m, day=0) for m in "ABC"),
            Ord("R1", "RETAIL", "D", seller="C", day=2, refunded_day=3),
            Ord("R3", "RETAIL", "D", seller="D", day=2),
        ],
    )
    # R1 was refunded (never pays); R3's seller D is no agent (no pool); G-C pays B and A.
    assert balance_of(arun, "C").pending == 0
    assert balance_of(arun, "B").pending == 12_967
    assert balance_of(arun, "A").pending == 7_780 + 12_967


def test_ledger_lines_newest_first_with_parties_and_pages(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    network(graph, tmp_path)
    first = settle(graph, cutoff=at(10)).run
    arun(refund_order, order_id="R1", refunded_at=at(11))
    second = settle(graph, cutoff=at(12)).run
    assert first is not None and second is not None
    page = arun(ledger.ledger_page, member_id="C", start=None, end=None, first=10, after=None)
    assert page.total == 3 and not page.has_next
    # The reversal (second run) is newest; the first run's two lines tie on time, by key.
    assert [(x.order_id, x.tier, x.amount, x.reversal, x.run_id) for x in page.lines] == [
        ("R1", 1, -1_500, True, second.id),
        ("R1", 1, 1_500, False, first.id),
        ("G1", 1, 12_967, False, first.id),
    ]
    retail, gift = page.lines[1], page.lines[2]
    assert (retail.kind, retail.buyer_id, retail.buyer_name) == ("RETAIL", "D", "name D")
    assert (retail.seller_id, retail.seller_name) == ("C", "name C")
    assert (gift.kind, gift.buyer_id, gift.seller_id, gift.seller_name) == (
        "GIFT_PACKAGE",
        "D",
        None,
        None,
    )
    assert timedelta(0) <= page.lines[1].at - run_started(graph, first.id) < timedelta(seconds=1)
    # Pages of one: the same lines in the same order, each exactly once.
    seen, after = [], None
    while True:
        one = arun(ledger.ledger_page, member_id="C", start=None, end=None, first=1, after=after)
        seen.extend(one.lines)
        if not one.has_next:
            break
        after = (one.lines[-1].millis, one.lines[-1].key)
    assert [x.key for x in seen] == [x.key for x in page.lines]
    window = arun(
        ledger.ledger_page,
        member_id="C",
        start=run_started(graph, second.id),
        end=None,
        first=10,
        after=None,
    )
    assert [(x.order_id, x.reversal) for x in window.lines] == [("R1", True)]


def test_statement_opens_and_closes_on_the_balance(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    network(graph, tmp_path)
    first = settle(graph, cutoff=at(10)).run
    assert first is not None
    open_batch(graph, minimum=100, actor="finance")
    arun(refund_order, order_id="R1", refunded_at=at(11))
    second = settle(graph, cutoff=at(12)).run
    assert second is not None
    later = datetime.now(UTC) + timedelta(seconds=1)
    made = arun(
        adjust_balance,
        member_id="C",
        amount=-500,
        reason="goodwill refund to the buyer",
        actor="alice",
        at=later,
    )
    whole = arun(ledger.statement, member_id="C", start=None, end=None)
    assert whole.opening == 0
    assert [(r.line.kind, r.line.amount, r.balance) for r in whole.lines] == [
        ("GIFT_PACKAGE", 12_967, 12_967),
        ("RETAIL", 1_500, 14_467),
        ("PAYMENT", -14_467, 0),
        ("RETAIL", -1_500, -1_500),
        ("ADJUSTMENT", -500, -2_000),
    ]
    assert whole.closing == -2_000 == balance_of(arun, "C").balance
    assert whole.lines[4].line.reference == made.id
    assert whole.lines[4].line.reason == "goodwill refund to the buyer"
    # From the second run on: the first run's lines and the payment are the opening balance.
    part = arun(ledger.statement, member_id="C", start=run_started(graph, second.id), end=later)
    assert part.opening == 0
    assert [(r.line.kind, r.line.amount) for r in part.lines] == [("RETAIL", -1_500)]
    assert part.closing == -1_500
