"""The payout ledger: export CSV, balances and payout batches, totals per tier."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import neo4j

from graph.orders import refund_order
from graph.payouts import TierKindTotal, balance, balances, open_batch, tier_payouts
from graph.settlement import settle
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
    batch = open_batch(graph, minimum=100)
    assert [(line.member_id, line.amount) for line in batch.lines] == [("C", 12_967)]
    assert balance(graph, "A") == -75
    records, _, _ = graph.execute_query(
        "MATCH (b:PayoutBatch)-[:PAYS]->(p:Payout {member_id: 'A'}) RETURN sum(p.amount) AS paid"
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
