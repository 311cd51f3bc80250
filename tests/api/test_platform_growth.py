"""platformGrowth through the real schema: buckets in UTC+08:00, zeros included, writes seen by
the next read, and who may ask."""

from __future__ import annotations

import asyncio
from typing import Any

import neo4j
import pytest

from contract.settings import Settings
from graph.db import connect_async
from graph.orders import record_order
from tests.api.conftest import ANALYST, Gql, member_principal, seed, ts

GROWTH = """
query ($from: DateTime!, $to: DateTime!, $granularity: Granularity!) {
  platformGrowth(from: $from, to: $to, granularity: $granularity) {
    granularity buckets { start membersJoined agents orders volume }
  }
}
"""

# Times in UTC+08:00 unless written otherwise: R joins on Monday 2026-03-02, A on Tuesday, B on
# Sunday 2026-03-08 at 23:30 local (15:30 UTC, still the first week), C on 2026-04-01.
TREE = [
    ("R", None, "2026-03-02T09:00:00+08:00"),
    ("A", "R", "2026-03-03T09:00:00+08:00"),
    ("B", "A", "2026-03-08T15:30:00+00:00"),
    ("C", "A", "2026-04-01T10:00:00+08:00"),
]
ORDERS: list[tuple[Any, ...]] = [
    # A becomes an agent on 03-03, again on 03-09 (not a new agent), B on 03-09.
    ("G1", "GIFT_PACKAGE", "A", None, 39_900, "2026-03-03T12:00:00+08:00"),
    ("G2", "GIFT_PACKAGE", "A", None, 39_900, "2026-03-09T12:00:00+08:00"),
    ("G3", "GIFT_PACKAGE", "B", None, 39_900, "2026-03-09T13:00:00+08:00"),
    ("O1", "RETAIL", "B", "A", 10_000, "2026-03-09T14:00:00+08:00"),
    # Refunded: counts nowhere.
    ("O2", "RETAIL", "C", "A", 10_000, "2026-04-02T14:00:00+08:00", "2026-04-03T10:00:00+08:00"),
    ("O3", "RETAIL", "C", "A", 12_345, "2026-04-02T15:00:00+08:00"),
]


def buckets(result: dict[str, Any]) -> list[tuple[str, int, int, int, str]]:
    assert result["errors"] == [], result["errors"]
    return [
        (b["start"], b["membersJoined"], b["agents"], b["orders"], b["volume"])
        for b in result["data"]["platformGrowth"]["buckets"]
    ]


@pytest.fixture
def seeded(api_settings: Settings, graph: neo4j.Driver) -> None:
    seed(api_settings, TREE, ORDERS)


def test_weeks_start_on_monday_in_china_and_include_empty_weeks(seeded: None, gql: Gql) -> None:
    got = gql(
        GROWTH,
        **{"from": "2026-03-02T00:00:00+08:00", "to": "2026-03-30T00:00:00+08:00"},
        granularity="WEEK",
    )
    assert got["data"]["platformGrowth"]["granularity"] == "WEEK"
    assert buckets(got) == [
        ("2026-03-02", 3, 1, 1, "399.00"),
        ("2026-03-09", 0, 1, 3, "898.00"),
        ("2026-03-16", 0, 0, 0, "0.00"),
        ("2026-03-23", 0, 0, 0, "0.00"),
    ]


def test_months_count_unrefunded_orders_and_volume_to_the_fen(seeded: None, gql: Gql) -> None:
    got = gql(
        GROWTH,
        **{"from": "2026-03-01T00:00:00+08:00", "to": "2026-05-01T00:00:00+08:00"},
        granularity="MONTH",
    )
    assert buckets(got) == [
        ("2026-03-01", 3, 2, 4, "1297.00"),
        ("2026-04-01", 1, 0, 1, "123.45"),
    ]


def test_days_cut_by_the_window_and_a_write_is_in_the_next_answer(
    seeded: None, gql: Gql, api_settings: Settings
) -> None:
    window = {"from": "2026-04-02T12:00:00+08:00", "to": "2026-04-04T00:00:00+08:00"}
    before = buckets(gql(GROWTH, **window, granularity="DAY"))
    assert before == [("2026-04-02", 0, 0, 1, "123.45"), ("2026-04-03", 0, 0, 0, "0.00")]

    async def record() -> None:
        async with connect_async(api_settings) as driver:
            await record_order(
                driver,
                order_id="O4",
                kind="GIFT_PACKAGE",
                buyer_id="C",
                seller_id=None,
                sku="GIFT",
                amount=39_900,
                paid_at=ts("2026-04-03T08:00:00+08:00"),
            )

    asyncio.run(record())
    after = buckets(gql(GROWTH, **window, granularity="DAY"))
    assert after == [("2026-04-02", 0, 0, 1, "123.45"), ("2026-04-03", 0, 1, 1, "399.00")]


def test_analysts_may_ask_and_members_may_not(seeded: None, gql: Gql) -> None:
    window = {"from": "2026-03-01T00:00:00+08:00", "to": "2026-04-01T00:00:00+08:00"}
    assert gql(GROWTH, ANALYST, **window, granularity="MONTH")["errors"] == []
    refused = gql(GROWTH, member_principal("A"), **window, granularity="MONTH")
    assert refused["data"] is None
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]


@pytest.mark.parametrize(
    ("start", "end", "granularity", "message"),
    [
        (
            "2025-01-01T00:00:00+08:00",
            "2026-03-01T00:00:00+08:00",
            "DAY",
            "from-to spans 424 days; at most 400 at a time",
        ),
        (
            "2026-04-01T00:00:00+08:00",
            "2026-03-01T00:00:00+08:00",
            "WEEK",
            "from must not be after to",
        ),
    ],
)
def test_a_window_too_long_or_backwards_is_refused(
    graph: neo4j.Driver, gql: Gql, start: str, end: str, granularity: str, message: str
) -> None:
    got = gql(GROWTH, **{"from": start, "to": end}, granularity=granularity)
    assert got["data"] is None
    assert [(e["code"], e["message"]) for e in got["errors"]] == [("BAD_INPUT", message)]


def test_the_window_is_required(graph: neo4j.Driver, gql: Gql) -> None:
    got = gql("{ platformGrowth(granularity: DAY) { granularity } }")
    assert got["data"] is None
    messages = sorted(e["message"] for e in got["errors"])
    assert messages == [
        f"Argument 'Query.platformGrowth({name}:)' of type 'DateTime!' is required, but it was"
        " not provided."
        for name in ("from", "to")
    ]
