"""The audit trail as the graph writes and reads it: one record per admin action, in the action's
own transaction, nothing on a refusal, paged newest first, kept by ``db reset``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import neo4j
import pytest

from graph import audit
from graph.errors import BadInput, Conflict
from graph.members import set_suspended, transfer_member
from graph.plans import store_plan
from graph.reset import reset_graph
from graph.settlement import settle
from tests.graph.netbuild import DEFAULT_PLAN, Ord, at, seed

LINE = {"A": None, "B": "A", "C": "B", "D": "C"}
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def stored(driver: neo4j.Driver) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(
        "MATCH (a:AuditRecord) RETURN a {.*} AS a ORDER BY a.at, a.id"
    )
    return [r["a"] for r in records]


def page(driver: neo4j.Driver, **kwargs: Any) -> audit.AuditPage:
    return audit.audit_log_sync(driver, **kwargs)


def test_a_transfer_is_recorded_with_before_after_and_reason(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    seed(graph, tmp_path, LINE, plan=None)
    arun(
        transfer_member,
        member_id="D",
        new_sponsor_id="A",
        at=at(3),
        reason="moved at the member's request",
        actor="alice",
        now=NOW,
    )
    (record,) = page(graph, target="D").records
    assert (record.actor, record.action, record.target, record.at) == (
        "alice",
        "member.transfer",
        "D",
        NOW,
    )
    assert record.reason == "moved at the member's request"
    assert json.loads(record.before or "") == {"sponsor_id": "C"}
    assert json.loads(record.after or "") == {"sponsor_id": "A", "at": at(3).isoformat()}


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_admin_action_without_a_reason_writes_nothing(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any], reason: str
) -> None:
    seed(graph, tmp_path, LINE, plan=None)
    with pytest.raises(BadInput, match=r"^a reason is required for a transfer$"):
        arun(
            transfer_member,
            member_id="D",
            new_sponsor_id="A",
            at=at(3),
            reason=reason,
            actor="alice",
        )
    with pytest.raises(BadInput, match=r"^a reason is required for a suspension$"):
        arun(set_suspended, member_id="D", suspended=True, reason=reason, actor="alice")
    with pytest.raises(BadInput, match=r"^a reason is required for an unsuspension$"):
        arun(set_suspended, member_id="D", suspended=False, reason=None, actor="alice")
    records, _, _ = graph.execute_query(
        "MATCH (d:Member {id: 'D'})-[:SPONSORED_BY]->(s) RETURN s.id AS s, d.suspended AS x"
    )
    assert records[0].data() == {"s": "C", "x": False}
    assert stored(graph) == []


def test_a_refused_action_leaves_no_record(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    seed(graph, tmp_path, LINE, plan=None)
    with pytest.raises(Conflict, match="would make a cycle"):
        arun(transfer_member, member_id="A", new_sponsor_id="D", at=at(3), reason="x", actor="bob")
    assert stored(graph) == []


def test_suspend_unsuspend_plan_load_and_settle_are_recorded(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    seed(graph, tmp_path, LINE, [Ord("G-B", "GIFT_PACKAGE", "B", day=0)], plan=None)
    assert store_plan(graph, DEFAULT_PLAN, actor="carol", now=NOW)
    assert not store_plan(graph, DEFAULT_PLAN, actor="carol", now=NOW)  # unchanged: not audited
    arun(set_suspended, member_id="C", suspended=True, reason="fraud check", actor="dan", now=NOW)
    arun(set_suspended, member_id="C", suspended=False, reason="cleared", actor="dan", now=NOW)
    run = settle(graph, cutoff=at(30), actor="erin").run
    assert run is not None
    assert settle(graph, cutoff=at(31), actor="erin").run is None  # nothing settled: no record
    got = {(r["action"], r["target"], r["actor"], r.get("reason")) for r in stored(graph)}
    assert got == {
        ("plan.load", "default", "carol", None),
        ("member.suspend", "C", "dan", "fraud check"),
        ("member.unsuspend", "C", "dan", "cleared"),
        ("settle", run.id, "erin", None),
    }
    (settled,) = page(graph, action="settle").records
    assert json.loads(settled.after or "") == {
        "cutoff": at(30).isoformat(),
        "status": "finished",
        "orders_settled": 1,
        "orders_reversed": 0,
        "paid": 0,  # B's sponsor A holds no package: the whole pool is retained
        "reversed": 0,
        "retained": 25_935,
        "taken_over": None,
    }
    (loaded,) = page(graph, action="plan.load").records
    assert json.loads(loaded.after or "")["gift_shares_bp"] == [5000, 3000, 2000]
    suspended = page(graph, target="C").records
    assert [json.loads(r.after or "") for r in suspended] in (
        [{"suspended": False}, {"suspended": True}],
        [{"suspended": True}, {"suspended": False}],  # the same instant: ordered by id
    )


def test_pages_are_newest_first_and_filtered(graph: neo4j.Driver) -> None:
    def add(action: str, target: str, minutes: int) -> None:
        entry = audit.AuditEntry(
            actor="x", action=action, target=target, at=NOW + timedelta(minutes=minutes)
        )
        with graph.session() as session:
            session.execute_write(audit.record, entry)

    for i in range(5):
        add("member.suspend", "M1", i)
    add("plan.load", "p", 10)
    first = page(graph, target="M1", first=2)
    assert [r.at for r in first.records] == [NOW + timedelta(minutes=m) for m in (4, 3)]
    assert first.has_next
    second = page(graph, target="M1", first=2, after=first.records[-1].cursor)
    assert [r.at.minute for r in second.records] == [2, 1]
    third = page(graph, target="M1", first=2, after=second.records[-1].cursor)
    assert [r.at.minute for r in third.records] == [0] and not third.has_next
    window = page(graph, start=NOW + timedelta(minutes=1), end=NOW + timedelta(minutes=3))
    assert [r.at.minute for r in window.records] == [2, 1]
    assert [r.action for r in page(graph, action="plan.load").records] == ["plan.load"]
    assert [r.target for r in page(graph, first=1).records] == ["p"]
    with pytest.raises(BadInput, match=r"^after is not a cursor this API returned$"):
        page(graph, after="bm9wZQ==")
    with pytest.raises(BadInput, match=r"^first must be within 0-100, got 101$"):
        page(graph, first=101)
    with pytest.raises(BadInput, match=r"^from must not be after to$"):
        page(graph, start=NOW, end=NOW - timedelta(seconds=1))


def test_reset_keeps_the_audit_trail_and_records_itself(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    seed(graph, tmp_path, LINE, plan=None)
    arun(set_suspended, member_id="B", suspended=True, reason="r", actor="dan", now=NOW)
    before = stored(graph)
    count = "MATCH (n) WHERE NOT n:AuditRecord RETURN count(n) AS n"
    nodes = graph.execute_query(count).records[0]["n"]
    assert nodes >= 4
    deleted = reset_graph(graph, actor="root", now=NOW + timedelta(hours=1))
    assert deleted == nodes
    after = stored(graph)
    assert after[: len(before)] == before
    assert [(r["action"], r["actor"], json.loads(r["after"])) for r in after[len(before) :]] == [
        ("db.reset", "root", {"nodes_deleted": nodes})
    ]
    assert graph.execute_query(count).records[0]["n"] == 0
