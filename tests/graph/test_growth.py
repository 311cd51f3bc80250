"""Growth signals against figures computed in Python from the same rows."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, datetime
from typing import Any, TypeVar

import neo4j
import pytest

from contract.settings import Settings
from graph import growth
from graph.db import clear, connect_async
from tests.graph import growthnet as gn
from tests.graph.growthnet import CST, Network

T = TypeVar("T")
JAN = datetime(2026, 1, 1, tzinfo=CST)
APR = datetime(2026, 4, 1, tzinfo=CST)
JUL = datetime(2026, 7, 1, tzinfo=CST)


@pytest.fixture(scope="module")
def net(
    settings: Settings, session_driver: neo4j.Driver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Network]:
    """One network for the module, loaded through the CLI (the tests here only read)."""
    clear(session_driver, settings.neo4j_database)
    network = gn.random_network()
    gn.load_and_settle(network, tmp_path_factory.mktemp("growth"), gn.cli_env(settings))
    yield network


@pytest.fixture(scope="module")
def call(settings: Settings) -> Callable[..., Any]:
    def run(fn: Callable[..., Awaitable[T]], **kwargs: Any) -> T:
        async def go() -> T:
            async with connect_async(settings) as driver:
                return await fn(driver, **kwargs)

        return asyncio.run(go())

    return run


@pytest.mark.parametrize("member_id", ["M00", "M04", "M11", "M14", "M27"])
@pytest.mark.parametrize(("start", "end"), [(JAN, APR), (datetime(2026, 2, 2, tzinfo=CST), APR)])
def test_fission_speed_counts_the_branch_per_week(
    net: Network, call: Callable[..., Any], member_id: str, start: datetime, end: datetime
) -> None:
    found = call(growth.fission_speed, member_id=member_id, start=start, end=end)
    expected = gn.fission(net, member_id, start, end)
    assert found.member_id == member_id
    assert {w.week: w.recruits for w in found.weeks if w.recruits} == expected
    assert found.total == sum(expected.values())
    weeks = [w.week for w in found.weeks]
    assert weeks[0] == gn.week_of(start)
    assert weeks[-1] == date(2026, 3, 30)
    assert all((b - a).days == 7 for a, b in itertools.pairwise(weeks))


def test_fission_speed_weeks_are_utc_plus_8(net: Network, call: Callable[..., Any]) -> None:
    """MTZ joined on Monday 2 February at 00:30 in UTC+08:00, still Sunday in UTC."""
    found = call(
        growth.fission_speed,
        member_id="M01",
        start=datetime(2026, 1, 26, tzinfo=CST),
        end=datetime(2026, 2, 9, tzinfo=CST),
    )
    assert [(w.week, w.recruits) for w in found.weeks] == [
        (date(2026, 1, 26), 0),
        (date(2026, 2, 2), 1),
    ]


def test_fission_speed_unbounded_and_unknown(net: Network, call: Callable[..., Any]) -> None:
    found = call(growth.fission_speed, member_id="M00", start=None, end=None)
    assert found.total == len(net.sponsor) - 1
    assert found.weeks[0].week == gn.week_of(min(net.joined.values()))
    assert found.weeks[0].recruits > 0 and found.weeks[-1].recruits > 0
    assert call(growth.fission_speed, member_id="nobody", start=JAN, end=APR) is None


@pytest.mark.parametrize("member_id", ["M00", "M04", "M05", "M11", "M14", "M18", "M27"])
def test_activation_matches_python(net: Network, call: Callable[..., Any], member_id: str) -> None:
    for start, end in [(JAN, APR), (datetime(2026, 2, 1, tzinfo=CST), JUL)]:
        found = call(growth.activation, member_id=member_id, start=start, end=end)
        recruits, activated = gn.activation(net, member_id, start, end)
        assert (found.recruits, found.activated) == (recruits, activated)
        assert found.share_bp == (activated * 10_000 // recruits if recruits else 0)
        assert found.days == 30


def test_activation_has_cases_on_both_sides(net: Network, call: Callable[..., Any]) -> None:
    """The data must exercise the rule: some recruits activate late, some in time."""
    totals = [gn.activation(net, m, JAN, JUL) for m in net.sponsor]
    assert sum(r for r, _ in totals) > sum(a for _, a in totals) > 0
    longer = call(growth.activation, member_id="M00", start=JAN, end=JUL, days=60)
    assert (longer.recruits, longer.activated) == gn.activation(net, "M00", JAN, JUL, days=60)
    assert call(growth.activation, member_id="nobody", start=JAN, end=APR) is None


@pytest.mark.parametrize("branch", [None, "M00", "M05", "M11"])
def test_cohort_retention_matches_python(
    net: Network, call: Callable[..., Any], branch: str | None
) -> None:
    found = call(
        growth.cohort_retention,
        start=JAN,
        end=JUL,
        months=4,
        member_id=branch,
        as_of=datetime(2027, 1, 1, tzinfo=CST),
    )
    expected = gn.retention(net, JAN, JUL, 4, branch)
    assert found.member_id == branch and found.months == 4
    assert {c.month: (c.agents, list(c.active)) for c in found.cohorts} == expected
    for c in found.cohorts:
        assert list(c.share_bp) == [a * 10_000 // c.agents for a in c.active]
    assert [c.month for c in found.cohorts] == sorted(expected)


def test_cohort_retention_stops_at_as_of_and_uses_utc_plus_8(
    net: Network, call: Callable[..., Any]
) -> None:
    found = call(
        growth.cohort_retention,
        start=JAN,
        end=JUL,
        months=6,
        as_of=datetime(2026, 3, 15, tzinfo=CST),
    )
    by_month = {c.month: c for c in found.cohorts}
    assert len(by_month[date(2026, 1, 1)].active) == 3  # January, February, March
    assert len(by_month[date(2026, 3, 1)].active) == 1
    assert all(c.month <= date(2026, 3, 1) or not c.active for c in found.cohorts)
    # M01's package was paid on 1 February at 00:20 UTC+08:00 (31 January in UTC).
    expected = gn.retention(net, JAN, JUL, 6)
    assert by_month[date(2026, 2, 1)].agents == expected[date(2026, 2, 1)][0]
    assert net.agent_since("M01") == datetime(2026, 2, 1, 0, 20, tzinfo=CST)


def test_cohort_retention_refuses_bad_months(net: Network, call: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match="months"):
        call(growth.cohort_retention, start=JAN, end=JUL, months=37)
    assert call(growth.cohort_retention, start=JAN, end=JUL, months=1, member_id="x") is None


def test_share_bp_rounds_down() -> None:
    assert growth.share_bp(1, 3) == 3333
    assert growth.share_bp(2, 3) == 6666
    assert growth.share_bp(5, 0) == 0


def test_growth_reads_take_a_timeout(net: Network, call: Callable[..., Any]) -> None:
    found = call(growth.activation, member_id="M00", start=JAN, end=JUL, timeout=30.0)
    assert found.recruits == gn.activation(net, "M00", JAN, JUL)[0]
