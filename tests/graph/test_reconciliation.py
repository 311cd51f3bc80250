"""cypher/reconcile.cypher on the lighter ledger: clean books after settling and reversing, and
each check catching the one kind of damage it is for. A ledger line is a relationship,
(:Order)-[:PAID|REVERSED {tier, amount}]->(:Member); nothing in the store keeps (order, tier)
unique, so the books are broken here the way a faulty writer could break them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import neo4j
import pytest

from graph.orders import refund_order
from graph.reconciliation import Reconciliation, reconcile
from graph.settlement import settle
from tests.graph.netbuild import Ord, at, seed

# A straight line of agents under A; X buys from S and is no agent.
LINE = {"A": None, "B": "A", "C": "B", "D": "C", "S": "D", "X": "S"}
ORDERS = [
    *(Ord(f"G-{m}", "GIFT_PACKAGE", m, day=0) for m in "ABCDS"),
    Ord("R1", "RETAIL", "X", seller="S", day=5),
    Ord("R2", "RETAIL", "X", seller="S", day=6),
]


def lines(driver: neo4j.Driver, order_id: str, kind: str) -> dict[int, tuple[str, int]]:
    """tier -> (member, amount) of one order's PAID or REVERSED lines."""
    records, _, _ = driver.execute_query(
        f"MATCH (o:Order {{id: $id}})-[l:{kind}]->(m) RETURN l.tier AS tier, m.id AS member,"
        " l.amount AS amount",
        id=order_id,
    )
    return {r["tier"]: (r["member"], r["amount"]) for r in records}


@pytest.fixture
def books(graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]) -> neo4j.Driver:
    """Every order settled; R2 then refunded and reversed."""
    seed(graph, tmp_path, LINE, ORDERS)
    settle(graph, cutoff=at(20))
    arun(refund_order, order_id="R2", refunded_at=at(21))
    settle(graph, cutoff=at(30))
    return graph


def found(report: Reconciliation) -> Counter[tuple[str, str | None, str | None]]:
    return Counter((v.check, v.order_id, v.member_id) for v in report.violations)


def test_settled_and_reversed_books_are_clean(books: neo4j.Driver) -> None:
    report = reconcile(books)
    assert report.ok, report.violations
    records, _, _ = books.execute_query(
        "RETURN COUNT { ()-[:PAID]->() } AS paid, COUNT { ()-[:REVERSED]->() } AS reversed"
    )
    assert (report.payouts, report.reversals) == (records[0]["paid"], records[0]["reversed"])
    # Gift packages: B 1 tier, C 2, D and S 3 each (A is the root); R1 and R2 3 tiers each.
    assert report.payouts == 1 + 2 + 3 + 3 + 3 + 3
    assert report.reversals == len(lines(books, "R2", "REVERSED")) == 3
    assert (report.orders_settled, report.orders_reversed) == (7, 1)


# Each case: the damage, and what the report must say, as (check, order, member) -> rows.
CASES: dict[str, tuple[str, dict[tuple[str, str | None, str | None], int]]] = {
    "pool": (
        "MATCH (:Order {id: 'G-D'})-[l:PAID {tier: 2}]->() SET l.amount = l.amount + 1",
        {("pool", "G-D", None): 1},
    ),
    "tier_outside": (
        "MATCH (:Order {id: 'G-D'})-[l:PAID {tier: 3}]->() SET l.tier = 4",
        {("tier", "G-D", "A"): 1},
    ),
    "tier_missing": (
        "MATCH (:Order {id: 'G-S'})-[l:PAID {tier: 1}]->() REMOVE l.tier",
        {("tier", "G-S", "D"): 1},
    ),
    "agent": (
        "MATCH (o:Order {id: 'R1'})-[l:PAID {tier: 1}]->(), (x:Member {id: 'X'})"
        " CREATE (o)-[:PAID {tier: 1, amount: l.amount}]->(x) DELETE l",
        {("agent", "R1", "X"): 1},
    ),
    "reversal_amount": (
        "MATCH (:Order {id: 'R2'})-[r:REVERSED {tier: 1}]->() SET r.amount = r.amount + 1",
        {("reversal", "R2", "S"): 1},
    ),
    "reversal_member": (
        "MATCH (o:Order {id: 'R2'})-[r:REVERSED {tier: 2}]->(), (x:Member {id: 'X'})"
        " CREATE (o)-[:REVERSED {tier: 2, amount: r.amount}]->(x) DELETE r",
        {("reversal", "R2", "X"): 1},
    ),
    "unreversed": (
        "MATCH (:Order {id: 'R2'})-[r:REVERSED {tier: 3}]->() DELETE r",
        {("unreversed", "R2", "C"): 1},
    ),
    # A second PAID line pays twice, so the pool breaks too; a second REVERSED line only doubles.
    "duplicate_paid": (
        "MATCH (o:Order {id: 'G-D'})-[l:PAID {tier: 1}]->(m)"
        " CREATE (o)-[:PAID {tier: 1, amount: l.amount}]->(m)",
        {("duplicate", "G-D", "C"): 2, ("pool", "G-D", None): 1},
    ),
    "duplicate_reversed": (
        "MATCH (o:Order {id: 'R2'})-[r:REVERSED {tier: 2}]->(m)"
        " CREATE (o)-[:REVERSED {tier: 2, amount: r.amount}]->(m)",
        {("duplicate", "R2", "D"): 2},
    ),
    "marker": (
        "MATCH (o:Order {id: 'R1'}) REMOVE o.settled_run",
        {("marker", "R1", m): 1 for m in "SDC"},
    ),
    # A refund of a settled order written by raw Cypher, without its mark: no run would find it.
    "waiting": (
        "MATCH (o:Order {id: 'R1'}) SET o.refunded_at = datetime('2026-01-30T00:00:00+08:00')",
        {("waiting", "R1", None): 1},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_check_catches_its_damage(books: neo4j.Driver, name: str) -> None:
    damage, expected = CASES[name]
    assert reconcile(books).ok
    books.execute_query(damage)
    report = reconcile(books)
    assert found(report) == Counter(expected), report.violations
    assert all(v.detail for v in report.violations)


def test_the_details_name_the_line(books: neo4j.Driver) -> None:
    assert lines(books, "R1", "PAID")[1][0] == "S"
    books.execute_query(
        "MATCH (o:Order {id: 'G-D'})-[l:PAID {tier: 1}]->(m)"
        " CREATE (o)-[:PAID {tier: 1, amount: l.amount}]->(m)"
    )
    books.execute_query("MATCH (:Order {id: 'G-S'})-[l:PAID {tier: 3}]->() SET l.tier = 7")
    books.execute_query("MATCH (:Order {id: 'R2'})-[r:REVERSED {tier: 3}]->() DELETE r")
    details = {v.check: v.detail for v in reconcile(books).violations}
    assert details["duplicate"] == "payout G-D|1|P is one of 2 PAID lines of its order and tier"
    assert details["tier"] == "payout G-S|7|P at tier 7"
    assert details["unreversed"] == "order refunded and reversed, but payout R2|3|P has no reversal"
    assert details["pool"].startswith("payouts ")
