"""Settlement rules, one test per rule, against the real Neo4j (domain.md, worked examples)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import neo4j
import pytest

from contract.settings import Settings, SettingsError
from graph.db import apply_schema, clear
from graph.members import set_suspended
from graph.orders import record_order, refund_order
from graph.plans import store_plan
from graph.settlement import (
    DEFAULT_CONCURRENCY,
    SettlementRefused,
    read_run,
    reconcile,
    settle,
)
from tests.graph.netbuild import DEFAULT_PLAN, Ord, at, net, order_books, payouts, seed

# A straight line of agents: A is the root, S sells; everyone holds a gift package from day 0.
LINE = {"A": None, "B": "A", "C": "B", "D": "C", "S": "D", "X": "S"}


def gifts(*members: str, day: float = 0) -> list[Ord]:
    return [Ord(f"G-{m}", "GIFT_PACKAGE", m, day=day) for m in members]


def test_worked_example_gift_package(graph: neo4j.Driver, tmp_path: Path) -> None:
    seed(graph, tmp_path, LINE, [*gifts("A", "B", "C"), Ord("G1", "GIFT_PACKAGE", "D", day=1)])
    settle(graph, cutoff=at(30))
    got = {k: v for k, v in payouts(graph).items() if k.startswith("G1|")}
    assert got == {"G1|1|P": ("C", 12_967), "G1|2|P": ("B", 7_780), "G1|3|P": ("A", 5_187)}
    assert order_books(graph, "G1") == (25_935, 1)
    assert reconcile(graph).ok


def test_worked_example_retail_with_a_non_agent_tier_2(graph: neo4j.Driver, tmp_path: Path) -> None:
    # S's sponsor D holds no gift package: its 150 fen are retained, C still gets 75.
    seed(graph, tmp_path, LINE, [*gifts("C", "S"), Ord("R1", "RETAIL", "X", seller="S", day=1)])
    settle(graph, cutoff=at(30))
    got = {k: v for k, v in payouts(graph).items() if k.startswith("R1|")}
    assert got == {"R1|1|P": ("S", 1_500), "R1|3|P": ("C", 75)}
    assert order_books(graph, "R1") == (1_725, 150)


def test_a_suspended_member_is_skipped_not_compressed(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    seed(graph, tmp_path, LINE, [*gifts("B", "C", "D", "S"), Ord("R1", "RETAIL", "X", seller="S")])
    arun(set_suspended, member_id="C", suspended=True)
    settle(graph, cutoff=at(30))
    got = {k: v for k, v in payouts(graph).items() if k.startswith("R1|")}
    assert got == {"R1|1|P": ("S", 1_500), "R1|2|P": ("D", 150)}
    assert order_books(graph, "R1") == (1_725, 75)


def test_a_missing_upline_is_retained(graph: neo4j.Driver, tmp_path: Path) -> None:
    # B's gift package: tier 1 is A, there is no tier 2 or 3.
    seed(graph, tmp_path, LINE, [*gifts("A"), Ord("G1", "GIFT_PACKAGE", "B", day=1)])
    settle(graph, cutoff=at(30))
    assert {k: v for k, v in payouts(graph).items() if k.startswith("G1|")} == {
        "G1|1|P": ("A", 12_967)
    }
    assert order_books(graph, "G1") == (25_935, 25_935 - 12_967)


def test_a_root_buying_a_gift_package_pays_nobody(graph: neo4j.Driver, tmp_path: Path) -> None:
    seed(graph, tmp_path, LINE, gifts("A"))
    settle(graph, cutoff=at(30))
    assert payouts(graph) == {}
    assert order_books(graph, "G-A") == (25_935, 25_935)


def test_a_retail_order_without_an_agent_seller_has_no_pool(
    graph: neo4j.Driver, tmp_path: Path
) -> None:
    seed(
        graph,
        tmp_path,
        LINE,
        [
            *gifts("B", "C", "D"),
            Ord("R1", "RETAIL", "X", seller="S"),
            Ord("R2", "RETAIL", "X"),
        ],
    )
    settle(graph, cutoff=at(30))
    assert not [k for k in payouts(graph) if k.startswith("R")]
    assert order_books(graph, "R1") == (0, 0)
    assert order_books(graph, "R2") == (0, 0)


def test_agency_is_judged_at_paid_at(graph: neo4j.Driver, tmp_path: Path) -> None:
    seed(
        graph,
        tmp_path,
        LINE,
        [
            Ord("G-S", "GIFT_PACKAGE", "S", day=5),  # S becomes an agent on day 5
            Ord("G-D", "GIFT_PACKAGE", "D", day=0, refunded_day=3),  # D stops on day 3
            Ord("G-C", "GIFT_PACKAGE", "C", day=0, refunded_day=40),  # C stops after the sales
            Ord("R-early", "RETAIL", "X", seller="S", day=4),
            Ord("R-late", "RETAIL", "X", seller="S", day=6),
            Ord("R-mid", "RETAIL", "X", seller="S", day=2.5),
        ],
    )
    settle(graph, cutoff=at(30))
    got = payouts(graph)
    assert not [k for k in got if k.startswith(("R-early", "R-mid"))]
    assert {k: v for k, v in got.items() if k.startswith("R-late")} == {
        "R-late|1|P": ("S", 1_500),
        "R-late|3|P": ("C", 75),
    }


def test_self_purchase_earns_when_the_plan_says_so(graph: neo4j.Driver, tmp_path: Path) -> None:
    seed(graph, tmp_path, LINE, [*gifts("C", "D", "S"), Ord("R1", "RETAIL", "S", seller="S")])
    settle(graph, cutoff=at(30))
    assert {k: v for k, v in payouts(graph).items() if k.startswith("R1|")} == {
        "R1|1|P": ("S", 1_500),
        "R1|2|P": ("D", 150),
        "R1|3|P": ("C", 75),
    }


def test_without_self_purchase_a_self_purchase_pays_nobody(
    graph: neo4j.Driver, tmp_path: Path
) -> None:
    plan = dataclasses.replace(DEFAULT_PLAN, self_purchase=False)
    seed(
        graph,
        tmp_path,
        LINE,
        [
            *gifts("C", "D", "S"),
            Ord("R1", "RETAIL", "S", seller="S"),
            Ord("R2", "RETAIL", "X", seller="S"),
        ],
        plan=plan,
    )
    settle(graph, cutoff=at(30))
    got = payouts(graph)
    assert not [k for k in got if k.startswith("R1|")]
    assert order_books(graph, "R1") == (1_725, 1_725)
    assert sorted(k for k in got if k.startswith("R2|")) == ["R2|1|P", "R2|2|P", "R2|3|P"]


def test_the_hold_period(graph: neo4j.Driver, tmp_path: Path) -> None:
    seed(
        graph, tmp_path, LINE, [*gifts("S", "D", "C"), Ord("R1", "RETAIL", "X", seller="S", day=5)]
    )
    settle(graph, cutoff=at(11.99))
    assert order_books(graph, "R1") == (None, None)
    settle(graph, cutoff=at(12))
    assert order_books(graph, "R1") == (1_725, 0)


def test_a_refund_before_settling_pays_nobody(graph: neo4j.Driver, tmp_path: Path) -> None:
    seed(
        graph,
        tmp_path,
        LINE,
        [*gifts("S", "D", "C"), Ord("R1", "RETAIL", "X", seller="S", day=5, refunded_day=9)],
    )
    settle(graph, cutoff=at(30))
    assert not [k for k in payouts(graph) if k.startswith("R1|")]
    assert order_books(graph, "R1") == (None, None)


def test_a_refund_after_settling_is_reversed(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    seed(
        graph, tmp_path, LINE, [*gifts("S", "D", "C"), Ord("R1", "RETAIL", "X", seller="S", day=5)]
    )
    settle(graph, cutoff=at(13))
    arun(refund_order, order_id="R1", refunded_at=at(14))
    outcome = settle(graph, cutoff=at(15))
    assert outcome.run is not None
    assert outcome.run.orders_reversed == 1
    assert outcome.run.reversals == 3
    assert outcome.run.reversed == -1_725
    got = payouts(graph)
    assert got["R1|1|R"] == ("S", -1_500)
    assert got["R1|2|R"] == ("D", -150)
    assert got["R1|3|R"] == ("C", -75)
    assert not [k for k, v in net(graph).items() if k[1] == "R1"]
    assert reconcile(graph).ok
    assert settle(graph, cutoff=at(15)).run is None


def test_a_refund_loaded_after_settling_is_reversed(graph: neo4j.Driver, tmp_path: Path) -> None:
    """The loader's refund of a stored order marks it for its reversal, as the API's does."""
    sale = Ord("R1", "RETAIL", "X", seller="S", day=5)
    seed(graph, tmp_path / "first", LINE, [*gifts("S", "D", "C"), sale])
    settle(graph, cutoff=at(13))
    refunded = dataclasses.replace(sale, refunded_day=14)
    seed(graph, tmp_path / "refund", LINE, [*gifts("S", "D", "C"), refunded], plan=None)
    outcome = settle(graph, cutoff=at(15))
    assert outcome.run is not None
    assert (outcome.run.orders_reversed, outcome.run.reversed) == (1, -1_725)
    assert not [k for k, v in net(graph).items() if k[1] == "R1"]
    records, _, _ = graph.execute_query(
        "MATCH (o:Order) WHERE o.unreversed_since IS NOT NULL RETURN count(o) AS n"
    )
    assert records[0]["n"] == 0
    assert reconcile(graph).ok


def test_a_store_without_the_reversal_index_refuses_until_its_schema_is_applied(
    graph: neo4j.Driver, tmp_path: Path
) -> None:
    """A store of before o.unreversed_since: its refunds of settled orders carry no mark, so
    settlement waits for the schema (``downline db migrate``), which marks them first."""
    seed(
        graph, tmp_path, LINE, [*gifts("S", "D", "C"), Ord("R1", "RETAIL", "X", seller="S", day=5)]
    )
    settle(graph, cutoff=at(13))
    graph.execute_query("MATCH (o:Order {id: 'R1'}) SET o.refunded_at = $at", at=at(14))
    graph.execute_query("DROP INDEX order_unreversed_since")
    try:
        with pytest.raises(SettlementRefused, match=r"predates the reversal index.*db migrate"):
            settle(graph, cutoff=at(15))
        records, _, _ = graph.execute_query(
            "MATCH (r:SettlementRun) RETURN count(r) AS runs, sum(r.orders_reversed) AS reversed"
        )
        assert (records[0]["runs"], records[0]["reversed"]) == (1, 0)
    finally:
        apply_schema(graph)
    outcome = settle(graph, cutoff=at(15))
    assert outcome.run is not None
    assert (outcome.run.orders_reversed, outcome.run.reversed) == (1, -1_725)
    assert reconcile(graph).ok


def test_a_refunded_gift_package_is_reversed_and_ends_agency(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    seed(graph, tmp_path, LINE, [*gifts("A", "B", "C"), Ord("G1", "GIFT_PACKAGE", "D", day=1)])
    settle(graph, cutoff=at(10))
    arun(refund_order, order_id="G1", refunded_at=at(11))
    # D sells after its refund: no longer an agent, so that sale has no pool.
    arun(
        record_order,
        order_id="R9",
        kind="RETAIL",
        buyer_id="X",
        seller_id="D",
        sku="SKU1",
        amount=10_000,
        paid_at=at(12),
    )
    settle(graph, cutoff=at(30))
    assert not [k for k, v in net(graph).items() if k[1] == "G1"]
    assert {k for k in payouts(graph) if k.startswith("G1|")} == {
        "G1|1|P",
        "G1|2|P",
        "G1|3|P",
        "G1|1|R",
        "G1|2|R",
        "G1|3|R",
    }
    assert order_books(graph, "R9") == (0, 0)
    assert reconcile(graph).ok


def test_the_plan_in_effect_at_paid_at_applies(graph: neo4j.Driver, tmp_path: Path) -> None:
    seed(
        graph,
        tmp_path,
        LINE,
        [
            *gifts("A", "B", "C"),
            Ord("G-old", "GIFT_PACKAGE", "D", day=1),
            Ord("G-new", "GIFT_PACKAGE", "S", day=11),
        ],
    )
    two_tiers = dataclasses.replace(
        DEFAULT_PLAN,
        id="v2",
        effective_from=at(10),
        hold_days=1,
        tiers=2,
        retail_override_bp=(2000,),
        gift_cost_bp=5000,
        gift_shares_bp=(6000, 3000),
    )
    store_plan(graph, two_tiers)
    outcome = settle(graph, cutoff=at(12.5))
    assert outcome.run is not None
    assert outcome.run.plans == ("default", "v2")
    got = payouts(graph)
    # 39 900 at 5000 bp cost: pool 19 950; D (tier 1) 11 970, C 5 985; tier 3 is not paid.
    assert {k: v for k, v in got.items() if k.startswith("G-new|")} == {
        "G-new|1|P": ("D", 11_970),
        "G-new|2|P": ("C", 5_985),
    }
    assert order_books(graph, "G-new") == (19_950, 1_995)
    assert got["G-old|3|P"] == ("A", 5_187)


def test_no_plan_refuses_and_writes_nothing(graph: neo4j.Driver, tmp_path: Path) -> None:
    seed(graph, tmp_path, LINE, gifts("A", "B"), plan=None)
    with pytest.raises(SettlementRefused, match="no compensation plan is loaded"):
        settle(graph, cutoff=at(30))
    records, _, _ = graph.execute_query(
        "MATCH (n) WHERE n:SettlementRun OR n:SettlementLock RETURN count(n) AS n"
        " UNION ALL MATCH ()-[l:PAID|REVERSED]->() RETURN count(l) AS n"
    )
    assert [r["n"] for r in records] == [0, 0]


def test_a_store_with_old_ledger_lines_refuses_until_migrated(
    graph: neo4j.Driver, tmp_path: Path
) -> None:
    seed(graph, tmp_path, LINE, gifts("A", "B"))
    graph.execute_query(
        "CREATE (:Payout {key: 'G-old|1|P', order_id: 'G-old', member_id: 'A', tier: 1,"
        " amount: 100, reversal: false})"
    )
    with pytest.raises(
        SettlementRefused, match=r"1 payout line\(s\) of the old ledger.*db migrate"
    ):
        settle(graph, cutoff=at(30))
    records, _, _ = graph.execute_query(
        "MATCH (n) WHERE n:SettlementRun OR n:SettlementLock RETURN count(n) AS n"
        " UNION ALL MATCH ()-[l:PAID|REVERSED]->() RETURN count(l) AS n"
    )
    assert [r["n"] for r in records] == [0, 0]


def test_a_rerun_with_the_same_cutoff_writes_nothing(graph: neo4j.Driver, tmp_path: Path) -> None:
    seed(graph, tmp_path, LINE, [*gifts("A", "B", "C", "D")])
    first = settle(graph, cutoff=at(30))
    assert first.run is not None
    assert first.run.status == "finished"
    assert first.run.orders_settled == 4
    records, _, _ = graph.execute_query(
        "MATCH (n) WITH count(n) AS n MATCH ()-[r]->() RETURN n, count(r) AS r"
    )
    before = records[0].data()
    again = settle(graph, cutoff=at(30))
    assert again.run is None
    records, _, _ = graph.execute_query(
        "MATCH (n) WITH count(n) AS n MATCH ()-[r]->() RETURN n, count(r) AS r"
    )
    assert records[0].data() == before


def test_a_cutoff_before_a_finished_run_is_refused(graph: neo4j.Driver, tmp_path: Path) -> None:
    seed(graph, tmp_path, LINE, gifts("A", "B"))
    settle(graph, cutoff=at(30))
    with pytest.raises(SettlementRefused, match="settlement only moves forward"):
        settle(graph, cutoff=at(20))


def test_the_run_record(graph: neo4j.Driver, tmp_path: Path) -> None:
    seed(graph, tmp_path, LINE, [*gifts("A", "B", "C", "D"), Ord("R1", "RETAIL", "S", seller="D")])
    outcome = settle(graph, cutoff=at(30))
    assert outcome.run is not None
    run = read_run(graph, outcome.run.id)
    assert run == outcome.run
    assert run.cutoff == at(30)
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert run.orders_settled == 5
    assert run.payouts == 1 + 2 + 3 + 3  # the gifts of B, C and D, then the retail order
    assert [(t.tier, t.kind) for t in run.totals] == [
        (1, "RETAIL"),
        (1, "GIFT_PACKAGE"),
        (2, "RETAIL"),
        (2, "GIFT_PACKAGE"),
        (3, "RETAIL"),
        (3, "GIFT_PACKAGE"),
    ]
    by = {(t.tier, t.kind): t for t in run.totals}
    assert by[(1, "RETAIL")].paid == 1_500
    assert by[(2, "RETAIL")].paid == 150
    assert by[(3, "RETAIL")].paid == 75
    assert by[(1, "GIFT_PACKAGE")].payouts == 3
    assert run.paid + run.retained == run.pool


def mixed_orders() -> list[Ord]:
    """Gift packages up the line, then retail sales and refunds spread over many batches."""
    orders = gifts("A", "B", "C", "D", "S")
    sellers = ["S", "D", "C", "X", None]
    for i in range(60):
        refunded = 20 + i % 5 if i % 7 == 0 else None
        sku = "SKU2" if i % 3 else "SKU1"
        orders.append(
            Ord(
                f"R{i:02d}",
                "RETAIL",
                "X",
                seller=sellers[i % 5],
                sku=sku,
                day=1 + i / 10,
                refunded_day=refunded,
            )
        )
    orders.append(Ord("G-X", "GIFT_PACKAGE", "X", day=2))
    return orders


def test_concurrent_batches_pay_what_one_batch_pays(graph: neo4j.Driver, tmp_path: Path) -> None:
    seed(graph, tmp_path / "one", LINE, mixed_orders())
    settle(graph, cutoff=at(15), batch=1_000, parallel=1)
    settle(graph, cutoff=at(40), batch=1_000, parallel=1)
    expected = payouts(graph)
    books = {f"R{i:02d}": order_books(graph, f"R{i:02d}") for i in range(60)}
    assert [k for k in expected if k.endswith("|R")]
    clear(graph)
    seed(graph, tmp_path / "many", LINE, mixed_orders())
    settle(graph, cutoff=at(15), batch=2, parallel=4)
    outcome = settle(graph, cutoff=at(40), batch=1, parallel=3)
    assert outcome.run is not None and outcome.run.orders_reversed > 0
    assert payouts(graph) == expected
    assert {f"R{i:02d}": order_books(graph, f"R{i:02d}") for i in range(60)} == books
    assert reconcile(graph).ok


def test_batch_and_concurrency_come_from_the_settings() -> None:
    config = Settings.from_env({"DOWNLINE_SETTLE_CONCURRENCY": "3", "DOWNLINE_SETTLE_BATCH": "7"})
    assert (config.settle_concurrency, config.settle_batch) == (3, 7)
    default = Settings.from_env({"DOWNLINE_SETTLE_CONCURRENCY": ""})
    assert (default.settle_concurrency, default.settle_batch) == (DEFAULT_CONCURRENCY, 5_000)
    for bad in ("0", "-1", "two", "1.5", "３"):
        with pytest.raises(SettingsError) as refused:
            Settings.from_env({"DOWNLINE_SETTLE_CONCURRENCY": bad})
        assert str(refused.value) == (
            f"DOWNLINE_SETTLE_CONCURRENCY must be a whole number of at least 1, got {bad!r}"
        )


def test_a_later_run_links_only_new_packages(
    graph: neo4j.Driver, tmp_path: Path, arun: Callable[..., Any]
) -> None:
    seed(graph, tmp_path, LINE, gifts("A", "B", "C"))
    settle(graph, cutoff=at(30))
    arun(
        record_order,
        order_id="G-D",
        kind="GIFT_PACKAGE",
        buyer_id="D",
        seller_id=None,
        sku="GP399",
        amount=39_900,
        paid_at=at(31),
    )
    outcome = settle(graph, cutoff=at(40))
    assert outcome.run is not None and outcome.run.orders_settled == 1
    records, _, _ = graph.execute_query(
        "MATCH (m:Member)-[h:HOLDS_PACKAGE]->(g:Order) RETURN m.id AS m, g.id AS g, count(h) AS n"
        " ORDER BY m"
    )
    assert [r.data() for r in records] == [
        {"m": m, "g": f"G-{m}", "n": 1} for m in ("A", "B", "C", "D")
    ]
    assert payouts(graph)["G-D|1|P"] == ("C", 12_967)
