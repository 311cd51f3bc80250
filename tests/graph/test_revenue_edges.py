"""Partial-day edges from the per-process day cache, against the Python model.

Windows ending at 18:00 or starting mid-day read their edges from ``DayRows`` (orders as the
refresh saw them) plus the delta; these tests check every part of that: large subtrees, depth
bounds, orders and refunds landing inside a cached partial day after the refresh, and a refresh
replacing the cached days.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import neo4j

from graph import delta as changes
from graph.delta import RollupCache
from graph.levels import DAY_CACHE_SIZE
from graph.metrics import Metric, member_metrics, top_members
from graph.orders import refund_order
from graph.rollups import refresh
from tests.graph.rollnet import Net, at, record
from tests.graph.test_revenue import check, random_net

# Day buckets start at local midnight and ``at(0)`` is one, so x.75 is 18:00 of day x.
EDGE_WINDOWS = [
    (at(2.75), at(12.75)),
    (at(0.3), at(9.6)),
    (at(4.5), at(4.9)),
    (None, at(7.25)),
    (at(3.1), None),
    (at(5.75), at(5.75)),
]


def roots(net: Net) -> list[str]:
    """The largest subtrees: the roots, and the members with the most below them."""
    return sorted(net.members, key=lambda m: (-len(net.below(m)), m))[:4]


def check_metrics(
    arun: Callable[..., Any], net: Net, start: Any, end: Any, cache: RollupCache | None = None
) -> None:
    members = sorted(net.members)
    got = arun(member_metrics, member_ids=members, start=start, end=end, cache=cache)
    for m in members:
        g = got[m]
        want = net.metrics(m, start, end)
        have = (g.downline_size, g.group_volume, g.recruits, g.influence, g.at_risk_ppm)
        assert have == want, (m, start, end)
    for index, metric in enumerate(
        [Metric.DOWNLINE_SIZE, Metric.GROUP_VOLUME, Metric.RECRUITS, Metric.INFLUENCE]
    ):
        top = arun(top_members, metric=metric, start=start, end=end, limit=5, cache=cache)
        assert [(t.member_id, t.value(metric)) for t in top] == net.ranking(index, start, end, 5), (
            metric,
            start,
            end,
        )


def cached_versions(cache: RollupCache) -> set[str]:
    return {version for version, _ in cache.days}


def test_large_subtrees_on_partial_days(
    graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path
) -> None:
    cache = RollupCache()  # one process's memory, kept across the reads and writes
    net = random_net(11, members=40, orders=200)
    net.seed(graph, tmp_path)
    report = refresh(graph)
    rng = random.Random(11)
    for u in roots(net):
        for start, end in EDGE_WINDOWS:
            check(arun, net, u, start, end, rng.choice([None, 0, 2]), cache)
            check(arun, net, u, start, end, None, cache)
    assert cached_versions(cache) == {report.version}
    assert 0 < len(cache.days) <= DAY_CACHE_SIZE
    for start, end in EDGE_WINDOWS[:3]:
        check_metrics(arun, net, start, end, cache)


def refund(arun: Callable[..., Any], net: Net, order_id: str, when: datetime) -> None:
    arun(refund_order, order_id=order_id, refunded_at=when)
    net.orders[order_id] = (*net.orders[order_id][:3], when)


async def delta_now(driver: neo4j.AsyncDriver) -> changes.Delta:
    async with driver.session() as session:
        return await session.execute_read(changes.read_delta)


def test_orders_after_the_refresh_inside_a_cached_partial_day(
    graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path
) -> None:
    cache = RollupCache()  # one process's memory, kept across the reads and writes
    net = random_net(5, members=30, orders=120)
    net.seed(graph, tmp_path)
    first = refresh(graph)
    last_paid = max(paid for _, _, paid, _ in net.orders.values())
    # The day after the last order: its partial day is cached (empty) before orders arrive.
    day = (last_paid - at(0)).days + 1
    windows = [(at(day - 4.25), at(day + 0.75)), (at(day + 0.1), at(day + 0.9))]
    big = roots(net)
    for u in big:
        for start, end in windows:
            check(arun, net, u, start, end, None, cache)
    assert cached_versions(cache) == {first.version}
    # New orders in the cached partial day (before and after the window's cut), one of them
    # refunded since; refunds of orders the cached start day and the whole days hold.
    record(arun, net, "N1", big[0], 1_234, day + 0.5)
    record(arun, net, "N2", sorted(net.members)[-1], 777, day + 0.8)
    record(arun, net, "N3", big[1], 9_999, day + 0.3)
    refund(arun, net, "N3", at(day + 0.95))
    start_day = [
        o
        for o, (_, _, paid, refunded) in net.orders.items()
        if refunded is None and at(day - 4.25) <= paid < at(day - 4)
    ]
    whole_days = [
        o
        for o, (_, _, paid, refunded) in net.orders.items()
        if refunded is None and at(day - 4) <= paid < at(day)
    ]
    assert start_day and whole_days
    for o in (start_day[0], whole_days[0]):
        refund(arun, net, o, at(day + 1))
    delta = arun(delta_now)
    assert not delta.stale and len(delta.new_orders) == 3 and len(delta.refunds) == 2
    for u in big:
        for start, end in windows:
            check(arun, net, u, start, end, None, cache)
            check(arun, net, u, start, end, 1, cache)
    for start, end in windows:
        check_metrics(arun, net, start, end, cache)
    # The refresh makes a new version: the old days are dropped, the answers stay the same.
    second = refresh(graph)
    for u in big:
        for start, end in windows:
            check(arun, net, u, start, end, None, cache)
    assert cached_versions(cache) == {second.version}
    for start, end in windows:
        check_metrics(arun, net, start, end, cache)
