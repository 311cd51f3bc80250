"""Plan shapes of the settlement preview's reads on a grown store (tests/stores.py): they are
built from the settlement files' own sections, and must keep those files' anchors."""

from __future__ import annotations

from typing import Any

from graph import payrules, preview
from tests.plans import assert_shape, explain
from tests.stores import GrownStore

RUN_LEVEL = [r"NodeByLabelScan plan:Plan"]
CANDIDATE_PLAN = {
    "id": "candidate",
    "self_purchase": True,
    "retail_override_bp": [1000, 500],
    "gift_cost_bp": 3500,
    "gift_shares_bp": [6000, 3000, 1000],
}


def _plan(store: GrownStore, query: str, params: dict[str, Any]) -> dict[str, Any]:
    return explain(store.driver, query, params, database=store.database)


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


def test_the_reversals_anchor_on_refunded_at(grown_store: GrownStore) -> None:
    plan = _plan(grown_store, preview.REVERSE, {"cutoff": grown_store.cutoff.isoformat()})
    assert_shape(plan, anchors=[r"NodeIndex(SeekByRange|Scan) .*o:Order\(refunded_at\)"])


def test_a_candidate_anchors_on_paid_at(grown_store: GrownStore) -> None:
    params = {"start": preview.EARLIEST, "end": grown_store.cutoff, "plan": CANDIDATE_PLAN}
    plan = _plan(grown_store, preview.CANDIDATE, params)
    assert_shape(plan, anchors=[r"NodeIndexSeekByRange .*o:Order\(paid_at\)"])
