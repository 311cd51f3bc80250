"""Reconciliation: cypher/reconcile.cypher's counts and the violations it finds in the books."""

from __future__ import annotations

from dataclasses import dataclass

import neo4j

from graph.cypherfiles import CYPHER, run_file

RECONCILE_FILE = CYPHER / "reconcile.cypher"


@dataclass(frozen=True)
class Violation:
    check: str
    order_id: str | None
    member_id: str | None
    detail: str


@dataclass(frozen=True)
class Reconciliation:
    orders_settled: int
    orders_reversed: int
    payouts: int
    """PAID lines, (:Order)-[:PAID]->(:Member)."""
    reversals: int
    """REVERSED lines, (:Order)-[:REVERSED]->(:Member)."""
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations


def reconcile(driver: neo4j.Driver, *, database: str = "neo4j") -> Reconciliation:
    """Runs cypher/reconcile.cypher: the counts it checked and every violation it found."""
    counted, found = run_file(driver, RECONCILE_FILE, {}, database=database)
    orders_settled, orders_reversed, payouts, reversals = counted.rows[0]
    return Reconciliation(
        orders_settled=orders_settled,
        orders_reversed=orders_reversed,
        payouts=payouts,
        reversals=reversals,
        violations=tuple(Violation(*row) for row in found.rows),
    )
