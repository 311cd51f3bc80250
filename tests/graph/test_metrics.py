"""Key-node metrics and rankings, against hand-computed answers and the Python model."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import neo4j
import pytest

from graph import levels, metrics
from graph.db import records
from graph.members import register_member
from graph.metrics import MemberMetrics, Metric, member_metrics, top_members
from graph.orders import record_order
from graph.rollups import refresh
from tests.graph.rollnet import Net, at
from tests.graph.test_revenue import (
    CHANGES,
    WINDOWS,
    change,
    deep_net,
    random_net,
    refuse_walk,
    uplines,
    windows,
)

ORDER = [Metric.DOWNLINE_SIZE, Metric.GROUP_VOLUME, Metric.RECRUITS, Metric.INFLUENCE]


def as_tuple(m: MemberMetrics) -> tuple[int, int, int, int, int]:
    return m.downline_size, m.group_volume, m.recruits, m.influence, m.at_risk_ppm


def index_of(metric: Metric) -> int:
    return [*ORDER, Metric.AT_RISK].index(metric)


def test_influence_rounds_down_once_and_at_risk_is_ppm(
    graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path
) -> None:
    net = Net()
    net.member("A", None)
    net.member("B", "A")
    net.member("C", "B")
    net.member("Z", None)
    net.order("O1", "A", 1, 1)
    net.order("O2", "B", 3, 1)
    net.order("O3", "C", 3, 1)
    net.order("O4", "Z", 2, 1)
    net.seed(graph, tmp_path)
    refresh(graph)
    got = arun(member_metrics, member_ids=["A", "nobody"], start=None, end=None)
    # 1 + 3/2 + 3/4 = 3.25 -> 3 (rounding each term first would give 1 + 1 + 0 = 2);
    # at risk 7 of 9 fen = 777 777.7 ppm -> 777 777.
    assert got == {"A": MemberMetrics("A", 2, 7, 1, 3, 777_777)}


def test_ties_rank_by_member_id(
    graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path
) -> None:
    net = Net()
    for m in ("M3", "M1", "M2"):
        net.member(m, None)
        net.order(f"O{m}", m, 500, 1)
    net.member("M0", None)
    net.seed(graph, tmp_path)
    refresh(graph)
    for start in (None, at(0.5)):
        top = arun(top_members, metric=Metric.GROUP_VOLUME, start=start, end=None, limit=3)
        assert [m.member_id for m in top] == ["M1", "M2", "M3"]
        top = arun(top_members, metric=Metric.RECRUITS, start=start, end=None, limit=2)
        assert [m.member_id for m in top] == ["M0", "M1"]


def test_at_risk_ranks_by_exact_share_when_ppm_ties(
    graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path
) -> None:
    """M2's share is 1,000,005 of 10,000,000 fen and M1's 1,000,000: both 100,000 ppm once
    rounded down, yet M2 holds more, so it ranks first, after a refresh and after a change."""
    net = Net()
    for m, amount in (("M1", 1_000_000), ("M2", 1_000_005), ("M3", 7_999_995)):
        net.member(m, None)
        net.order(f"O{m}", m, amount, 1)
    net.seed(graph, tmp_path)
    refresh(graph)

    def ranked() -> list[tuple[str, int, int]]:
        top = arun(top_members, metric=Metric.AT_RISK, start=None, end=None, limit=3)
        return [(m.member_id, m.at_risk_ppm, m.group_volume) for m in top]

    assert ranked() == [
        ("M3", 799_999, 7_999_995),
        ("M2", 100_000, 1_000_005),
        ("M1", 100_000, 1_000_000),
    ]
    # A member joined since the refresh: the ranking now reads the changes, and M2 stays first.
    arun(register_member, member_id="M4", name="n", joined_at=at(2), sponsor_id="M1")
    assert ranked() == [
        ("M3", 799_999, 7_999_995),
        ("M2", 100_000, 1_000_005),
        ("M1", 100_000, 1_000_000),
    ]


def test_random_network_matches_the_model(
    graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path
) -> None:
    rng = random.Random(11)
    net = random_net(11)
    net.seed(graph, tmp_path)
    refresh(graph)
    members = sorted(net.members)
    for start, end in windows(rng)[:4]:
        sample = rng.sample(members, 10)
        got = arun(member_metrics, member_ids=sample, start=start, end=end)
        assert {m: as_tuple(v) for m, v in got.items()} == {
            m: net.metrics(m, start, end) for m in sample
        }
        for metric in Metric:
            top = arun(top_members, metric=metric, start=start, end=end, limit=5)
            want = net.ranking(index_of(metric), start, end, 5)
            assert [(m.member_id, m.value(metric)) for m in top] == want, (metric, start, end)
            assert as_tuple(top[0]) == net.metrics(top[0].member_id, start, end)


def test_rankings_count_what_changed_since_the_refresh(
    graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path
) -> None:
    net = random_net(3, members=20, orders=40)
    net.seed(graph, tmp_path)
    refresh(graph)
    arun(register_member, member_id="NEW", name="n", joined_at=at(20), sponsor_id="M05")
    net.member("NEW", "M05", 20)
    arun(
        record_order,
        order_id="BIG",
        kind="RETAIL",
        buyer_id="NEW",
        seller_id=None,
        sku="SKU1",
        amount=10_000_000,
        paid_at=at(21),
    )
    net.order("BIG", "NEW", 10_000_000, 21)
    for metric in Metric:
        for start, end in [(None, None), (at(19), at(22))]:
            top = arun(top_members, metric=metric, start=start, end=end, limit=4)
            want = net.ranking(index_of(metric), start, end, 4)
            assert [(m.member_id, m.value(metric)) for m in top] == want, (metric, start)


@pytest.mark.parametrize(
    "what, candidates",
    [*((what, 5) for what in CHANGES), ("nested", 100), ("huge_order", 100)],
)
def test_rankings_after_changes_stay_exact_without_walking(
    graph: neo4j.Driver,
    arun: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    what: str,
    candidates: int,
) -> None:
    """Every metric over every kind of window, before and after one kind of change.

    With 5 candidates a month most windows cannot be proven from the candidates, so the
    rankings walk members in stored order: after the change they may walk no further than
    before it (one batch of 20 for all-time), and compute exactly at most the members on the
    changed chains more than before; the exact walk is never taken.
    """
    net = deep_net(21)
    net.seed(graph, tmp_path)
    refresh(graph, candidates=candidates)
    computed: list[int] = []
    walked: list[int] = []
    exact = metrics._metrics
    read = records

    async def counting(*args: Any, **kwargs: Any) -> Any:
        found = await exact(*args, **kwargs)
        computed[-1] += len(found)
        return found

    async def rows(tx: Any, query: str, **params: Any) -> Any:
        found = await read(tx, query, **params)
        if query in metrics.WALK.values():
            walked[-1] += len(found)
        return found

    monkeypatch.setattr(metrics, "_metrics", counting)
    monkeypatch.setattr(metrics, "records", rows)

    def rank() -> list[tuple[int, int]]:
        computed.clear()
        walked.clear()
        for start, end in WINDOWS:
            for metric in Metric:
                computed.append(0)
                walked.append(0)
                top = arun(top_members, metric=metric, start=start, end=end, limit=5)
                want = net.ranking(index_of(metric), start, end, 5)
                assert [(m.member_id, m.value(metric)) for m in top] == want, (metric, start)
                for m in top:
                    assert as_tuple(m) == net.metrics(m.member_id, start, end), (m, start)
        return list(zip(computed, walked, strict=True))

    before = rank()
    members = change(arun, net, what)
    chains = set(members).union(*(uplines(net, m) for m in members))
    monkeypatch.setattr(levels, "exact_levels", refuse_walk)
    after = rank()
    for (computed_before, walked_before), (computed_after, walked_after) in zip(
        before, after, strict=True
    ):
        assert walked_after <= max(walked_before, 20)
        assert computed_after <= computed_before + len(chains)
