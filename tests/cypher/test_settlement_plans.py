"""Plan shapes of the settlement and reconciliation files on a grown store (tests/stores.py).

Each per-order check expands from the order's bound nodes; the only index range seeks are the
statement's own anchors. Before the fix, the agency check was planned as a range seek on
Order(paid_at) per recruit (docs/model.md, "Plans"), hundreds of times slower on such a store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graph.cypherfiles import split_statements
from graph.settlement import PENDING
from tests.plans import assert_shape, explain
from tests.stores import GrownStore

ROOT = Path(__file__).resolve().parent.parent.parent
SETTLEMENT = ROOT / "cypher" / "settlement"
# Run-level lookups that are not per order: the plans (a handful of nodes) and one run's rows.
RUN_LEVEL = [
    r"NodeByLabelScan plan:Plan",
    r"NodeIndexSeek .*\(settled_run\)",
    r"NodeIndexSeek .*\(reversed_run\)",
]


def _statements(path: Path) -> list[str]:
    return split_statements(path.read_text(encoding="utf-8"))


def _params(store: GrownStore) -> dict[str, Any]:
    return {
        "cutoff": store.cutoff.isoformat(),
        "run_id": store.run_id,
        "batch": 5000,
        "concurrency": 2,
    }


def test_package_links_expand_from_each_package(grown_store: GrownStore) -> None:
    links = _statements(SETTLEMENT / "payouts.cypher")[0]
    plan = explain(grown_store.driver, links, _params(grown_store), database=grown_store.database)
    assert_shape(plan, anchors=[r"NodeIndex(SeekByRange|Scan) .*g:Order\(unsettled_since\)"])


def test_payouts_anchor_on_paid_at_and_check_agency_from_the_member(
    grown_store: GrownStore,
) -> None:
    payouts = _statements(SETTLEMENT / "payouts.cypher")[1]
    plan = explain(grown_store.driver, payouts, _params(grown_store), database=grown_store.database)
    assert_shape(
        plan,
        anchors=[r"NodeIndex(SeekByRange|Scan) .*o:Order\(unsettled_since\)"],
        allowed=RUN_LEVEL,
    )


def test_reversals_anchor_on_unreversed_since(grown_store: GrownStore) -> None:
    (reversals,) = _statements(SETTLEMENT / "reversals.cypher")
    plan = explain(
        grown_store.driver, reversals, _params(grown_store), database=grown_store.database
    )
    assert_shape(plan, anchors=[r"NodeIndex(SeekByRange|Scan) .*o:Order\(unreversed_since\)"])


def test_pending_count_anchors_like_the_files(grown_store: GrownStore) -> None:
    plan = explain(
        grown_store.driver,
        PENDING,
        {"cutoff": grown_store.cutoff},
        database=grown_store.database,
    )
    assert_shape(
        plan,
        anchors=[
            r"NodeIndex(SeekByRange|Scan) .*o:Order\(unsettled_since\)",
            r"NodeIndex(SeekByRange|Scan) .*o:Order\(unreversed_since\)",
        ],
        allowed=RUN_LEVEL,
    )


def test_finish_reads_only_the_runs_rows(grown_store: GrownStore) -> None:
    (finish,) = _statements(SETTLEMENT / "finish.cypher")
    plan = explain(
        grown_store.driver, finish, {"run_id": grown_store.run_id}, database=grown_store.database
    )
    assert_shape(plan, allowed=RUN_LEVEL)


@pytest.mark.parametrize("index", [0, 1], ids=["counts", "checks"])
def test_reconcile_checks_expand_from_each_row(grown_store: GrownStore, index: int) -> None:
    query = _statements(ROOT / "cypher" / "reconcile.cypher")[index]
    plan = explain(grown_store.driver, query, {}, database=grown_store.database)
    # A reconciliation reads the whole ledger: each check scans its own label once, and every
    # per-row lookup is a unique key or an expansion.
    assert_shape(
        plan,
        allowed=[
            r"NodeByLabelScan o:Order$",
            r"(Directed)?RelationshipTypeScan .*:(PAID|REVERSED)",
            r"UnionRelationshipTypesScan .*:PAID\|REVERSED",
            r"NodeIndexScan .*o:Order\((settled_run|reversed_run|refunded_at)\)",
        ],
    )


def test_never_settling_orders_leave_by_their_index(grown_store: GrownStore) -> None:
    dropped = _statements(SETTLEMENT / "payouts.cypher")[2]
    plan = explain(grown_store.driver, dropped, _params(grown_store), database=grown_store.database)
    assert_shape(plan, anchors=[r"NodeIndex(SeekByRange|Scan) .*o:Order\(unsettled_since\)"])
