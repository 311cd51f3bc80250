"""subtreeRevenue, topInfluencers and member metrics on a random network, checked against the
same numbers computed in Python from the same data (domain.md's definitions)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

import neo4j
import pytest

from contract.money import format_yuan, parse_timestamp
from contract.settings import Settings
from tests.api.conftest import Gql, member_principal, seed


@pytest.fixture
def revenue() -> None:
    pytest.importorskip("graph.revenue")


@pytest.fixture
def metrics() -> None:
    pytest.importorskip("graph.metrics")


@pytest.fixture
def refreshed(network: Network, graph: neo4j.Driver) -> Network:
    """The network with its rollups built, as the nightly refresh leaves it."""
    rollups = pytest.importorskip("graph.rollups")
    rollups.refresh(graph)
    return network


T0 = parse_timestamp("2026-01-01T00:00:00+08:00")
# Window bounds fall on midnights; every order is paid at 10:00 and refunded (if ever) at 11:00
# the same day, so "refunded within the window" and "refunded at all" agree.
FROM = parse_timestamp("2026-02-01T00:00:00+08:00")
TO = parse_timestamp("2026-03-01T00:00:00+08:00")


@dataclass(frozen=True)
class Sale:
    id: str
    buyer: str
    amount: int
    paid_at: datetime
    refunded: bool


@dataclass
class Network:
    sponsor: dict[str, str | None]
    joined: dict[str, datetime]
    sales: list[Sale]

    def children(self, m: str) -> list[str]:
        return [c for c, s in self.sponsor.items() if s == m]

    def subtree(self, m: str) -> dict[str, int]:
        """Member -> depth below m (m at 0)."""
        out, frontier, depth = {m: 0}, [m], 0
        while frontier:
            depth += 1
            frontier = [c for p in frontier for c in self.children(p)]
            out.update({c: depth for c in frontier})
        return out

    def counted(self, member: str, start: datetime | None, end: datetime | None) -> list[Sale]:
        return [
            s
            for s in self.sales
            if s.buyer == member
            and not s.refunded
            and (start is None or s.paid_at >= start)
            and (end is None or s.paid_at < end)
        ]

    def pv(self, member: str, start: datetime | None, end: datetime | None) -> int:
        return sum(s.amount for s in self.counted(member, start, end))


def random_network(seed_: int, size: int = 40) -> Network:
    rng = random.Random(seed_)
    sponsor: dict[str, str | None] = {}
    joined: dict[str, datetime] = {}
    ids = [f"M{i:03d}" for i in range(size)]
    for i, m in enumerate(ids):
        sponsor[m] = None if i < 2 else rng.choice(ids[:i])
        # Joins spread over January and February, in id order (a sponsor joins first).
        joined[m] = T0 + timedelta(hours=30 * i)
    sales = []
    for n in range(90):
        buyer = rng.choice(ids)
        day = joined[buyer].date() + timedelta(days=rng.randrange(1, 75))
        paid = datetime.combine(day, datetime.min.time(), T0.tzinfo) + timedelta(hours=10)
        sales.append(
            Sale(
                f"O{n:03d}",
                buyer,
                rng.randrange(1, 500) * 100 + rng.randrange(100),
                paid,
                rng.random() < 0.15,
            )
        )
    return Network(sponsor, joined, sales)


@pytest.fixture
def network(api_settings: Settings, gql: Gql) -> Network:
    net = random_network(7)
    seed(
        api_settings,
        [(m, net.sponsor[m], net.joined[m].isoformat()) for m in net.sponsor],
        [
            (
                s.id,
                "RETAIL",
                s.buyer,
                None,
                s.amount,
                s.paid_at.isoformat(),
                (s.paid_at + timedelta(hours=1)).isoformat() if s.refunded else None,
            )
            for s in net.sales
        ],
    )
    return net


def test_downline_and_recruits_match_python(network: Network, gql: Gql) -> None:
    q = """query ($m: ID!) { member(id: $m) { downlineCount upline { id }
      directRecruits(first: 100) { totalCount edges { node { id } } } } }"""
    for m in sorted(network.sponsor)[::4]:
        got = gql(q, m=m)["data"]["member"]
        assert got["downlineCount"] == len(network.subtree(m)) - 1
        assert [e["node"]["id"] for e in got["directRecruits"]["edges"]] == sorted(
            network.children(m)
        )
        chain, up = [], network.sponsor[m]
        while up is not None:
            chain.append(up)
            up = network.sponsor[up]
        assert [u["id"] for u in got["upline"]] == chain


REVENUE = """query ($m: ID!, $from: DateTime, $to: DateTime, $d: Int) {
  subtreeRevenue(memberId: $m, from: $from, to: $to, maxDepth: $d) {
    groupVolume orderCount memberCount byDepth { depth groupVolume orderCount memberCount } } }"""


def expected_revenue(
    net: Network, m: str, start: datetime | None, end: datetime | None, max_depth: int | None
) -> dict[str, Any]:
    rows: dict[int, list[int]] = {}
    for v, depth in net.subtree(m).items():
        if max_depth is not None and depth > max_depth:
            continue
        row = rows.setdefault(depth, [0, 0, 0])
        sales = net.counted(v, start, end)
        row[0] += sum(s.amount for s in sales)
        row[1] += len(sales)
        row[2] += int(end is None or net.joined[v] < end)
    by_depth = [
        {"depth": d, "groupVolume": format_yuan(r[0]), "orderCount": r[1], "memberCount": r[2]}
        for d, r in sorted(rows.items())
        if any(r)
    ]
    return {
        "groupVolume": format_yuan(sum(r[0] for r in rows.values())),
        "orderCount": sum(r[1] for r in rows.values()),
        "memberCount": sum(r[2] for r in rows.values()),
        "byDepth": by_depth,
    }


def nonzero(revenue: dict[str, Any]) -> dict[str, Any]:
    rows = [
        r
        for r in revenue["byDepth"]
        if r["groupVolume"] != "0.00" or r["orderCount"] or r["memberCount"]
    ]
    return {**revenue, "byDepth": rows}


@pytest.mark.parametrize(
    ("start", "end", "max_depth"),
    [(None, None, None), (FROM, TO, None), (FROM, None, 2), (None, TO, 0)],
)
def test_subtree_revenue_matches_python(
    revenue: None,
    network: Network,
    gql: Gql,
    start: datetime | None,
    end: datetime | None,
    max_depth: int | None,
) -> None:
    variables = {
        "from": None if start is None else start.isoformat(),
        "to": None if end is None else end.isoformat(),
        "d": max_depth,
    }
    for m in ("M000", "M001", "M003", "M010", "M039"):
        result = gql(REVENUE, m=m, **variables)
        assert result["errors"] == [], result["errors"]
        got = nonzero(result["data"]["subtreeRevenue"])
        assert got == expected_revenue(network, m, start, end, max_depth), m


def test_subtree_revenue_of_unknown_member_is_null(
    revenue: None, network: Network, gql: Gql
) -> None:
    assert gql(REVENUE, m="nobody")["data"] == {"subtreeRevenue": None}


def test_member_sees_its_own_subtree_revenue_only(
    revenue: None, network: Network, gql: Gql
) -> None:
    child = network.children("M001")[0] if network.children("M001") else "M001"
    assert gql(REVENUE, member_principal("M001"), m=child)["errors"] == []
    result = gql(REVENUE, member_principal("M001"), m="M000")
    assert [e["code"] for e in result["errors"]] == ["FORBIDDEN"]


def expected_metrics(net: Network, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    platform = sum(net.pv(v, start, end) for v in net.sponsor)
    out = {}
    for u in net.sponsor:
        tree = net.subtree(u)
        gv = sum(net.pv(v, start, end) for v in tree)
        influence = sum(Fraction(net.pv(v, start, end), 2**d) for v, d in tree.items())
        recruits = sum(
            1
            for c in net.children(u)
            if (start is None or net.joined[c] >= start) and (end is None or net.joined[c] < end)
        )
        ppm = 0 if platform == 0 else gv * 1_000_000 // platform
        out[u] = {
            "downlineSize": len(tree) - 1,
            "groupVolume": format_yuan(gv),
            "recruits": recruits,
            "influence": format_yuan(int(influence)),
            "atRisk": f"{ppm // 1_000_000}.{ppm % 1_000_000:06d}",
        }
    return out


TOP = """query ($metric: InfluenceMetric!, $from: DateTime, $to: DateTime, $limit: Int) {
  topInfluencers(metric: $metric, from: $from, to: $to, limit: $limit) {
    rank value member { id } downlineSize groupVolume recruits influence atRisk } }"""

SORT_KEY: dict[str, tuple[str, Callable[[str | int], Fraction | int]]] = {
    "GROUP_VOLUME": ("groupVolume", lambda v: Fraction(v)),
    "DOWNLINE_SIZE": ("downlineSize", int),
    "RECRUITS": ("recruits", int),
    "INFLUENCE": ("influence", lambda v: Fraction(v)),
    "AT_RISK": ("groupVolume", lambda v: Fraction(v)),  # at risk ranks by its exact share
}


@pytest.mark.parametrize("metric", list(SORT_KEY))
def test_top_influencers_match_python(
    metrics: None, refreshed: Network, gql: Gql, metric: str
) -> None:
    network = refreshed
    expected = expected_metrics(network, FROM, None)
    field, key = SORT_KEY[metric]
    ranked = sorted(expected, key=lambda m: (-key(expected[m][field]), m))[:7]
    result = gql(TOP, metric=metric, limit=7, **{"from": FROM.isoformat(), "to": None})
    assert result["errors"] == [], result["errors"]
    rows = result["data"]["topInfluencers"]
    assert [r["member"]["id"] for r in rows] == ranked
    assert [r["rank"] for r in rows] == list(range(1, 8))
    for r in rows:
        m = r["member"]["id"]
        assert {k: r[k] for k in expected[m]} == expected[m], m
        assert r["value"] == str(expected[m]["atRisk" if metric == "AT_RISK" else field])


def test_member_metrics_field(metrics: None, network: Network, gql: Gql) -> None:
    expected = expected_metrics(network, None, TO)
    q = """query ($from: DateTime, $to: DateTime) { member(id: "M000") { metrics(from: $from,
      to: $to) { downlineSize groupVolume recruits influence atRisk }
      directRecruits(first: 100) { edges { node { id metrics(to: $to) {
      downlineSize groupVolume recruits influence atRisk } } } } } }"""
    result = gql(q, **{"from": None, "to": TO.isoformat()})
    assert result["errors"] == [], result["errors"]
    member = result["data"]["member"]
    assert member["metrics"] == expected["M000"]
    for edge in member["directRecruits"]["edges"]:
        assert edge["node"]["metrics"] == expected[edge["node"]["id"]]
