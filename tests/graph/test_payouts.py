"""The payout ledger: export CSV, balances and payout batches, totals per tier, adjustments and
statements through the CLI."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import neo4j

from graph import withdrawals
from graph.cypherfiles import CYPHER, run_file
from graph.orders import refund_order
from graph.payouts import TierKindTotal, balance, balances, open_batch, tier_payouts
from graph.settlement import reconcile, settle
from tests.cli import downline
from tests.graph.netbuild import Ord, at, seed

LINE = {"A": None, "B": "A", "C": "B", "D": "C"}


def network(graph: neo4j.Driver, folder: Path) -> None:
    seed(
        graph,
        folder,
        LINE,
        [
            *(Ord(f"G-{m}", "GIFT_PACKAGE", m, day=0) for m in "ABC"),
            Ord("G1", "GIFT_PACKAGE", "D", day=1),
            Ord("R1", "RETAIL", "D", seller="C", day=2),
        ],
    )


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_export_payouts_csv(
    graph: neo4j.Driver, cli_env: dict[str, str], tmp_path: Path, arun: Callable[..., Any]
) -> None:
    network(graph, tmp_path)
    first = settle(graph, cutoff=at(10))
    arun(refund_order, order_id="R1", refunded_at=at(11))
    second = settle(graph, cutoff=at(12))
    assert first.run is not None and second.run is not None
    out = tmp_path / "payouts.csv"
    result = downline(
        "export", "payouts", "--out", str(out), "--from", at(2).isoformat(), env=cli_env
    )
    assert result.returncode == 0, result.stderr
    r1, r2 = first.run.id, second.run.id
    assert read_csv(out) == [
        ["order_id", "member_id", "tier", "kind", "amount", "reversal", "run_id"],
        ["R1", "C", "1", "RETAIL", "15.00", "false", r1],
        ["R1", "C", "1", "RETAIL", "-15.00", "true", r2],
        ["R1", "B", "2", "RETAIL", "1.50", "false", r1],
        ["R1", "B", "2", "RETAIL", "-1.50", "true", r2],
        ["R1", "A", "3", "RETAIL", "0.75", "false", r1],
        ["R1", "A", "3", "RETAIL", "-0.75", "true", r2],
    ]
    by_run = tmp_path / "run2.csv"
    result = downline("export", "payouts", "--out", str(by_run), "--run", r2, env=cli_env)
    assert result.returncode == 0, result.stderr
    assert [row[5] for row in read_csv(by_run)[1:]] == ["true", "true", "true"]
    window = tmp_path / "window.csv"
    result = downline(
        "export", "payouts", "--out", str(window), "--to", at(1.5).isoformat(), env=cli_env
    )
    assert [row[0] for row in read_csv(window)[1:]] == ["G-B", "G-C", "G-C", "G1", "G1", "G1"]


def test_pay_waits_for_a_running_settlement(
    graph: neo4j.Driver, cli_env: dict[str, str], tmp_path: Path
) -> None:
    network(graph, tmp_path)
    settle(graph, cutoff=at(10))
    graph.execute_query(
        "CREATE (:SettlementLock {id: 'settlement', run_id: 'run-busy', started_at: datetime(),"
        " heartbeat: datetime()})"
    )
    out = tmp_path / "pay.csv"
    result = downline("pay", "--min", "200.00", "--out", str(out), env=cli_env)
    assert result.returncode == 1
    assert "settlement run run-busy is running; open the payout batch after it finished" in (
        " ".join(result.stderr.split())
    )
    assert not out.exists()
    records, _, _ = graph.execute_query("MATCH (n) WHERE n:PayoutBatch OR n:Payment RETURN n")
    assert records == []


def test_pay_pays_each_balance_once_and_nets_later_reversals(
    graph: neo4j.Driver, cli_env: dict[str, str], tmp_path: Path, arun: Callable[..., Any]
) -> None:
    network(graph, tmp_path)
    first_run = settle(graph, cutoff=at(10)).run
    assert first_run is not None
    # A: G-B tier 1, G-C tier 2, G1 tier 3, R1 tier 3; B: G-C, G1, R1; C: G1, R1 (as seller).
    owed = balances(graph)
    assert owed == {
        "A": 12_967 + 7_780 + 5_187 + 75,
        "B": 12_967 + 7_780 + 150,
        "C": 12_967 + 1_500,
    }
    out = tmp_path / "pay1.csv"
    result = downline("pay", "--min", "200.00", "--out", str(out), env=cli_env)
    assert result.returncode == 0, result.stderr
    rows = read_csv(out)
    assert rows[0] == ["member_id", "amount", "batch_id"]
    batch_id = rows[1][2]
    assert rows[1:] == [["A", "260.09", batch_id], ["B", "208.97", batch_id]]
    again = tmp_path / "pay2.csv"
    result = downline("pay", "--min", "200.00", "--out", str(again), env=cli_env)
    assert result.returncode == 0, result.stderr
    assert read_csv(again) == [["member_id", "amount", "batch_id"]]
    assert balances(graph) == {"C": 14_467}

    arun(refund_order, order_id="R1", refunded_at=at(11))
    settle(graph, cutoff=at(12))
    assert balance(graph, "A") == -75
    assert balance(graph, "B") == -150
    # Paid lines stay as they were; A's negative balance waits for the next payouts to net it.
    batch = open_batch(graph, minimum=100, actor="finance")
    assert [(line.member_id, line.amount) for line in batch.lines] == [("C", 12_967)]
    assert balance(graph, "A") == -75
    records, _, _ = graph.execute_query(
        "MATCH (b:PayoutBatch)-[:PAYS]->(p:Payment {member_id: 'A'}) RETURN sum(p.amount) AS paid"
    )
    assert records[0]["paid"] == 26_009


def test_tier_payouts(graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]) -> None:
    network(graph, tmp_path)
    settle(graph, cutoff=at(10))
    arun(refund_order, order_id="R1", refunded_at=at(11))
    settle(graph, cutoff=at(12))
    summary = arun(tier_payouts, member_id="A", start=None, end=None)
    assert summary.member_id == "A"
    assert summary.platform_retained is None
    assert summary.lines == (
        TierKindTotal(1, "RETAIL", 0, 0),
        TierKindTotal(1, "GIFT_PACKAGE", 12_967, 1),
        TierKindTotal(2, "RETAIL", 0, 0),
        TierKindTotal(2, "GIFT_PACKAGE", 7_780, 1),
        TierKindTotal(3, "RETAIL", 0, 0),
        TierKindTotal(3, "GIFT_PACKAGE", 5_187, 1),
    )
    assert summary.total == 25_934
    platform = arun(tier_payouts, member_id=None, start=at(0.5), end=at(5))
    assert platform.lines[1] == TierKindTotal(1, "GIFT_PACKAGE", 12_967, 1)
    assert platform.lines[0] == TierKindTotal(1, "RETAIL", 0, 0)
    assert platform.total == 25_934
    assert platform.platform_retained == 1
    everything = arun(tier_payouts, member_id=None, start=None, end=None)
    assert everything.platform_retained == 25_935 + 25_935 - 12_967 + 25_935 - 12_967 - 7_780 + 1


def audit(graph: neo4j.Driver, action: str) -> list[dict[str, Any]]:
    records, _, _ = graph.execute_query(
        "MATCH (a:AuditRecord {action: $action}) RETURN a {.*} AS a ORDER BY a.at", action=action
    )
    return [r["a"] for r in records]


def test_adjust_counts_in_balance_export_and_pay(
    graph: neo4j.Driver, cli_env: dict[str, str], tmp_path: Path
) -> None:
    network(graph, tmp_path)
    run = settle(graph, cutoff=at(10)).run
    assert run is not None
    result = downline(
        "adjust", "--member", "C", "--amount", "-4.67", "--reason", "duplicate bonus",
        "--actor", "alice", env=cli_env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "-4.67 to C (duplicate bonus)" in result.stdout
    assert balance(graph, "C") == 14_467 - 467
    (record,) = audit(graph, "adjust")
    assert (record["actor"], record["target"], record["reason"]) == (
        "alice",
        "C",
        "duplicate bonus",
    )
    assert json.loads(record["before"]) == {"balance": "144.67"}
    assert json.loads(record["after"])["balance"] == "140.00"
    # Not an order's payout: the settlement books still balance, per order and per period.
    assert reconcile(graph).ok
    (periods,) = run_file(
        graph,
        CYPHER / "analytics" / "payout_reconciliation.cypher",
        {"from": at(-1).isoformat(), "to": at(30).isoformat(), "period": "month"},
    )
    assert [dict(zip(periods.keys, row, strict=True))["balanced"] for row in periods.rows] == [True]
    out = tmp_path / "payouts.csv"
    assert downline("export", "payouts", "--out", str(out), env=cli_env).returncode == 0
    rows = read_csv(out)
    assert rows[0] == ["order_id", "member_id", "tier", "kind", "amount", "reversal", "run_id"]
    adjustment_id = json.loads(record["after"])["adjustment"]
    assert rows[-1] == ["", "C", "", "ADJUSTMENT", "-4.67", "false", adjustment_id]
    by_run = tmp_path / "run.csv"
    downline("export", "payouts", "--out", str(by_run), "--run", run.id, env=cli_env)
    assert all(row[3] != "ADJUSTMENT" for row in read_csv(by_run))
    paid = tmp_path / "pay.csv"
    result = downline("pay", "--min", "140.00", "--out", str(paid), env=cli_env)
    assert result.returncode == 0, result.stderr
    assert [row[:2] for row in read_csv(paid)] == [
        ["member_id", "amount"],
        ["A", "260.09"],
        ["B", "208.97"],
        ["C", "140.00"],
    ]
    assert balances(graph) == {}


def test_adjust_refusals_write_nothing(
    graph: neo4j.Driver, cli_env: dict[str, str], tmp_path: Path
) -> None:
    network(graph, tmp_path)
    cases = [
        (["--member", "C", "--amount", "0", "--reason", "x"], "amount must not be 0.00"),
        (["--member", "C", "--amount", "1.005", "--reason", "x"], "--amount: '1.005' is not"),
        (["--member", "C", "--amount", "1.00", "--reason", " "], "a reason is required for an"),
        (["--member", "nobody", "--amount", "1.00", "--reason", "x"], "member nobody does not"),
    ]
    for args, message in cases:
        result = downline("adjust", *args, env=cli_env)
        assert result.returncode == 1, args
        assert message in result.stderr, result.stderr
    records, _, _ = graph.execute_query(
        "MATCH (n) WHERE n:Adjustment OR n:AuditRecord AND n.action = 'adjust' RETURN count(n) AS n"
    )
    assert records[0]["n"] == 0


def test_pay_pays_an_approved_withdrawal_and_the_statement_shows_it(
    graph: neo4j.Driver, cli_env: dict[str, str], tmp_path: Path, arun: Callable[..., Any]
) -> None:
    network(graph, tmp_path)
    run = settle(graph, cutoff=at(10)).run
    assert run is not None
    now = datetime.now(UTC)
    made = arun(
        withdrawals.request_withdrawal, member_id="C", amount=10_000, idempotency_key="k", now=now
    )
    arun(withdrawals.decide_withdrawal, withdrawal_id=made.id, approve=True, actor="a", now=now)
    out = tmp_path / "pay.csv"
    result = downline("pay", "--out", str(out), "--actor", "bob", env=cli_env)
    assert result.returncode == 0, result.stderr
    rows = read_csv(out)
    batch_id = rows[1][2]
    assert rows == [["member_id", "amount", "batch_id"], ["C", "100.00", batch_id]]
    assert "1 member(s) (1 withdrawal(s)), 100.00" in result.stdout
    again = tmp_path / "again.csv"
    result = downline("pay", "--out", str(again), env=cli_env)
    assert "nothing is due" in result.stdout
    assert read_csv(again) == [["member_id", "amount", "batch_id"]]
    (record,) = audit(graph, "pay")
    assert (record["actor"], record["target"]) == ("bob", "C")
    statement = tmp_path / "statement.csv"
    result = downline("export", "statement", "--member", "C", "--out", str(statement), env=cli_env)
    assert result.returncode == 0, result.stderr
    rows = read_csv(statement)
    assert rows[0] == [
        "member_id", "at", "kind", "order_id", "tier", "amount", "reversal", "reference",
        "reason", "buyer_id", "seller_id", "balance",
    ]  # fmt: skip
    body = [(r[2], r[3], r[4], r[5], r[7], r[8], r[9], r[10], r[11]) for r in rows[1:]]
    assert body == [
        ("OPENING", "", "", "", "", "", "", "", "0.00"),
        ("GIFT_PACKAGE", "G1", "1", "129.67", run.id, "", "D", "", "129.67"),
        ("RETAIL", "R1", "1", "15.00", run.id, "", "D", "C", "144.67"),
        ("PAYMENT", "", "", "-100.00", batch_id, made.id, "", "", "44.67"),
        ("CLOSING", "", "", "", "", "", "", "", "44.67"),
    ]
    bad = downline(
        "export", "statement", "--member", "C", "--out", str(statement), "--from", "yesterday",
        env=cli_env,
    )  # fmt: skip
    assert bad.returncode == 1 and "--from" in bad.stderr
