"""Plan shapes of the settlement preview's reads on a grown store (tests/stores.py): they are
built from the settlement files' own sections, and must keep those files' anchors. An order's
ledger lines are expanded from the order, (o)-[:PAID|REVERSED]->(m): there is no other way to
them (no Payout node or index any more)."""

from __future__ import annotations

from typing import Any

from graph import payrules, preview
from tests.plans import assert_shape, explain, operators, render
from tests.stores import GrownStore

RUN_LEVEL = [r"NodeByLabelScan plan:Plan"]
CANDIDATE_PLAN = {
    "id": "candidate",
    "self_purchase": True,
    "retail_override_bp": [1000, 500],
    "gift_cost_bp": 3500,
    "gift_shares_bp": [6000, 3000, 1000],
}
# An order's payout lines, expanded from the bound order.
PAID_OF_ORDER = r"^(Optional)?Expand\(All\) \(o\)-\[p:PAID\]->\(m\)"


def _plan(store: GrownStore, query: str, params: dict[str, Any]) -> dict[str, Any]:
    return explain(store.driver, query, params, database=store.database)


def _no_payout_nodes(plan: dict[str, Any]) -> None:
    assert not any("Payout" in str(op) for op in operators(plan)), render(plan)


def test_the_links_anchor_on_unsettled_since(grown_store: GrownStore) -> None:
    plan = _plan(grown_store, payrules.LINKS, {"cutoff": grown_store.cutoff.isoformat()})
    assert_shape(plan, anchors=[r"NodeIndex(SeekByRange|Scan) .*g:Order\(unsettled_since\)"])


def test_the_next_run_anchors_like_payouts_cypher(grown_store: GrownStore) -> None:
    plan = _plan(grown_store, preview.SETTLE, {"cutoff": grown_store.cutoff.isoformat()})
    assert_shape(
        plan,
        anchors=[r"NodeIndex(SeekByRange|Scan) .*o:Order\(unsettled_since\)"],
        allowed=RUN_LEVEL,
    )


def test_the_reversals_anchor_on_unreversed_since(grown_store: GrownStore) -> None:
    plan = _plan(grown_store, preview.REVERSE, {"cutoff": grown_store.cutoff.isoformat()})
    # The orders awaiting their reversal by their index, then each one's lines from the order.
    assert_shape(
        plan, anchors=[r"NodeIndex(SeekByRange|Scan) .*o:Order\(unreversed_since\)", PAID_OF_ORDER]
    )
    _no_payout_nodes(plan)


def test_a_candidate_anchors_on_paid_at(grown_store: GrownStore) -> None:
    params = {"start": preview.EARLIEST, "end": grown_store.cutoff, "plan": CANDIDATE_PLAN}
    plan = _plan(grown_store, preview.CANDIDATE, params)
    # The window by Order(paid_at); the committed lines of each order expanded from it.
    assert_shape(plan, anchors=[r"NodeIndexSeekByRange .*o:Order\(paid_at\)", PAID_OF_ORDER])
    _no_payout_nodes(plan)
