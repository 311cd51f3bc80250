"""tierPayouts through the schema, on payouts made by a real settlement run."""

from __future__ import annotations

from typing import Any

import neo4j
import pytest

from contract.money import parse_timestamp
from contract.settings import Settings
from tests.api.conftest import ANALYST, Gql, member_principal, seed
from tests.cli import ROOT

plans = pytest.importorskip("graph.plans")
settlement = pytest.importorskip("graph.settlement")

Q = """query ($m: ID, $from: DateTime, $to: DateTime) {
  tierPayouts(memberId: $m, from: $from, to: $to) {
    memberId total platformRetained lines { tier kind amount count } } }"""


@pytest.fixture
def settled(api_settings: Settings, graph: neo4j.Driver, gql: Gql) -> Gql:
    # A (root) and B (A's recruit) both buy gift packages; B then sells a retail order to C.
    seed(
        api_settings,
        [
            ("A", None, "2026-01-01T00:00:00+08:00"),
            ("B", "A", "2026-01-02T00:00:00+08:00"),
            ("C", "B", "2026-01-03T00:00:00+08:00"),
        ],
        [
            ("GA", "GIFT_PACKAGE", "A", None, 39_900, "2026-01-10T00:00:00+08:00"),
            ("GB", "GIFT_PACKAGE", "B", None, 39_900, "2026-02-01T00:00:00+08:00"),
            ("R1", "RETAIL", "C", "B", 10_000, "2026-02-05T00:00:00+08:00"),
        ],
    )
    plans.store_plan(graph, plans.read_plan_file(ROOT / "plans" / "default.toml"))
    settlement.settle(graph, cutoff=parse_timestamp("2026-03-01T00:00:00+08:00"))
    return gql


def lines(result: dict[str, Any]) -> dict[tuple[int, str], tuple[str, int]]:
    assert result["errors"] == [], result["errors"]
    got = result["data"]["tierPayouts"]
    return {(x["tier"], x["kind"]): (x["amount"], x["count"]) for x in got["lines"]}


def test_member_payouts_per_tier_and_kind(settled: Gql) -> None:
    result = settled(Q, m="A")
    assert result["data"]["tierPayouts"]["total"] == "131.17"
    assert result["data"]["tierPayouts"]["platformRetained"] is None
    got = lines(result)
    assert len(got) == 6
    assert got[(1, "GIFT_PACKAGE")] == ("129.67", 1)
    assert got[(2, "RETAIL")] == ("1.50", 1)
    assert got[(3, "RETAIL")] == ("0.00", 0)
    b = lines(settled(Q, m="B"))
    assert b[(1, "RETAIL")] == ("15.00", 1)


def test_platform_payouts_with_retained(settled: Gql) -> None:
    result = settled(Q, m=None)
    summary = result["data"]["tierPayouts"]
    assert summary["memberId"] is None
    assert summary["total"] == "146.17"  # 12967 + 1500 + 150 fen
    # A's pool (no sponsor) 25935, B's pool less A's tier 1: 12968, R1's missing tier 3: 75.
    assert summary["platformRetained"] == "389.78"


def test_window_is_on_the_orders_paid_at(settled: Gql) -> None:
    got = lines(settled(Q, m="A", **{"from": "2026-02-02T00:00:00+08:00", "to": None}))
    assert got[(1, "GIFT_PACKAGE")] == ("0.00", 0)
    assert got[(2, "RETAIL")] == ("1.50", 1)


def test_who_may_see_payouts(settled: Gql) -> None:
    assert settled(Q, member_principal("B"), m="B")["errors"] == []
    assert [e["code"] for e in settled(Q, member_principal("B"), m="A")["errors"]] == ["FORBIDDEN"]
    assert [e["code"] for e in settled(Q, member_principal("A"), m=None)["errors"]] == ["FORBIDDEN"]
    assert settled(Q, ANALYST, m=None)["errors"] == []
