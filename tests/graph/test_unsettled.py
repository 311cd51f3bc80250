"""o.unsettled_since: what lets a settlement run cost what it settles, not what the store holds.

Every write path sets it to the order's paid_at; settlement removes it exactly when the order
can no longer settle; and a store written before it existed gets it from the schema file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import neo4j

from graph.db import apply_schema
from graph.orders import record_order
from graph.settlement import settle
from tests.graph.netbuild import Ord, at, seed

LINE = {"A": None, "B": "A", "S": "B"}
ORDERS = [
    Ord("G-A", "GIFT_PACKAGE", "A", day=0),
    Ord("G-S", "GIFT_PACKAGE", "S", day=0),
    Ord("R-settles", "RETAIL", "B", seller="S", day=1),
    Ord("R-refunded-first", "RETAIL", "B", seller="S", day=2, refunded_day=3),
    Ord("R-refunded-late", "RETAIL", "B", seller="S", day=4, refunded_day=40),
    Ord("R-held", "RETAIL", "B", seller="S", day=27),
]


def unsettled(driver: neo4j.Driver) -> dict[str, bool]:
    records, _, _ = driver.execute_query(
        "MATCH (o:Order) RETURN o.id AS id, o.unsettled_since = o.paid_at AS marked,"
        " o.unsettled_since IS NULL AS gone"
    )
    return {r["id"]: bool(r["marked"]) for r in records if not r["gone"]} | {
        r["id"]: False for r in records if r["gone"]
    }


def test_every_write_path_marks_orders_and_settlement_clears_them(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    seed(graph, tmp_path, LINE, ORDERS)
    arun(
        record_order,
        order_id="R-api",
        kind="RETAIL",
        buyer_id="B",
        seller_id="S",
        sku="SKU1",
        amount=10_000,
        paid_at=at(5),
    )
    assert set(unsettled(graph).values()) == {True}

    settle(graph, cutoff=at(30))

    assert unsettled(graph) == {
        "G-A": False,
        "G-S": False,
        "R-settles": False,
        "R-refunded-first": False,  # refunded before settling: it never will
        "R-refunded-late": False,  # settled; its later refund is a reversal, not a settlement
        "R-api": False,
        "R-held": True,  # its hold ends on day 34
    }
    records, _, _ = graph.execute_query(
        "MATCH (o:Order {id: 'R-refunded-first'}) RETURN o.settled_run AS run"
    )
    assert records[0]["run"] is None


def test_the_schema_marks_orders_written_before_the_index(
    graph: neo4j.Driver, tmp_path: Path
) -> None:
    seed(graph, tmp_path, LINE, ORDERS)
    settle(graph, cutoff=at(10))
    graph.execute_query("MATCH (o:Order) REMOVE o.unsettled_since")

    apply_schema(graph)

    # Every order without a settled_run, including one refunded first: the next run drops it.
    marked = sorted(k for k, v in unsettled(graph).items() if v)
    assert marked == ["R-held", "R-refunded-first", "R-refunded-late"]
    outcome = settle(graph, cutoff=at(40))
    assert outcome.run is not None and outcome.run.orders_settled == 1  # R-held
    assert set(unsettled(graph).values()) == {False}
