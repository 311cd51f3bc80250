"""Settlement preview against the real Neo4j: a preview and the run after it agree line for line,
a candidate plan is compared with the committed ledger to the fen, and nothing is written."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import neo4j
import pytest

from graph.db import apply_schema
from graph.orders import record_order, refund_order
from graph.plans import PlanRefused
from graph.preview import Difference, parse_plan, preview
from graph.settlement import SettlementRefused, settle
from tests.cli import ROOT, downline
from tests.graph.netbuild import DEFAULT_PLAN, Ord, at, seed

LINE = {"A": None, "B": "A", "C": "B", "D": "C", "S": "D", "X": "S", "Y": "X"}
CANDIDATE = (
    (ROOT / "plans" / "default.toml")
    .read_text(encoding="utf-8")
    .replace("[5000, 3000, 2000]", "[6000, 3000, 1000]")
)


def state(driver: neo4j.Driver) -> tuple[list[Any], list[Any]]:
    """Every node and relationship with its properties: what "writes nothing" compares."""
    nodes, _, _ = driver.execute_query(
        "MATCH (n) RETURN labels(n) AS l, properties(n) AS p ORDER BY elementId(n)"
    )
    rels, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN elementId(a) AS a, type(r) AS t, properties(r) AS p,"
        " elementId(b) AS b ORDER BY elementId(r)"
    )
    return [r.values() for r in nodes], [r.values() for r in rels]


def ledger(driver: neo4j.Driver, run_id: str) -> set[tuple[str, str, int, str, int, bool]]:
    """The lines a run wrote: the payouts of the orders it settled and the reversals of the
    orders it reversed (a risk decision's reversals are no run's)."""
    records, _, _ = driver.execute_query(
        """
        CALL () {
          MATCH (o:Order {settled_run: $run})-[l:PAID]->(m:Member)
          RETURN o, l, m
          UNION
          MATCH (o:Order {reversed_run: $run})-[l:REVERSED]->(m:Member)
          WHERE l.decision_id IS NULL
          RETURN o, l, m
        }
        RETURN o.id AS o, m.id AS m, l.tier AS t, o.kind AS k, l.amount AS a,
               type(l) = 'REVERSED' AS r
        """,
        run=run_id,
    )
    return {(r["o"], r["m"], r["t"], r["k"], r["a"], r["r"]) for r in records}


def test_a_preview_and_the_run_after_it_agree_line_for_line(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    seed(
        graph,
        tmp_path,
        LINE,
        [
            *(Ord(f"G-{m}", "GIFT_PACKAGE", m, day=0) for m in "ABCDS"),
            Ord("R1", "RETAIL", "X", seller="S", day=1),
            Ord("R2", "RETAIL", "S", seller="S", sku="SKU2", day=1),  # a self-purchase
            Ord("R3", "RETAIL", "Y", seller="X", day=1),  # X is no agent yet: no pool
        ],
    )
    first = settle(graph, cutoff=at(10)).run
    assert first is not None and first.orders_settled == 8
    # After the first run: R1 is refunded (a reversal), X becomes an agent (a package the
    # next run links first) and sells, and a gift package under Y.
    arun(refund_order, order_id="R1", refunded_at=at(11))
    for order_id, kind, buyer, seller, sku, amount, day in [
        ("G-X", "GIFT_PACKAGE", "X", None, "GP399", 39_900, 11),
        ("R4", "RETAIL", "Y", "X", "SKU1", 10_000, 12),
        ("G-Y", "GIFT_PACKAGE", "Y", None, "GP499", 49_900, 12),
        ("R5", "RETAIL", "Y", "X", "SKU1", 10_000, 29),  # still in its hold period
    ]:
        arun(
            record_order,
            order_id=order_id,
            kind=kind,
            buyer_id=buyer,
            seller_id=seller,
            sku=sku,
            amount=amount,
            paid_at=at(day),
        )
    before = state(graph)
    seen = arun(preview, cutoff=at(25), lines=True)
    assert state(graph) == before
    run = settle(graph, cutoff=at(25)).run
    assert run is not None
    written = ledger(graph, run.id)
    assert {dataclasses.astuple(line) for line in seen.lines} == written
    assert len(seen.lines) == len(written) == run.payouts + run.reversals
    assert (
        (seen.orders, seen.orders_reversed)
        == (run.orders_settled, run.orders_reversed)
        == (
            3,
            1,
        )
    )
    assert (seen.pool, seen.paid, seen.reversed, seen.retained) == (
        run.pool,
        run.paid,
        run.reversed,
        run.retained,
    )
    assert [dataclasses.astuple(t) for t in seen.totals] == [
        dataclasses.astuple(t) for t in run.totals
    ]
    assert ("R4", "X", 1, "RETAIL", 1_500, False) in written  # X's new package was linked
    assert ("R1", "S", 1, "RETAIL", -1_500, True) in written
    # Nothing left to preview once the run is done.
    after = arun(preview, cutoff=at(25))
    assert (after.orders, after.orders_reversed, after.paid, after.lines) == (0, 0, 0, ())


def test_top_members_and_the_compliance_mix(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    seed(
        graph,
        tmp_path,
        LINE,
        [
            *(Ord(f"G-{m}", "GIFT_PACKAGE", m, day=0) for m in "ABCD"),
            Ord("R1", "RETAIL", "S", seller="D", day=1),
        ],
    )
    seen = arun(preview, cutoff=at(30), top=2)
    # A: 12967 (G-B) + 7780 (G-C) + 5187 (G-D); B: 12967 + 7780 + 75 (R1 tier 3); C: 12967 + 150;
    # D: 1500 (R1 tier 1).
    assert [(m.member_id, m.amount) for m in seen.top] == [("A", 25_934), ("B", 20_822)]
    mix = seen.compliance
    assert mix.income.total == seen.paid == 25_934 + 20_822 + 13_117 + 1_500
    assert mix.income.gift_package == 3 * 12_967 + 2 * 7_780 + 5_187
    assert mix.income.team_pay == 2 * 7_780 + 5_187 + 150 + 75
    assert (mix.members_paid, mix.flagged) == (4, 3)  # D's income is all retail, tier 1
    assert mix.flagged_bp == 7_500
    assert mix.income.gift_package_bp == mix.income.gift_package * 10_000 // mix.income.total


def test_a_candidate_plan_against_the_committed_ledger(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    seed(graph, tmp_path, LINE, [Ord(f"G-{m}", "GIFT_PACKAGE", m, day=0) for m in "ABCD"])
    assert settle(graph, cutoff=at(30)).run is not None
    before = state(graph)
    seen = arun(preview, cutoff=at(30), plan=parse_plan(CANDIDATE))
    assert state(graph) == before
    assert (seen.plan_id, seen.orders) == ("default", 4)
    comparison = seen.comparison
    assert comparison is not None
    # Tier 1 of G-B, G-C, G-D: 15561 instead of 12967; tier 3 of G-D: 2593 instead of 5187.
    assert comparison.tiers == (
        Difference(1, None, None, 3 * 15_561, 3 * 12_967),
        Difference(2, None, None, 2 * 7_780, 2 * 7_780),
        Difference(3, None, None, 2_593, 5_187),
    )
    assert comparison.kinds == (
        Difference(None, "RETAIL", None, 0, 0),
        Difference(None, "GIFT_PACKAGE", None, 64_836, 59_648),
    )
    # A gains at tier 1 what it loses at tier 3: it is not listed.
    assert [(d.member_id, d.preview, d.committed, d.difference) for d in comparison.members] == [
        ("B", 23_341, 20_747, 2_594),
        ("C", 15_561, 12_967, 2_594),
    ]
    assert (comparison.retained.preview, comparison.retained.committed) == (38_904, 44_092)
    assert comparison.compliance.income.total == 59_648
    assert seen.compliance.income.total == 64_836 == seen.paid


def test_refusals_write_nothing(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    seed(graph, tmp_path, LINE, [Ord("G-A", "GIFT_PACKAGE", "A", day=0)], plan=None)
    with pytest.raises(SettlementRefused, match=r"^no compensation plan is loaded"):
        arun(preview, cutoff=at(30))
    with pytest.raises(PlanRefused, match=r"^the plan is not valid TOML: "):
        parse_plan("id = ")
    four = CANDIDATE.replace("tiers = 3", "tiers = 4")
    with pytest.raises(PlanRefused, match=r"pays 4 tiers: a lawful plan pays three tiers at most"):
        parse_plan(four)
    seed(graph, tmp_path / "again", {}, plan=DEFAULT_PLAN)
    settle(graph, cutoff=at(30))
    with pytest.raises(SettlementRefused, match=r"settlement only moves forward$"):
        arun(preview, cutoff=at(29))


def test_a_store_without_the_reversal_index_is_refused_like_a_run(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    seed(graph, tmp_path, LINE, [Ord("G-A", "GIFT_PACKAGE", "A", day=0)])
    graph.execute_query("DROP INDEX order_unreversed_since")
    try:
        with pytest.raises(SettlementRefused, match=r"predates the reversal index.*db migrate"):
            arun(preview, cutoff=at(30))
    finally:
        apply_schema(graph)
    assert arun(preview, cutoff=at(30)).orders == 1


def test_the_cli_previews_and_writes_the_difference(
    graph: neo4j.Driver, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    seed(graph, tmp_path, LINE, [Ord(f"G-{m}", "GIFT_PACKAGE", m, day=0) for m in "ABCD"])
    until = at(30).isoformat()
    shown = downline("settle", "--preview", "--until", until, env=cli_env)
    assert shown.returncode == 0, shown.stderr
    assert "preview: 4 order(s) would settle, 0 reversed" in shown.stdout
    assert "paid 596.48" in shown.stdout  # 3 x 129.67 + 2 x 77.80 + 51.87
    records, _, _ = graph.execute_query("MATCH ()-[l:PAID|REVERSED]->() RETURN count(l) AS n")
    assert records[0]["n"] == 0
    assert downline("settle", "--until", until, env=cli_env).returncode == 0
    plan = tmp_path / "candidate.toml"
    plan.write_text(CANDIDATE, encoding="utf-8")
    out = tmp_path / "diff.csv"
    compared = downline(
        "settle",
        "--preview",
        "--until",
        until,
        "--plan",
        str(plan),
        "--out",
        str(out),
        env=cli_env,
    )
    assert compared.returncode == 0, compared.stderr
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "level",
        "tier",
        "kind",
        "member_id",
        "preview",
        "committed",
        "difference",
    ]
    got = {(r["level"], r["tier"], r["kind"], r["member_id"]): r["difference"] for r in rows}
    assert got[("tier", "1", "", "")] == "77.82"
    assert got[("tier", "3", "", "")] == "-25.94"
    assert got[("member", "", "", "B")] == "25.94"
    assert ("member", "", "", "A") not in got
    assert got[("retained", "", "", "")] == "-51.88"
    bad = downline(
        "settle", "--preview", "--until", until, "--plan", str(tmp_path / "no.toml"), env=cli_env
    )
    assert bad.returncode != 0
    no_preview = downline("settle", "--until", until, "--plan", str(plan), env=cli_env)
    assert no_preview.returncode == 1
    assert "--plan and --out are only for --preview" in no_preview.stderr
