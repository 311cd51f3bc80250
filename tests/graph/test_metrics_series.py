"""Rankings over windows from the stored candidates, against the Python model."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import neo4j
import pytest

from graph.delta import read_delta
from graph.members import register_member
from graph.metrics import MemberMetrics, Metric, platform_volume, top_from_series, top_members
from graph.orders import refund_order
from graph.rollups import refresh
from tests.graph.rollnet import Net, at, record
from tests.graph.test_metrics import as_tuple, index_of


def season(seed: int, members: int = 50, orders: int = 300) -> Net:
    """A random network whose joins and orders spread over three calendar months."""
    rng = random.Random(seed)
    net = Net()
    for i in range(members):
        sponsor = None if i < 2 or rng.random() < 0.05 else f"M{rng.randrange(i):02d}"
        net.member(f"M{i:02d}", sponsor, i * 1.5 + rng.random())
    for j in range(orders):
        buyer = f"M{rng.randrange(members):02d}"
        joined = (net.members[buyer][1] - at(0)).total_seconds() / 86_400
        paid = joined + rng.random() * (95 - joined)
        refunded = paid + rng.random() if rng.random() < 0.1 else None
        net.order(f"O{j:03d}", buyer, rng.randrange(1, 50_000), paid, refunded)
    return net


# Windows on local midnights: inside a month, across months, open-ended, before the data.
WINDOWS: list[tuple[datetime | None, datetime | None]] = [
    (at(0), at(30)),
    (at(25), at(40)),
    (at(10), at(80)),
    (None, at(45)),
    (at(60), None),
    (at(33), at(34)),
]


async def from_series(
    driver: neo4j.AsyncDriver,
    *,
    metric: Metric,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> list[MemberMetrics] | None:
    async def work(tx: neo4j.AsyncManagedTransaction) -> list[MemberMetrics] | None:
        delta = await read_delta(tx)
        platform = await platform_volume(tx, start, end, delta)
        return await top_from_series(tx, metric, start, end, limit, delta, platform)

    async with driver.session() as session:
        return await session.execute_read(work)


def check(arun: Callable[..., Any], net: Net, metric: Metric, start: Any, end: Any) -> None:
    want = net.ranking(index_of(metric), start, end, 5)
    top = arun(top_members, metric=metric, start=start, end=end, limit=5)
    assert [(m.member_id, m.value(metric)) for m in top] == want, (metric, start, end)
    for m in top:
        assert as_tuple(m) == net.metrics(m.member_id, start, end)


@pytest.mark.parametrize("candidates", [100, 10])
def test_windows_on_midnights(
    graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path, candidates: int
) -> None:
    net = season(5)
    net.seed(graph, tmp_path)
    refresh(graph, candidates=candidates)
    answered = 0
    for start, end in WINDOWS:
        for metric in Metric:
            check(arun, net, metric, start, end)
            got = arun(from_series, metric=metric, start=start, end=end, limit=5)
            if got is not None:
                answered += 1
                want = net.ranking(index_of(metric), start, end, 5)
                assert [(m.member_id, m.value(metric)) for m in got] == want
                assert [as_tuple(m) for m in got] == [
                    net.metrics(m.member_id, start, end) for m in got
                ]
    # With 100 per month every member is a candidate, so the stored series answer everything;
    # with 10 the bound over the members left out must still prove some rankings.
    if candidates == 100:
        assert answered == len(WINDOWS) * len(Metric)
    assert answered > 0


def test_windows_off_midnight(
    graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path
) -> None:
    net = season(6, members=30, orders=150)
    net.seed(graph, tmp_path)
    refresh(graph)
    windows = [(at(10.5), at(40.25)), (None, at(33.7)), (at(61.2), None), (at(33.1), at(33.9))]
    for start, end in windows:
        for metric in Metric:
            got = arun(from_series, metric=metric, start=start, end=end, limit=5)
            assert got is not None
            want = net.ranking(index_of(metric), start, end, 5)
            assert [(m.member_id, m.value(metric)) for m in got] == want, (metric, start, end)
            assert [as_tuple(m) for m in got] == [net.metrics(m.member_id, start, end) for m in got]


@pytest.mark.parametrize("candidates", [100, 2])
def test_changes_since_the_refresh(
    graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path, candidates: int
) -> None:
    net = season(8, members=30, orders=120)
    net.seed(graph, tmp_path)
    refresh(graph, candidates=candidates)
    arun(register_member, member_id="NEW", name="n", joined_at=at(96), sponsor_id="M07")
    net.member("NEW", "M07", 96)
    arun(register_member, member_id="NEW2", name="n", joined_at=at(96.5), sponsor_id="NEW")
    net.member("NEW2", "NEW", 96.5)
    for oid, buyer, amount, day in [
        ("N1", "NEW2", 900_000, 97.2),
        ("N2", "M03", 700_000, 97.5),
        ("N3", "M12", 5_000, 98.1),
    ]:
        record(arun, net, oid, buyer, amount, day)
    kept = next(o for o, (_, _, _, refunded) in net.orders.items() if refunded is None)
    arun(refund_order, order_id=kept, refunded_at=at(99))
    net.orders[kept] = (*net.orders[kept][:3], at(99))
    windows = [
        (at(60), at(100)),
        (at(97), at(98)),
        (None, at(99)),
        (at(0), at(30)),
        (at(96.2), at(97.9)),
    ]
    for start, end in windows:
        for metric in Metric:
            check(arun, net, metric, start, end)
            got = arun(from_series, metric=metric, start=start, end=end, limit=5)
            if got is not None:
                want = net.ranking(index_of(metric), start, end, 5)
                assert [(m.member_id, m.value(metric)) for m in got] == want, (metric, start)
