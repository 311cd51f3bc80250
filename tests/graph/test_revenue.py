"""Subtree revenue from the rollups, against hand-computed answers and the Python model."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import neo4j

from graph.members import register_member, transfer_member
from graph.orders import refund_order
from graph.revenue import DepthRevenue, naive_subtree_revenue, subtree_revenue
from graph.rollups import refresh
from tests.graph.rollnet import Net, at, record


def small() -> Net:
    """R -> A -> (B -> D), C; orders on days 1-3, one refunded."""
    net = Net()
    net.member("R", None)
    net.member("A", "R")
    net.member("B", "A", 0.5)
    net.member("C", "A", 2.5)
    net.member("D", "B", 1)
    net.order("O1", "A", 10_000, 1.25)
    net.order("O2", "B", 2_000, 1.5)
    net.order("O3", "D", 3_000, 2.0)
    net.order("O4", "C", 4_000, 2.75)
    net.order("O5", "D", 50_000, 2.8, refunded=3.0)
    return net


def by_depth(rows: tuple[DepthRevenue, ...]) -> dict[int, tuple[int, int, int]]:
    return {d.depth: (d.group_volume, d.order_count, d.member_count) for d in rows}


def check(arun: Callable[..., Any], net: Net, u: str, start: Any, end: Any, depth: Any) -> None:
    got = arun(subtree_revenue, member_id=u, start=start, end=end, max_depth=depth)
    want = net.revenue(u, start, end, depth)
    assert got is not None
    assert by_depth(got.by_depth) == want, (u, start, end, depth)
    assert got.group_volume == sum(v[0] for v in want.values())
    assert got.order_count == sum(v[1] for v in want.values())
    assert got.member_count == sum(v[2] for v in want.values())


def test_all_time_by_depth(graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path) -> None:
    small().seed(graph, tmp_path)
    refresh(graph)
    got = arun(subtree_revenue, member_id="A", start=None, end=None, max_depth=None)
    assert got is not None
    assert got.group_volume == 10_000 + 2_000 + 3_000 + 4_000  # the refunded O5 is not volume
    assert got.order_count == 4
    assert got.member_count == 4
    assert by_depth(got.by_depth) == {0: (10_000, 1, 1), 1: (6_000, 2, 2), 2: (3_000, 1, 1)}


def test_half_open_window_partial_days_and_depth_bound(
    graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path
) -> None:
    net = small()
    net.seed(graph, tmp_path)
    refresh(graph)
    got = arun(subtree_revenue, member_id="A", start=at(1.5), end=at(2.75), max_depth=1)
    assert got is not None
    # O2 at exactly the start counts, O4 at exactly the end does not; D is deeper than 1;
    # C joined before the end, so it is a member of depth 1 even without orders in the window.
    assert by_depth(got.by_depth) == {0: (0, 0, 1), 1: (2_000, 1, 2)}
    for start, end in [(at(1.5), at(2.75)), (at(1), at(2)), (at(0.3), at(0.4)), (None, at(2.9))]:
        for depth in (None, 0, 1, 2):
            check(arun, net, "R", start, end, depth)


def test_unknown_member_is_none(graph: neo4j.Driver, arun: Callable[..., Any]) -> None:
    refresh(graph)
    assert arun(subtree_revenue, member_id="nobody", start=None, end=None, max_depth=None) is None


def test_changes_after_refresh_are_counted(
    graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path
) -> None:
    net = small()
    net.seed(graph, tmp_path)
    refresh(graph)
    arun(register_member, member_id="E", name="e", joined_at=at(3.5), sponsor_id="D")
    net.member("E", "D", 3.5)
    arun(register_member, member_id="F", name="f", joined_at=at(3.6), sponsor_id="E")
    net.member("F", "E", 3.6)
    for oid, buyer, amount, day in [("N1", "F", 700, 3.7), ("N2", "C", 800, 4.2)]:
        record(arun, net, oid, buyer, amount, day)
    arun(refund_order, order_id="O4", refunded_at=at(5))
    net.orders["O4"] = (*net.orders["O4"][:3], at(5))
    for u in ("R", "A", "B", "E", "F"):
        for start, end in [(None, None), (at(1), at(4)), (at(3.65), at(4.5)), (None, at(3.55))]:
            for depth in (None, 1, 4):
                check(arun, net, u, start, end, depth)


def test_transfer_after_refresh(
    graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path
) -> None:
    net = small()
    net.member("G", "R", 0.2)
    net.seed(graph, tmp_path)
    refresh(graph)
    arun(transfer_member, member_id="B", new_sponsor_id="G", at=at(4))
    net.members["B"] = ("G", net.members["B"][1])
    for u in ("R", "A", "B", "G", "D"):
        check(arun, net, u, None, None, None)
        check(arun, net, u, at(1.4), at(2.5), 1)
    refresh(graph)
    for u in ("R", "A", "G"):
        check(arun, net, u, None, None, None)


def test_naive_baseline_agrees(
    graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path
) -> None:
    small().seed(graph, tmp_path)
    refresh(graph)
    for start, end in [(None, None), (at(1.4), at(2.9))]:
        fast = arun(subtree_revenue, member_id="R", start=start, end=end, max_depth=2)
        slow = arun(naive_subtree_revenue, member_id="R", start=start, end=end, max_depth=2)
        assert fast == slow


def random_net(seed: int, members: int = 40, orders: int = 160) -> Net:
    rng = random.Random(seed)
    net = Net()
    for i in range(members):
        sponsor = (
            None if i < 2 or rng.random() < 0.05 else f"M{rng.randrange(max(1, i - 8), i):02d}"
        )
        net.member(f"M{i:02d}", sponsor, i * 0.3)
    for j in range(orders):
        buyer = f"M{rng.randrange(members):02d}"
        day = net.members[buyer][1]
        paid = (day - at(0)).total_seconds() / 86_400 + rng.random() * 6
        refunded = paid + rng.random() if rng.random() < 0.15 else None
        net.order(f"O{j:03d}", buyer, rng.randrange(1, 50_000), paid, refunded)
    return net


def windows(rng: random.Random) -> list[tuple[datetime | None, datetime | None]]:
    out: list[tuple[datetime | None, datetime | None]] = [(None, None)]
    for _ in range(3):
        a = rng.uniform(0, 16)
        b = a + rng.uniform(0, 8)
        out.append((at(a), at(b)))
    out.append((at(float(rng.randrange(10))), at(float(rng.randrange(10, 18)))))
    out.append((None, at(rng.uniform(0, 16))))
    return out


def test_random_network_matches_the_model(
    graph: neo4j.Driver, arun: Callable[..., Any], tmp_path: Path
) -> None:
    rng = random.Random(7)
    net = random_net(7)
    net.seed(graph, tmp_path)
    refresh(graph)
    members = sorted(net.members)
    for u in rng.sample(members, 8):
        for start, end in windows(rng):
            check(arun, net, u, start, end, rng.choice([None, 0, 1, 3]))
