"""Subtree revenue from the rollups, against hand-computed answers and the Python model."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import neo4j
import pytest

from bench.naive import naive_subtree_revenue
from graph import levels
from graph.delta import RollupCache
from graph.members import register_member, transfer_member
from graph.orders import refund_order
from graph.revenue import DepthRevenue, subtree_revenue
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


def check(
    arun: Callable[..., Any],
    net: Net,
    u: str,
    start: Any,
    end: Any,
    depth: Any,
    cache: RollupCache | None = None,
) -> None:
    """The reader's answer equals the model's; with ``cache``, through a process's cache."""
    got = arun(subtree_revenue, member_id=u, start=start, end=end, max_depth=depth, cache=cache)
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


# What changes after a refresh, on a network whose chains run ~20 deep (the day after its last
# order): every answer must stay exact, and none may take the exact walk (``no_walk``).
HUGE = 99_999_999_999_999  # 999,999,999,999.99 yuan, the largest amount the API takes
CHANGES = ["transfer", "move_back", "huge_order", "new_members", "nested"]
WINDOWS = [
    (None, None),
    (at(67), at(97)),  # the last 30 days, on local midnights
    (at(60.5), at(96.75)),  # starting and ending mid-day (18:00)
    (at(30), at(60)),  # before every change
]


def deep_net(seed: int, members: int = 60, orders: int = 300) -> Net:
    """Sponsors among the last few members: long chains and large branches."""
    rng = random.Random(seed)
    net = Net()
    for i in range(members):
        sponsor = None if i < 2 else f"M{rng.randrange(max(0, i - 5), i):02d}"
        net.member(f"M{i:02d}", sponsor, i * 1.5 + rng.random())
    for j in range(orders):
        buyer = f"M{rng.randrange(members):02d}"
        joined = (net.members[buyer][1] - at(0)).total_seconds() / 86_400
        paid = joined + rng.random() * (95 - joined)
        refunded = paid + rng.random() if rng.random() < 0.1 else None
        net.order(f"O{j:03d}", buyer, rng.randrange(1, 50_000), paid, refunded)
    return net


def transfer(arun: Callable[..., Any], net: Net, member: str, sponsor: str, day: float) -> None:
    arun(transfer_member, member_id=member, new_sponsor_id=sponsor, at=at(day))
    net.members[member] = (sponsor, net.members[member][1])


def join(arun: Callable[..., Any], net: Net, member: str, sponsor: str, day: float) -> None:
    arun(register_member, member_id=member, name=member, joined_at=at(day), sponsor_id=sponsor)
    net.member(member, sponsor, day)


def uplines(net: Net, member: str) -> list[str]:
    out: list[str] = []
    sponsor = net.members[member][0]
    while sponsor is not None:
        out.append(sponsor)
        sponsor = net.members[sponsor][0]
    return out


def large_branch(net: Net) -> tuple[str, str]:
    """A member with a large downline (not a root) and a sponsor for it outside that downline,
    as deep as possible in the other root's tree."""
    sizes = {m: len(net.below(m)) for m in net.members}
    moved = max((m for m, (s, _) in net.members.items() if s is not None), key=sizes.__getitem__)
    below = net.below(moved)
    outside = [m for m in net.members if m not in below and m != net.members[moved][0]]
    return moved, max(outside, key=lambda m: (len(uplines(net, m)), m))


def change(arun: Callable[..., Any], net: Net, what: str) -> list[str]:
    """Applies one kind of change after the refresh; returns the members it concerns."""
    moved, target = large_branch(net)
    old_sponsor = net.members[moved][0]
    assert old_sponsor is not None
    leaf = max(net.members, key=lambda m: (len(uplines(net, m)), m))
    if what == "transfer":
        transfer(arun, net, moved, target, 96.5)
        return [moved, target, old_sponsor]
    if what == "move_back":
        transfer(arun, net, moved, target, 96.5)
        transfer(arun, net, moved, old_sponsor, 96.6)
        return [moved, target, old_sponsor]
    if what == "huge_order":
        record(arun, net, "BIG", leaf, HUGE, 96.3)
        record(arun, net, "SMALL", leaf, 19_900, 96.4)
        kept = next(o for o, (b, _, _, r) in sorted(net.orders.items()) if r is None and b == leaf)
        arun(refund_order, order_id=kept, refunded_at=at(96.45))
        net.orders[kept] = (*net.orders[kept][:3], at(96.45))
        return [leaf]
    if what == "new_members":
        join(arun, net, "N1", target, 96.1)
        join(arun, net, "N2", "N1", 96.2)
        record(arun, net, "NO1", "N1", 123_456, 96.3)
        record(arun, net, "NO2", "N2", 7_890, 96.9)
        # A numbered branch moved under a member the refresh never saw.
        transfer(arun, net, moved, "N2", 97.5)
        join(arun, net, "N3", moved, 97.6)
        record(arun, net, "NO3", "N3", 5_000, 97.7)
        return ["N1", "N2", "N3", moved, target, old_sponsor]
    assert what == "nested"
    # A branch inside the moved one leaves first; then the rest moves under that branch, and
    # a member of the first branch comes back under the moved member.
    inner = max(
        (m for m in net.below(moved) if m != moved and len(net.below(m)) > 2),
        key=lambda m: (len(net.below(m)), m),
    )
    transfer(arun, net, inner, target, 96.5)
    deepest = max(net.below(inner), key=lambda m: (len(uplines(net, m)), m))
    transfer(arun, net, moved, deepest, 96.6)
    chain = set(uplines(net, moved))
    inner_child = max(
        (
            m
            for m in net.below(inner)
            if m != inner and m not in chain and m not in net.below(moved)
        ),
        key=lambda m: (len(net.below(m)), m),
    )
    transfer(arun, net, inner_child, moved, 96.7)
    record(arun, net, "IN1", inner_child, 4_321, 96.8)
    return [moved, inner, inner_child, target, old_sponsor]


def concerned(net: Net, members: list[str]) -> list[str]:
    """The given members, their current chains, and a few others."""
    out = set(members)
    for m in members:
        out.update(uplines(net, m))
    return sorted(out | set(sorted(net.members)[::9]))


def refuse_walk(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the exact walk was taken")


@pytest.mark.parametrize("what", CHANGES)
def test_changes_after_refresh_stay_exact_without_walking(
    graph: neo4j.Driver,
    arun: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    what: str,
) -> None:
    net = deep_net(21)
    net.seed(graph, tmp_path)
    refresh(graph)
    members = concerned(net, change(arun, net, what))
    for u in members[:4]:
        for start, end in WINDOWS[:2]:
            fast = arun(subtree_revenue, member_id=u, start=start, end=end, max_depth=None)
            slow = arun(naive_subtree_revenue, member_id=u, start=start, end=end, max_depth=None)
            assert fast == slow, (u, start, end)
    monkeypatch.setattr(levels, "exact_levels", refuse_walk)
    for i, u in enumerate(members):
        for start, end in WINDOWS:
            check(arun, net, u, start, end, None)
            if i < 6:
                check(arun, net, u, start, end, 2)
