"""settlementPreview through the schema: the next run, a candidate plan, who may ask, refusals."""

from __future__ import annotations

from typing import Any

import neo4j
import pytest

from api.auth import Principal, Role
from contract.settings import Settings
from graph import plans, settlement
from tests.api.conftest import ANALYST, Gql, member_principal, seed, ts
from tests.cli import ROOT

DEFAULT = (ROOT / "plans" / "default.toml").read_text(encoding="utf-8")
CANDIDATE = DEFAULT.replace("[5000, 3000, 2000]", "[6000, 3000, 1000]")
UNTIL = "2026-03-01T00:00:00+08:00"
Q = """query ($until: DateTime!, $plan: String, $from: DateTime, $top: Int) {
  settlementPreview(until: $until, plan: $plan, from: $from, top: $top) {
    cutoff planId orders ordersReversed pool paid reversed platformRetained
    totals { tier kind paid payouts reversed reversals }
    top { memberId amount }
    compliance { total giftPackage retail teamPay recruitingShareBp teamPayShareBp
                 membersPaid membersFlagged flaggedShareBp }
    comparison {
      tiers { tier preview committed difference }
      kinds { kind preview committed difference }
      members { memberId preview committed difference }
      membersChanged
      retained { preview committed difference }
      committedCompliance { total recruitingShareBp }
    } } }"""


@pytest.fixture
def network(api_settings: Settings, graph: neo4j.Driver, gql: Gql) -> Gql:
    # A line A-B-C, all agents; C sells a retail order of 100.00 to itself.
    seed(
        api_settings,
        [
            ("A", None, "2026-01-01T00:00:00+08:00"),
            ("B", "A", "2026-01-02T00:00:00+08:00"),
            ("C", "B", "2026-01-03T00:00:00+08:00"),
        ],
        [
            ("GA", "GIFT_PACKAGE", "A", None, 39_900, "2026-01-10T00:00:00+08:00"),
            ("GB", "GIFT_PACKAGE", "B", None, 39_900, "2026-01-11T00:00:00+08:00"),
            ("GC", "GIFT_PACKAGE", "C", None, 39_900, "2026-01-12T00:00:00+08:00"),
            ("R1", "RETAIL", "C", "C", 10_000, "2026-02-05T00:00:00+08:00"),
        ],
    )
    plans.store_plan(graph, plans.read_plan_file(ROOT / "plans" / "default.toml"))
    return gql


def ok(result: dict[str, Any]) -> dict[str, Any]:
    assert result["errors"] == [], result["errors"]
    found: dict[str, Any] = result["data"]["settlementPreview"]
    return found


def errors(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["code"], e["message"]) for e in result["errors"]]


def payouts(graph: neo4j.Driver) -> int:
    """How many ledger lines (payouts and reversals) the store holds."""
    records, _, _ = graph.execute_query("MATCH ()-[l:PAID|REVERSED]->() RETURN count(l) AS n")
    return int(records[0]["n"])


def test_the_next_run_as_an_analyst_sees_it(network: Gql, graph: neo4j.Driver) -> None:
    got = ok(network(Q, ANALYST, until=UNTIL, top=2))
    # GB: A 129.67; GC: B 129.67, A 77.80; R1: C 15.00, B 1.50, A 0.75.
    assert (got["orders"], got["ordersReversed"], got["planId"]) == (4, 0, None)
    assert (got["paid"], got["reversed"]) == ("354.39", "0.00")
    assert got["pool"] == "795.30"  # 3 x 259.35 + 17.25
    assert got["platformRetained"] == "440.91"  # 259.35 + 129.68 + 51.88
    assert got["top"] == [
        {"memberId": "A", "amount": "208.22"},
        {"memberId": "B", "amount": "131.17"},
    ]
    assert got["totals"][:2] == [
        {
            "tier": 1,
            "kind": "RETAIL",
            "paid": "15.00",
            "payouts": 1,
            "reversed": "0.00",
            "reversals": 0,
        },
        {
            "tier": 1,
            "kind": "GIFT_PACKAGE",
            "paid": "259.34",
            "payouts": 2,
            "reversed": "0.00",
            "reversals": 0,
        },
    ]
    assert got["compliance"] == {
        "total": "354.39",
        "giftPackage": "337.14",
        "retail": "17.25",
        "teamPay": "80.05",
        "recruitingShareBp": 33_714 * 10_000 // 35_439,
        "teamPayShareBp": 8_005 * 10_000 // 35_439,
        "membersPaid": 3,
        "membersFlagged": 2,  # A and B: mostly gift packages; C: its own retail sale
        "flaggedShareBp": 6_666,
    }
    assert got["comparison"] is None
    assert payouts(graph) == 0


def test_a_candidate_plan_against_what_was_paid(network: Gql, graph: neo4j.Driver) -> None:
    settlement.settle(graph, cutoff=ts(UNTIL))
    assert payouts(graph) == 6
    got = ok(network(Q, until=UNTIL, plan=CANDIDATE))
    assert (got["planId"], got["orders"]) == ("default", 4)
    comparison = got["comparison"]
    assert comparison["tiers"] == [
        {"tier": 1, "preview": "326.22", "committed": "274.34", "difference": "51.88"},
        {"tier": 2, "preview": "79.30", "committed": "79.30", "difference": "0.00"},
        {"tier": 3, "preview": "0.75", "committed": "0.75", "difference": "0.00"},
    ]
    assert comparison["members"] == [
        {"memberId": "A", "preview": "234.16", "committed": "208.22", "difference": "25.94"},
        {"memberId": "B", "preview": "157.11", "committed": "131.17", "difference": "25.94"},
    ]
    assert comparison["membersChanged"] == 2
    assert comparison["retained"]["difference"] == "-51.88"
    assert comparison["committedCompliance"]["total"] == "354.39"
    assert payouts(graph) == 6


def test_who_may_ask_and_what_is_refused(network: Gql, graph: neo4j.Driver) -> None:
    assert errors(network(Q, member_principal("A"), until=UNTIL)) == [
        ("FORBIDDEN", "only analysts and admins may ask this")
    ]
    bad = network(Q, until=UNTIL, plan="tiers = ")
    assert [c for c, _ in errors(bad)] == ["BAD_INPUT"]
    assert errors(bad)[0][1].startswith("plan: the plan is not valid TOML: ")
    four = network(Q, until=UNTIL, plan=DEFAULT.replace("tiers = 3", "tiers = 4"))
    assert errors(four) == [
        (
            "BAD_INPUT",
            "plan: plan default pays 4 tiers: a lawful plan pays three tiers at most (more"
            " than three levels is pyramid selling)",
        )
    ]
    assert errors(network(Q, until=UNTIL, **{"from": UNTIL})) == [
        ("BAD_INPUT", "from is only for a candidate plan")
    ]
    assert errors(network(Q, until=UNTIL, top=101)) == [
        ("BAD_INPUT", "top must be within 0-100, got 101")
    ]
    settlement.settle(graph, cutoff=ts(UNTIL))
    assert errors(network(Q, Principal(Role.ADMIN, None), until="2026-02-01T00:00:00+08:00")) == [
        (
            "BAD_INPUT",
            "cutoff 2026-02-01T00:00:00+08:00 is before 2026-03-01T00:00:00+08:00, the cutoff of"
            " a finished run: settlement only moves forward",
        )
    ]
