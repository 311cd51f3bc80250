"""schema.graphql is what frontends generate code from: it must match the schema served."""

from __future__ import annotations

from api.schema import sdl
from tests.cli import ROOT


def test_checked_in_schema_matches() -> None:
    checked_in = (ROOT / "schema.graphql").read_text()
    assert checked_in == sdl(), (
        "schema.graphql is out of date: .venv/bin/python -m api.schema > schema.graphql"
    )


def test_contract_names_are_present() -> None:
    text = sdl()
    for name in (
        "member(id: ID!): Member",
        "subtreeRevenue(memberId: ID!, from: DateTime = null, to: DateTime = null,"
        " maxDepth: Int = null): SubtreeRevenue",
        "tierPayouts(memberId: ID = null, from: DateTime = null, to: DateTime = null): TierPayouts",
        "topInfluencers(metric: InfluenceMetric!, from: DateTime = null, to: DateTime = null,"
        " limit: Int = 20)",
        "enum InfluenceMetric {\n  GROUP_VOLUME\n  DOWNLINE_SIZE\n  RECRUITS\n"
        "  INFLUENCE\n  AT_RISK\n}",
        "scalar Decimal",
        "scalar DateTime",
        "registerMember(",
        "recordOrder(",
        "refundOrder(",
        "transferMember(",
        "suspendMember(",
    ):
        assert name in text, name
