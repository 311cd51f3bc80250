"""The compliance view against a worked example and figures computed in Python from the ledger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import neo4j

from graph import compliance, members
from tests.graph import growthnet as gn
from tests.graph.growthnet import CST, Network, Row

JAN = datetime(2026, 1, 1, tzinfo=CST)
T = datetime(2026, 1, 10, 10, 0, tzinfo=CST)


def line(env: dict[str, str], folder: Path) -> tuple[Network, list[gn.Payout]]:
    """A -> B -> C -> D, all agents; D buys a gift package (its sponsor C is tier 1) and buys
    100.00 at 1500 bp from itself."""
    net = Network()
    for m, s in [("A", None), ("B", "A"), ("C", "B"), ("D", "C")]:
        net.member(m, s, JAN)
    for m in "ABC":
        net.order(Row(f"G-{m}", "GIFT_PACKAGE", m, None, "GP399", 39_900, JAN + timedelta(hours=1)))
    net.order(Row("GD", "GIFT_PACKAGE", "D", None, "GP399", 39_900, T))
    net.order(Row("RD", "RETAIL", "D", "D", "SKU1", 10_000, T + timedelta(hours=1)))
    return net, gn.load_and_settle(net, folder, env)


def test_worked_example(
    graph: neo4j.Driver, cli_env: dict[str, str], tmp_path: Path, arun: Callable[..., Any]
) -> None:
    line(cli_env, tmp_path)
    window = {"start": T, "end": T + timedelta(days=1)}
    c = arun(compliance.member_compliance, member_id="C", **window)
    # Gift package: tier 1 (C) 12 967 fen; retail: D 1 500, C 150, B 75.
    assert c.income == compliance.IncomeMix.of(13_117, 12_967, 150, 150, 150)
    assert c.income.gift_package_bp == 12_967 * 10_000 // 13_117 == 9885
    assert c.income.team_pay_bp == 114 and c.income.self_purchase_bp == 10_000
    assert c.mostly_recruiting and not c.mostly_team_pay
    assert c.paths.ok and c.paths.payouts_checked == 2 and c.paths.max_tier == 2

    a = arun(compliance.member_compliance, member_id="A", **window)
    assert a.income == compliance.IncomeMix.of(5_187, 5_187, 0, 5_187, 0)
    assert a.mostly_recruiting and a.mostly_team_pay and a.paths.max_tier == 3
    # The thresholds are parameters: at 100% nobody is "mostly" anything.
    strict = arun(
        compliance.member_compliance,
        member_id="A",
        recruiting_bp=10_000,
        team_pay_bp=10_000,
        **window,
    )
    assert not strict.mostly_recruiting and not strict.mostly_team_pay

    d = arun(compliance.member_compliance, member_id="D", **window)
    assert d.income == compliance.IncomeMix.of(1_500, 0, 1_500, 0, 1_500)
    assert not d.mostly_recruiting and not d.mostly_team_pay

    p = arun(compliance.platform_compliance, **window)
    assert p.income == compliance.IncomeMix.of(
        12_967 + 7_780 + 5_187 + 1_725, 25_934, 1_725, 7_780 + 5_187 + 150 + 75, 1_725
    )
    assert p.members_paid == 4
    assert [(f.member_id, f.mostly_recruiting, f.mostly_team_pay) for f in p.flagged] == [
        ("C", True, False),
        ("B", True, True),
        ("A", True, True),
    ]
    assert p.flagged_count == 3 and p.paths.ok and p.paths.payouts_checked == 6

    before = arun(compliance.platform_compliance, start=None, end=T)
    # Before: B's and C's packages; A is a root, so its own package paid nobody.
    assert before.income == compliance.IncomeMix.of(33_714, 33_714, 0, 7_780, 0)
    assert before.paths.payouts_checked == 3 and before.paths.ok


def test_nobody_paid(graph: neo4j.Driver, arun: Callable[..., Any]) -> None:
    p = arun(compliance.platform_compliance, start=None, end=None)
    assert p.income == compliance.IncomeMix.of(0, 0, 0, 0, 0)
    assert p.flagged == () and p.flagged_count == 0 and p.members_paid == 0
    assert p.paths.ok and p.paths.max_tier == 0
    m = arun(compliance.member_compliance, member_id="nobody", start=None, end=None)
    assert m.income.total == 0 and not m.mostly_recruiting


def test_random_network_matches_the_ledger(
    graph: neo4j.Driver, cli_env: dict[str, str], tmp_path: Path, arun: Callable[..., Any]
) -> None:
    net = gn.random_network(seed=11)
    ledger = gn.load_and_settle(net, tmp_path, cli_env)
    assert any(p.reversal for p in ledger), "the data must include reversals"
    for start, end in [
        (JAN, datetime(2026, 7, 1, tzinfo=CST)),
        (JAN, datetime(2026, 3, 1, tzinfo=CST)),
    ]:
        p = arun(compliance.platform_compliance, start=start, end=end, limit=1000)
        expected = gn.income(net, ledger, start, end)
        assert p.income == compliance.IncomeMix.of(
            expected.total,
            expected.gift_package,
            expected.retail,
            expected.team_pay,
            expected.self_purchase,
        )
        assert 0 < p.income.self_purchase < p.income.retail
        per_member = {m: gn.income(net, ledger, start, end, m) for m in net.sponsor}
        flagged = {
            m: (mix.gift_package_bp > 5000, mix.team_pay_bp > 5000)
            for m, mix in per_member.items()
            if mix.gift_package_bp > 5000 or mix.team_pay_bp > 5000
        }
        assert {f.member_id: (f.mostly_recruiting, f.mostly_team_pay) for f in p.flagged} == flagged
        assert [f.member_id for f in p.flagged] == sorted(
            flagged, key=lambda m: (-per_member[m].total, m)
        )
        assert p.members_paid == sum(1 for mix in per_member.values() if mix.total > 0)
        assert p.paths.ok and p.paths.max_tier == 3
        assert p.paths.payouts_checked == sum(
            1
            for x in ledger
            if not x.reversal and start <= {o.id: o for o in net.orders}[x.order_id].paid_at < end
        )
        for m in ["M00", "M05", "M11", "M14"]:
            mc = arun(compliance.member_compliance, member_id=m, start=start, end=end)
            mix = per_member[m]
            assert (mc.income.total, mc.income.gift_package, mc.income.team_pay) == (
                mix.total,
                mix.gift_package,
                mix.team_pay,
            )
            assert (mc.income.self_purchase_bp, mc.income.gift_package_bp) == (
                mix.self_purchase_bp,
                mix.gift_package_bp,
            )
            assert mc.mostly_recruiting == (mix.gift_package_bp > 5000)
            assert mc.paths.ok

    # Flags with other thresholds, and a short list.
    p = arun(compliance.platform_compliance, start=None, end=None, recruiting_bp=9000, limit=2)
    assert len(p.flagged) == min(2, p.flagged_count)
    assert all(f.mostly_recruiting or f.mostly_team_pay for f in p.flagged)


def test_a_transfer_after_settlement_shows_as_a_path_violation(
    graph: neo4j.Driver, cli_env: dict[str, str], tmp_path: Path, arun: Callable[..., Any]
) -> None:
    """Settlement never writes a bad path; a chain moved by an admin afterwards does not match
    the payouts made before, and the check reports exactly those payouts."""
    net, ledger = line(cli_env, tmp_path)
    arun(
        members.transfer_member,
        member_id="C",
        new_sponsor_id="A",
        at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    net.sponsor["C"] = "A"
    expected = gn.path_violations(net, ledger)
    assert expected == [("G-C", 1), ("G-C", 2), ("GD", 2), ("GD", 3), ("RD", 3)]
    p = arun(compliance.platform_compliance, start=None, end=None)
    assert not p.paths.ok and p.paths.violation_count == 5 and p.paths.max_tier == 3
    assert [(v.order_id, v.tier, v.reason) for v in p.paths.violations] == [
        (o, t, "path") for o, t in expected
    ]
    gd3 = p.paths.violations[3]
    assert (gd3.member_id, gd3.expected_member_id) == ("A", None)
    b = arun(compliance.member_compliance, member_id="B", start=None, end=None)
    assert b.paths.violation_count == 3
    assert {v.order_id for v in b.paths.violations} == {"G-C", "GD", "RD"}
