"""Freezing (冻结) the payouts of flagged members, and the admin's decision on the flag
(graph/riskdecisions.py): settlement writes the same lines, frozen money stays out of available
and payout batches, a clearance releases it, a confirmation reverses it, each exactly once."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import neo4j
import pytest

from graph import ledger, risk, riskdecisions, withdrawals
from graph.audit import AuditRecord, audit_log_sync
from graph.cypherfiles import run_file
from graph.errors import BadInput, DownlineError, NotFound
from graph.orders import record_order, refund_order
from graph.payrules import SETTLEMENT_DIR
from graph.plans import Plan, PlanRefused, load_plans, plan_from_mapping, store_plan
from graph.settlement import reconcile, settle
from tests import network
from tests.cli import downline
from tests.graph.netbuild import DEFAULT_PLAN, PRODUCTS, T0, Ord, at, payouts

FREEZE_PLAN = replace(DEFAULT_PLAN, freeze_flagged=True)
# A is the root; B and C are A's recruits and share a device (one duplicate_accounts flag, no
# self-referral: neither is the other's upline). D is B's recruit, E is C's.
TREE = {"A": None, "B": "A", "C": "A", "D": "B", "E": "C"}
DEVICES = {"B": "dev:bc", "C": "dev:bc"}
ORDERS = [
    *(Ord(f"G{m}", "GIFT_PACKAGE", m, day=0) for m in "ABC"),
    Ord("GD", "GIFT_PACKAGE", "D", day=1),
    Ord("GE", "GIFT_PACKAGE", "E", day=1),
    Ord("R1", "RETAIL", "D", seller="B", day=2),
]
FLAG = risk.flag_id(risk.DUPLICATE_ACCOUNTS, ["B", "C"])
# Gift package 399.00: tier 1 129.67, tier 2 77.80; R1 (100.00 at 1500 bp): 15.00, 1.50.
LINES = {
    "GB|1|P": ("A", 12_967),
    "GC|1|P": ("A", 12_967),
    "GD|1|P": ("B", 12_967),
    "GD|2|P": ("A", 7_780),
    "GE|1|P": ("C", 12_967),
    "GE|2|P": ("A", 7_780),
    "R1|1|P": ("B", 1_500),
    "R1|2|P": ("A", 150),
}
A_FEN, B_FEN, C_FEN = 41_644, 14_467, 12_967


def build(driver: neo4j.Driver, folder: Path, plan: Plan = FREEZE_PLAN) -> None:
    """The network through the loader, the plan, and the flags (``risk refresh``)."""
    files = network.write(
        folder,
        [
            network.MemberRow(m, s, T0, identity=("", DEVICES.get(m, ""), ""))
            for m, s in TREE.items()
        ],
        [network.ProductRow(sku, sku, price, bp) for sku, (price, bp) in PRODUCTS.items()],
        [
            network.OrderRow(
                o.id, o.kind, o.buyer, o.seller, o.product, o.fen, o.paid_at, o.refunded_at
            )
            for o in ORDERS
        ],
    )
    network.load(driver, files)
    store_plan(driver, plan)
    report = risk.refresh(driver)
    assert (report.flags, report.by_kind[risk.DUPLICATE_ACCOUNTS]) == (1, 1)


@pytest.fixture
def frozen(graph: neo4j.Driver, tmp_path: Path) -> neo4j.Driver:
    build(graph, tmp_path)
    settle(graph, cutoff=at(10))
    return graph


def money(arun: Callable[..., Any], member: str) -> tuple[int, int, int]:
    """(balance, frozen, available) of a member."""
    b = arun(ledger.balance, member_id=member)
    return b.balance, b.frozen, b.available


def frozen_by(graph: neo4j.Driver) -> dict[str, list[str] | None]:
    records, _, _ = graph.execute_query(
        "MATCH (o:Order)-[l:PAID]->(:Member)"
        " RETURN o.id + '|' + toString(l.tier) + '|P' AS key, l.frozen_by AS flags"
    )
    return {r["key"]: r["flags"] for r in records}


def flag_state(arun: Callable[..., Any], member: str = "B") -> tuple[str, int]:
    (found,) = arun(risk.member_flags, member_id=member)
    held = arun(riskdecisions.flags_frozen, flag_ids=[found.id])
    return found.state, held.get(found.id, 0)


def decide(arun: Callable[..., Any], *, confirm: bool, reason: str = "checked the devices") -> Any:
    return arun(
        riskdecisions.decide,
        flag_id=FLAG,
        confirm=confirm,
        reason=reason,
        actor="alice",
        at=at(11),
    )


def refused(arun: Callable[..., Any], **kwargs: Any) -> DownlineError:
    args = {"flag_id": FLAG, "confirm": False, "reason": "ok", "actor": "alice", "at": at(11)}
    with pytest.raises(DownlineError) as caught:
        arun(riskdecisions.decide, **(args | kwargs))
    return caught.value


def audits(graph: neo4j.Driver) -> list[AuditRecord]:
    page = audit_log_sync(graph, target=FLAG)
    return list(page.records)


def run_ok(env: dict[str, str], *args: str) -> str:
    done = downline(*args, env=env)
    assert done.returncode == 0, f"downline {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_plan_option_is_a_boolean_stored_on_the_plan(graph: neo4j.Driver) -> None:
    text = (Path(__file__).parents[2] / "plans" / "default.toml").read_text(encoding="utf-8")
    assert "freeze_flagged = false" in text
    base = {
        "id": "p",
        "effective_from": DEFAULT_PLAN.effective_from,
        "hold_days": 7,
        "tiers": 3,
        "self_purchase": True,
        "retail": {"override_bp": [1000, 500]},
        "gift_package": {"cost_bp": 3500, "shares_bp": [5000, 3000, 2000]},
    }
    assert plan_from_mapping(base).freeze_flagged is False
    assert plan_from_mapping(base | {"freeze_flagged": True}).freeze_flagged is True
    for bad in ("true", 1, 0):
        with pytest.raises(PlanRefused) as caught:
            plan_from_mapping(base | {"freeze_flagged": bad})
        assert caught.value.message == (
            f"freeze_flagged must be true or false (a TOML boolean), got {bad!r}"
        )
    store_plan(graph, FREEZE_PLAN)
    records, _, _ = graph.execute_query("MATCH (p:Plan) RETURN p.freeze_flagged AS on")
    assert [r["on"] for r in records] == [True]
    assert load_plans(graph) == [FREEZE_PLAN]
    # The identical plan again is the same plan; with the option flipped it is another one.
    assert store_plan(graph, FREEZE_PLAN) is False
    with pytest.raises(DownlineError) as clash:
        store_plan(graph, DEFAULT_PLAN)
    assert clash.value.message == (
        "plan default is already stored with other rules; plans never change"
    )


def test_settlement_writes_the_same_lines_and_freezes_the_flagged(
    frozen: neo4j.Driver, arun: Callable[..., Any]
) -> None:
    assert payouts(frozen) == LINES
    assert frozen_by(frozen) == {
        key: [FLAG] if member in "BC" else None for key, (member, _) in LINES.items()
    }
    assert money(arun, "A") == (A_FEN, 0, A_FEN)
    assert money(arun, "B") == (B_FEN, B_FEN, 0)
    assert money(arun, "C") == (C_FEN, C_FEN, 0)
    assert flag_state(arun) == (risk.OPEN, B_FEN + C_FEN)
    assert reconcile(frozen).ok


def test_freeze_off_freezes_nothing(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    build(graph, tmp_path, plan=DEFAULT_PLAN)
    settle(graph, cutoff=at(10))
    assert payouts(graph) == LINES
    assert set(frozen_by(graph).values()) == {None}
    assert money(arun, "B") == (B_FEN, 0, B_FEN)
    assert flag_state(arun) == (risk.OPEN, 0)


def test_withdrawals_refuse_frozen_money(frozen: neo4j.Driver, arun: Callable[..., Any]) -> None:
    with pytest.raises(withdrawals.InsufficientBalance) as caught:
        arun(
            withdrawals.request_withdrawal,
            member_id="B",
            amount=10_000,
            idempotency_key="k",
            now=at(11),
        )
    assert (caught.value.code, caught.value.message) == (
        "INSUFFICIENT_BALANCE",
        "the available balance is 0.00, less than 100.00",
    )
    made = arun(
        withdrawals.request_withdrawal, member_id="A", amount=A_FEN, idempotency_key="k", now=at(11)
    )
    assert made.state == withdrawals.REQUESTED


def test_pay_leaves_frozen_money_unpaid_until_cleared(
    frozen: neo4j.Driver, cli_env: dict[str, str], tmp_path: Path, arun: Callable[..., Any]
) -> None:
    def batch(name: str) -> list[dict[str, str]]:
        out = tmp_path / name
        run_ok(cli_env, "pay", "--out", str(out), "--min", "100.00", "--actor", "finance")
        with out.open(encoding="utf-8") as f:
            return list(csv.DictReader(f))

    assert [(r["member_id"], r["amount"]) for r in batch("first.csv")] == [("A", "416.44")]
    assert money(arun, "B") == (B_FEN, B_FEN, 0)
    said = run_ok(
        cli_env, "risk", "clear", FLAG, "--reason", "same household, not a farm", "--actor", "bob"
    )
    assert f"risk flag {FLAG} cleared: 274.34 released (3 payout(s))" in said
    assert money(arun, "B") == (B_FEN, 0, B_FEN)
    assert [(r["member_id"], r["amount"]) for r in batch("second.csv")] == [
        ("B", "144.67"),
        ("C", "129.67"),
    ]
    assert money(arun, "B") == (0, 0, 0)


def test_clear_makes_the_frozen_money_available_once(
    frozen: neo4j.Driver, arun: Callable[..., Any]
) -> None:
    made = decide(arun, confirm=False)
    assert (made.decision, made.frozen, made.reversed, made.flag.state) == (
        risk.CLEARED,
        B_FEN + C_FEN,
        0,
        risk.CLEARED,
    )
    assert money(arun, "B") == (B_FEN, 0, B_FEN)
    assert money(arun, "C") == (C_FEN, 0, C_FEN)
    assert flag_state(arun) == (risk.CLEARED, 0)
    assert payouts(frozen) == LINES
    (record,) = audits(frozen)
    assert (record.actor, record.action, record.target, record.reason) == (
        "alice",
        "risk_clear",
        FLAG,
        "checked the devices",
    )
    assert json.loads(record.before or "") == {
        "state": "OPEN",
        "frozen": "274.34",
        "members": {"B": "144.67", "C": "129.67"},
        "kind": "duplicate_accounts",
    }
    assert json.loads(record.after or "") == {
        "state": "CLEARED",
        "frozen": "0.00",
        "released": "274.34",
        "decision": made.id,
    }
    for confirm in (False, True):
        again = refused(arun, confirm=confirm)
        assert (again.code, again.message) == (
            "ALREADY_DECIDED",
            f"risk flag {FLAG} is already CLEARED: a flag is decided once",
        )
    assert len(audits(frozen)) == 1
    # A later run freezes nothing for a cleared flag.
    arun(refund_order, order_id="R1", refunded_at=at(12))
    settle(frozen, cutoff=at(20))
    assert money(arun, "B") == (B_FEN - 1_500, 0, B_FEN - 1_500)


def test_confirm_reverses_the_frozen_lines_exactly_once(
    frozen: neo4j.Driver, arun: Callable[..., Any]
) -> None:
    made = decide(arun, confirm=True, reason="one person, two accounts")
    assert (made.frozen, made.reversed, len(made.lines)) == (B_FEN + C_FEN, -(B_FEN + C_FEN), 3)
    assert money(arun, "B") == (0, 0, 0)
    assert money(arun, "C") == (0, 0, 0)
    assert money(arun, "A") == (A_FEN, 0, A_FEN)
    # The decision's reversal lines: REVERSED, with its id, flag and time, to the member paid and
    # with the opposite amount of the payout of the same order and tier.
    records, _, _ = frozen.execute_query(
        "MATCH (o:Order)-[l:REVERSED]->(m:Member) WHERE l.decision_id IS NOT NULL"
        " MATCH (o)-[p:PAID {tier: l.tier}]->(paid)"
        " RETURN " + ledger.LINE + " AS r, l.decision_id AS decision, paid.id AS paid,"
        " p.amount AS payout ORDER BY r.key"
    )
    assert [
        (r["r"]["key"], r["r"]["member_id"], r["r"]["amount"], r["r"]["reverses"]) for r in records
    ] == [
        ("GD|1|R", "B", -12_967, "GD|1|P"),
        ("GE|1|R", "C", -12_967, "GE|1|P"),
        ("R1|1|R", "B", -1_500, "R1|1|P"),
    ]
    assert {r["decision"] for r in records} == {r["r"]["run_id"] for r in records} == {made.id}
    assert {r["r"]["flag_id"] for r in records} == {FLAG}
    assert {r["r"]["at"].to_native() for r in records} == {at(11)}
    assert all(r["r"]["reversal"] for r in records)
    assert all(r["paid"] == r["r"]["member_id"] for r in records)
    assert all(r["payout"] == -r["r"]["amount"] for r in records)
    # The payouts themselves are untouched.
    assert {k: v for k, v in payouts(frozen).items() if k.endswith("|P")} == LINES
    assert flag_state(arun) == (risk.CONFIRMED, 0)
    (record,) = audits(frozen)
    assert record.action == "risk_confirm"
    assert json.loads(record.after or "")["reversed"] == "-274.34"
    again = refused(arun, confirm=True)
    assert again.code == "ALREADY_DECIDED"
    # R1 refunded later: its tier-1 payout is already reversed, so only A's tier 2 is reversed.
    arun(refund_order, order_id="R1", refunded_at=at(12))
    settle(frozen, cutoff=at(20))
    assert money(arun, "B") == (0, 0, 0)
    assert money(arun, "A") == (A_FEN - 150, 0, A_FEN - 150)
    assert reconcile(frozen).ok
    # The statement shows the reversal lines at the decision's time.
    lines = arun(ledger.ledger_page, member_id="B", start=None, end=None, first=10, after=None)
    assert [(line.key, line.amount, line.at) for line in lines.lines if line.reversal] == [
        ("R1|1|R", -1_500, at(11)),
        ("GD|1|R", -12_967, at(11)),
    ]


def test_a_refund_ends_the_freeze_of_what_it_reverses(
    frozen: neo4j.Driver, arun: Callable[..., Any]
) -> None:
    arun(refund_order, order_id="R1", refunded_at=at(12))
    settle(frozen, cutoff=at(20))
    assert money(arun, "B") == (B_FEN - 1_500, B_FEN - 1_500, 0)
    assert flag_state(arun) == (risk.OPEN, B_FEN - 1_500 + C_FEN)
    made = decide(arun, confirm=True)
    assert [line.key for line in made.lines] == ["GD|1|P", "GE|1|P"]
    assert money(arun, "B") == (0, 0, 0)
    assert reconcile(frozen).ok


def test_a_rerun_or_a_killed_run_freezes_nothing_twice(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    build(graph, tmp_path)
    # A run killed after its payouts (it settled GB-GE, not R1 yet), then a run taking it over.
    params = {"cutoff": at(8.5).isoformat(), "run_id": "run-killed", "batch": 1, "concurrency": 1}
    run_file(graph, SETTLEMENT_DIR / "begin.cypher", params)
    run_file(graph, SETTLEMENT_DIR / "payouts.cypher", params)
    assert money(arun, "B") == (12_967, 12_967, 0)
    done = settle(graph, cutoff=at(10), force=True)
    assert done.taken_over == "run-killed"
    again = settle(graph, cutoff=at(10))
    assert again.run is None
    assert payouts(graph) == LINES
    assert money(arun, "B") == (B_FEN, B_FEN, 0)
    assert flag_state(arun) == (risk.OPEN, B_FEN + C_FEN)
    # A refresh keeps the flag that froze money (same id, still open, same frozen amount).
    risk.refresh(graph)
    assert flag_state(arun) == (risk.OPEN, B_FEN + C_FEN)


def test_decided_flags_survive_a_refresh(frozen: neo4j.Driver, arun: Callable[..., Any]) -> None:
    decide(arun, confirm=False)
    risk.refresh(frozen)
    assert flag_state(arun) == (risk.CLEARED, 0)
    records, _, _ = frozen.execute_query(
        "MATCH (d:RiskDecision)-[:DECIDES]->(f:RiskFlag) RETURN d.flag_id AS id, d.decision AS d,"
        " d.frozen AS frozen, f.state AS state"
    )
    assert [tuple(r) for r in records] == [(FLAG, "CLEARED", B_FEN + C_FEN, "CLEARED")]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"flag_id": "farm:0000"}, NotFound, "risk flag farm:0000 does not exist"),
        ({"flag_id": "bad id"}, BadInput, "flagId must be 1-64 characters"),
        ({"reason": " "}, BadInput, "a reason is required for clearing a risk flag"),
        ({"reason": "", "confirm": True}, BadInput,
         "a reason is required for confirming a risk flag"),
        ({"reason": "ok\u200e"}, BadInput, "reason must not contain control or bidirectional"
         " formatting characters (U+200E at position 3)"),
    ],
)  # fmt: skip
def test_refused_decisions_write_nothing(
    frozen: neo4j.Driver,
    arun: Callable[..., Any],
    kwargs: dict[str, Any],
    error: type[DownlineError],
    message: str,
) -> None:
    exc = refused(arun, **kwargs)
    assert type(exc) is error
    assert message in exc.message
    assert flag_state(arun) == (risk.OPEN, B_FEN + C_FEN)
    assert audits(frozen) == []


def test_no_decision_while_a_settlement_runs(
    frozen: neo4j.Driver, arun: Callable[..., Any], cli_env: dict[str, str]
) -> None:
    run_file(
        frozen, SETTLEMENT_DIR / "begin.cypher", {"cutoff": at(11).isoformat(), "run_id": "run-x"}
    )
    exc = refused(arun)
    assert (exc.code, exc.message) == (
        "SETTLEMENT_RUNNING",
        "settlement run run-x is running; decide the flag after it finished",
    )
    failed = downline("risk", "confirm", FLAG, "--reason", "r", env=cli_env)
    assert failed.returncode == 1
    assert "settlement run run-x is running" in failed.stderr
    run_file(frozen, SETTLEMENT_DIR / "unlock.cypher", {"run_id": "run-x"})
    assert flag_state(arun) == (risk.OPEN, B_FEN + C_FEN)
    said = run_ok(cli_env, "risk", "confirm", FLAG, "--reason", "r", "--actor", "carol")
    assert f"risk flag {FLAG} confirmed: -274.34 reversed (3 payout(s))" in said
    (record,) = audits(frozen)
    assert (record.actor, record.action) == ("carol", "risk_confirm")


def test_a_flag_has_one_decision_record_whatever_its_state_says(
    frozen: neo4j.Driver, arun: Callable[..., Any]
) -> None:
    # A decision another admin's transaction wrote while this one read the flag as open: the
    # unique flag_id of RiskDecision refuses the second, and nothing of it is written.
    frozen.execute_query(
        "CREATE (:RiskDecision {id: 'risk-other', flag_id: $flag, decision: 'CLEARED'})",
        flag=FLAG,
    )
    exc = refused(arun, confirm=True)
    assert (exc.code, exc.message) == ("ALREADY_DECIDED", f"risk flag {FLAG} is already decided")
    assert flag_state(arun) == (risk.OPEN, B_FEN + C_FEN)
    assert payouts(frozen) == LINES
    assert audits(frozen) == []


def flags_stale(graph: neo4j.Driver) -> list[tuple[str, bool]]:
    records, _, _ = graph.execute_query(
        "MATCH (f:RiskFlag) RETURN f.id AS id, f.stale_since IS NOT NULL AS stale ORDER BY id"
    )
    return [tuple(r) for r in records]


def test_a_stale_flag_freezes_nothing_new_and_keeps_what_it_froze(
    frozen: neo4j.Driver, arun: Callable[..., Any]
) -> None:
    """A refresh that no longer finds a flag that froze money keeps it, marked stale: the next
    run pays its members unfrozen while what it froze stays frozen; found again, it freezes."""

    def sell(order_id: str, day: float) -> None:
        arun(
            record_order,
            order_id=order_id,
            kind="RETAIL",
            buyer_id="D",
            seller_id="B",
            sku="SKU1",
            amount=10_000,
            paid_at=at(day),
        )

    # C stops sharing B's device: the duplicate-accounts evidence is gone.
    frozen.execute_query("MATCH (:Member {id: 'C'})-[u:USES]->() DELETE u")
    risk.refresh(frozen)
    assert flags_stale(frozen) == [(FLAG, True)]
    sell("R2", 12)
    settle(frozen, cutoff=at(20))
    assert (frozen_by(frozen)["R2|1|P"], frozen_by(frozen)["R1|1|P"]) == (None, [FLAG])
    assert money(arun, "B") == (B_FEN + 1_500, B_FEN, 1_500)
    assert flag_state(arun) == (risk.OPEN, B_FEN + C_FEN)

    # The device is shared again: the same flag, no longer stale, freezes the next run's lines.
    frozen.execute_query(
        "MATCH (c:Member {id: 'C'}), (i:Identifier {kind: 'device_id', value: 'dev:bc'})"
        " CREATE (c)-[:USES]->(i)"
    )
    risk.refresh(frozen)
    assert flags_stale(frozen) == [(FLAG, False)]
    sell("R3", 21)
    settle(frozen, cutoff=at(30))
    assert frozen_by(frozen)["R3|1|P"] == [FLAG]
    assert money(arun, "B") == (B_FEN + 3_000, B_FEN + 1_500, 1_500)
    assert reconcile(frozen).ok
