"""Plan shapes of the cypher/analytics files on a grown store (tests/stores.py), stale and
resampled, with the example parameters of each file's header.

Each file starts from the index it names (a window on paid_at or joined_at, the gift orders by
kind) or a unique key, and reaches the rest by expanding from bound nodes: the ledger lines too,
(o)-[:PAID|REVERSED]->(m), from their order or their member. Before the fix, on the stale
store, activation scanned Order(paid_at) once per recruit, cohort retention sought
Order(paid_at) once per agent, fission speed sought Member(joined_at) for the member's
downline, and reconciliation scanned the whole Order(paid_at) index (docs/model.md, "Query
plans").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from graph.cypherfiles import split_statements
from tests.plans import assert_shape, explain, operators, render
from tests.stores import GrownStore

ANALYTICS = Path(__file__).resolve().parent.parent.parent / "cypher" / "analytics"
_PARAM = re.compile(r"^//\s+:param (\w+) => (.*)$", re.MULTILINE)
ORDERS_BY_PAID_AT = r"NodeIndexSeekByRange RANGE INDEX o:Order\(paid_at\)"
# A ranking lists every member, those without volume too, so it reads each member once.
EVERY_MEMBER = r"^NodeByLabelScan u:Member$"
IDENTIFIERS = r"^NodeByLabelScan i:Identifier$"
# A member's ledger lines, expanded from the member (no Payout node or index any more).
LINES_OF = r"^(Optional)?Expand\(All\) \(%s\)<-\[l:PAID\|REVERSED\]-\(\w+\)"
# An order's lines of one type, expanded from the order.
ORDER_LINES = r"^(Optional)?Expand\(All\) \(o\)-\[%s:%s\]->\(\w+\)"


def header_params(text: str) -> dict[str, Any]:
    """The example parameter block of a file's header (``:param name => value``)."""
    params: dict[str, Any] = {}
    for name, value in _PARAM.findall(text):
        value = value.strip()
        params[name] = value.strip("'\"") if value[:1] in "'\"" else int(value)
    return params


@dataclass(frozen=True)
class Case:
    file: str
    anchors: list[str]
    allowed: list[str] = field(default_factory=list)
    walks: list[str] = field(default_factory=list)
    """Operators (regular expressions on "Operator details") that must appear as well."""
    member: bool = False
    """Run for the store's largest downline instead of the header's member_id."""


CASES: dict[str, Case] = {
    "activation": Case(
        "activation.cypher",
        [r"NodeIndexSeekByRange RANGE INDEX r:Member\(joined_at\)"],
        walks=[r"^Expand\(All\) \(r\)-\[\w+:BOUGHT\]->\(g\)"],
    ),
    "cohort_retention_platform": Case(
        "cohort_retention.cypher",
        [r"NodeIndexSeek RANGE INDEX g:Order\(kind\) WHERE kind = "],
        walks=[r"^Expand\(All\) \(m\)-\[\w+:BOUGHT\]->\(o\)"],
    ),
    "cohort_retention_member": Case(
        "cohort_retention.cypher",
        [
            r"NodeIndexSeek RANGE INDEX g:Order\(kind\) WHERE kind = ",
            r"NodeUniqueIndexSeek.* a:Member\(id\)",
        ],
        walks=[
            r"^Expand\(All\) \(m\)-\[\w+:BOUGHT\]->\(o\)",
            r"^VarLengthExpand\(Into\) \(m\)-\[\w*:SPONSORED_BY\*0\.\.\]->\(a\)",
        ],
        member=True,
    ),
    "compliance": Case(
        "compliance.cypher",
        [ORDERS_BY_PAID_AT],
        walks=[r"^Expand\(All\) \(o\)-\[l:PAID\|REVERSED\]->\(m\)"],
    ),
    "fission_speed": Case(
        "fission_speed.cypher",
        [r"NodeUniqueIndexSeek.* u:Member\(id\)"],
        walks=[r"^VarLengthExpand\(.*\) \(u\)<-\[\w+:SPONSORED_BY\*"],
        member=True,
    ),
    "payout_reconciliation": Case(
        "payout_reconciliation.cypher",
        [ORDERS_BY_PAID_AT],
        walks=[ORDER_LINES % ("l", "PAID"), ORDER_LINES % ("r", "REVERSED")],
    ),
    "top_at_risk": Case("top_at_risk.cypher", [ORDERS_BY_PAID_AT], [EVERY_MEMBER]),
    "top_downline_size": Case(
        "top_downline_size.cypher",
        [r"NodeIndexSeekByRange RANGE INDEX d:Member\(joined_at\)"],
        [EVERY_MEMBER],
    ),
    "top_group_volume": Case("top_group_volume.cypher", [ORDERS_BY_PAID_AT], [EVERY_MEMBER]),
    "top_influence": Case("top_influence.cypher", [ORDERS_BY_PAID_AT], [EVERY_MEMBER]),
    # The risk files (graph/risk.py) start from the identifiers, few next to orders, and expand
    # each member's ledger lines from the member: nothing else is scanned or sought.
    "risk_farm": Case("risk_farm.cypher", [IDENTIFIERS], walks=[LINES_OF % "s", LINES_OF % "r"]),
    "risk_self_referral": Case(
        "risk_self_referral.cypher",
        [IDENTIFIERS],
        walks=[
            r"^VarLengthExpand\(All\) \(m\)-\[\w*:SPONSORED_BY\*\.\.3\]->\(u\)",
            LINES_OF % "m",
            LINES_OF % "u",
        ],
    ),
    "risk_shared_identifiers": Case(
        "risk_shared_identifiers.cypher", [IDENTIFIERS], walks=[LINES_OF % "m"]
    ),
    "top_recruits": Case(
        "top_recruits.cypher",
        [r"NodeIndexSeekByRange RANGE INDEX r:Member\(joined_at\)"],
        [EVERY_MEMBER],
    ),
}


def test_every_analytics_file_has_a_case() -> None:
    assert {c.file for c in CASES.values()} == {f.name for f in ANALYTICS.glob("*.cypher")}


def _params(case: Case, text: str, store: GrownStore) -> Mapping[str, Any]:
    params = header_params(text)
    if case.member:
        params["member_id"] = store.root_id
    return params


@pytest.mark.parametrize("name", list(CASES))
def test_file_starts_from_its_anchor(grown_store: GrownStore, name: str) -> None:
    case = CASES[name]
    text = (ANALYTICS / case.file).read_text(encoding="utf-8")
    (statement,) = split_statements(text)
    plan = explain(
        grown_store.driver,
        statement,
        _params(case, text, grown_store),
        database=grown_store.database,
    )
    assert_shape(plan, anchors=case.anchors, allowed=case.allowed)
    for walk in case.walks:
        assert any(re.search(walk, str(op)) for op in operators(plan)), (
            f"{walk!r} is not in the plan:\n{render(plan)}"
        )
