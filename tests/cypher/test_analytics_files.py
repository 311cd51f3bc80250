"""Every cypher/analytics file, run through ``downline cypher run --format csv`` on a seeded
network, against figures computed in Python from the same rows."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime

import neo4j
import pytest

from contract.settings import Settings
from graph.db import clear
from tests.cli import ROOT, downline
from tests.graph import growthnet as gn
from tests.graph.growthnet import Network, Payout

ANALYTICS = ROOT / "cypher" / "analytics"
JAN = "2026-01-01T00:00:00+08:00"
APR = "2026-04-01T00:00:00+08:00"
JUL = "2026-07-01T00:00:00+08:00"
FEB = "2026-02-01T00:00:00+08:00"


@pytest.fixture(scope="module")
def seeded(
    settings: Settings, session_driver: neo4j.Driver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Network, list[Payout], dict[str, str]]]:
    clear(session_driver, settings.neo4j_database)
    net = gn.random_network(seed=5)
    env = gn.cli_env(settings)
    ledger = gn.load_and_settle(net, tmp_path_factory.mktemp("analytics"), env)
    yield net, ledger, env


def run(env: dict[str, str], name: str, **params: object) -> list[dict[str, str]]:
    args = [arg for k, v in params.items() for arg in ("-p", f"{k}={v}")]
    out = gn.run_ok(env, "cypher", "run", str(ANALYTICS / name), *args, "--format", "csv")
    return list(csv.DictReader(io.StringIO(out)))


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_every_file_has_its_header() -> None:
    files = sorted(ANALYTICS.glob("*.cypher"))
    assert {f.name for f in files} >= {
        "top_group_volume.cypher",
        "top_downline_size.cypher",
        "top_recruits.cypher",
        "top_influence.cypher",
        "top_at_risk.cypher",
        "cohort_retention.cypher",
        "activation.cypher",
        "fission_speed.cypher",
        "payout_reconciliation.cypher",
        "compliance.cypher",
    }
    for f in files:
        head = f.read_text().split("\n\n")[0]
        assert head.startswith("// "), f.name
        for part in ("Parameters:", "Output:", "cypher-shell -a", f"-f cypher/analytics/{f.name}"):
            assert part in head, (f.name, part)
        assert f"downline cypher run cypher/analytics/{f.name}" in head, f.name


METRIC_FILES = {
    "top_group_volume.cypher": ("group_volume", "group_volume_fen"),
    "top_downline_size.cypher": ("downline_size", "downline_size"),
    "top_recruits.cypher": ("recruits", "recruits"),
    "top_influence.cypher": ("influence", "influence_fen"),
    "top_at_risk.cypher": ("at_risk_ppm", "at_risk_ppm"),
}


@pytest.mark.parametrize("name", sorted(METRIC_FILES))
@pytest.mark.parametrize(("start", "end"), [(JAN, JUL), (FEB, APR)])
def test_top_influencers(
    seeded: tuple[Network, list[Payout], dict[str, str]], name: str, start: str, end: str
) -> None:
    net, _, env = seeded
    metric, column = METRIC_FILES[name]
    values = {m: v[metric] for m, v in gn.key_metrics(net, ts(start), ts(end)).items()}
    # at risk ranks as group volume does (ties in ppm broken the same way)
    order_by = (
        {m: v["group_volume"] for m, v in gn.key_metrics(net, ts(start), ts(end)).items()}
        if metric == "at_risk_ppm"
        else values
    )
    expected = [(m, values[m]) for m, _ in gn.ranked(order_by, 12)]
    rows = run(env, name, **{"from": start, "to": end, "limit": 12})
    assert [(r["member_id"], int(r[column])) for r in rows] == expected
    assert [int(r["rank"]) for r in rows] == list(range(1, 13))
    assert rows[0]["name"] == f"name {expected[0][0]}"
    assert expected[0][1] > expected[-1][1] >= 0


def test_fission_speed(seeded: tuple[Network, list[Payout], dict[str, str]]) -> None:
    net, _, env = seeded
    for member in ["M00", "M03", "M11"]:
        rows = run(env, "fission_speed.cypher", member_id=member, **{"from": JAN, "to": APR})
        expected = gn.fission(net, member, ts(JAN), ts(APR))
        assert {
            date.fromisoformat(r["week"]): int(r["recruits"]) for r in rows if r["recruits"] != "0"
        } == expected
        assert rows[0]["week"] == "2025-12-29" and rows[-1]["week"] == "2026-03-30"
        assert len(rows) == 14
    assert sum(gn.fission(net, "M00", ts(JAN), ts(APR)).values()) == len(net.sponsor) - 1


def test_activation(seeded: tuple[Network, list[Payout], dict[str, str]]) -> None:
    net, _, env = seeded
    rows = run(env, "activation.cypher", days=30, limit=100, **{"from": JAN, "to": APR})
    expected = {}
    for m in net.sponsor:
        recruits, activated = gn.activation(net, m, ts(JAN), ts(APR))
        if recruits:
            expected[m] = (recruits, activated, activated * 10_000 // recruits)
    found = {
        r["sponsor_id"]: (int(r["recruits"]), int(r["activated"]), int(r["share_bp"])) for r in rows
    }
    assert found == expected
    assert [r["sponsor_id"] for r in rows] == sorted(expected, key=lambda m: (-expected[m][0], m))
    assert 0 < sum(a for _, a, _ in expected.values()) < sum(r for r, _, _ in expected.values())


@pytest.mark.parametrize("branch", ["", "M02"])
def test_cohort_retention(
    seeded: tuple[Network, list[Payout], dict[str, str]], branch: str
) -> None:
    net, _, env = seeded
    rows = run(
        env, "cohort_retention.cypher", months=3, member_id=branch, **{"from": JAN, "to": JUL}
    )
    expected = gn.retention(net, ts(JAN), ts(JUL), 3, branch or None)
    found: dict[date, tuple[int, list[int]]] = {}
    for r in rows:
        month = date.fromisoformat(r["cohort"])
        agents, active = found.setdefault(month, (int(r["agents"]), []))
        assert int(r["k"]) == len(active)
        assert int(r["share_bp"]) == int(r["active"]) * 10_000 // agents
        active.append(int(r["active"]))
    assert found == expected  # the data is in the past, so every k is shown
    assert any(a for _, active in expected.values() for a in active[1:])


def test_payout_reconciliation(seeded: tuple[Network, list[Payout], dict[str, str]]) -> None:
    net, ledger, env = seeded
    rows = run(env, "payout_reconciliation.cypher", period="month", **{"from": JAN, "to": JUL})
    by_id = {o.id: o for o in net.orders}
    books: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in net.orders:
        run_index = gn.settled_in(o)
        if run_index is None:
            continue
        b = books[gn.month_of(o.paid_at).isoformat()]
        paid = sum(p.amount for p in ledger if p.order_id == o.id and not p.reversal)
        reversed_ = o.refunded_at is not None and o.refunded_at <= gn.CUTOFFS[-1]
        b["orders_settled"] += 1
        b["orders_reversed"] += reversed_
        b["pool"] += gn.pool(net, o)
        b["paid"] += paid
        b["retained"] += gn.pool(net, o) - paid
        b["retained_reversed"] += (gn.pool(net, o) - paid) if reversed_ else 0
    for p in ledger:
        if p.reversal:
            books[gn.month_of(by_id[p.order_id].paid_at).isoformat()]["reversed"] += p.amount
    columns = ["orders_settled", "orders_reversed", "pool", "paid", "retained", "reversed",
               "retained_reversed"]  # fmt: skip
    found = {r["period"]: {c: int(r[c]) for c in columns} for r in rows}
    assert found == {month: {c: b[c] for c in columns} for month, b in books.items()}
    for r in rows:
        assert r["balanced"] == "True"
        assert int(r["net_paid"]) == int(r["paid"]) + int(r["reversed"])
        assert int(r["net_retained"]) == int(r["retained"]) - int(r["retained_reversed"])
    assert sum(int(r["orders_reversed"]) for r in rows) > 0
    days = run(env, "payout_reconciliation.cypher", period="day", **{"from": JAN, "to": JUL})
    assert sum(int(r["paid"]) for r in days) == sum(int(r["paid"]) for r in rows)
    assert len(days) > len(rows)


def test_compliance(seeded: tuple[Network, list[Payout], dict[str, str]]) -> None:
    net, ledger, env = seeded
    rows = run(
        env,
        "compliance.cypher",
        recruiting_bp=5000,
        team_pay_bp=5000,
        **{"from": JAN, "to": APR},
    )
    start, end = ts(JAN), ts(APR)
    platform = rows[0]
    mix = gn.income(net, ledger, start, end)
    assert platform["member_id"] == "*"
    assert [int(platform[c]) for c in ("total", "gift_package", "retail", "team_pay")] == [
        mix.total,
        mix.gift_package,
        mix.retail,
        mix.team_pay,
    ]
    assert int(platform["self_purchase"]) == mix.self_purchase > 0
    assert [int(platform[c]) for c in ("gift_package_bp", "team_pay_bp", "self_purchase_bp")] == [
        mix.gift_package_bp,
        mix.team_pay_bp,
        mix.self_purchase_bp,
    ]
    assert platform["max_tier"] == "3" and platform["path_violations"] == "0"
    by_id = {o.id: o for o in net.orders}
    paid = sorted({p.member_id for p in ledger if start <= by_id[p.order_id].paid_at < end})
    assert [r["member_id"] for r in rows[1:]] == paid
    assert int(platform["members_paid"]) == sum(
        1 for m in paid if gn.income(net, ledger, start, end, m).total > 0
    )
    flags = 0
    for r in rows[1:]:
        m = gn.income(net, ledger, start, end, r["member_id"])
        assert (int(r["total"]), int(r["self_purchase"]), int(r["team_pay_bp"])) == (
            m.total,
            m.self_purchase,
            m.team_pay_bp,
        )
        assert r["mostly_recruiting"] == str(m.gift_package_bp > 5000)
        assert r["mostly_team_pay"] == str(m.team_pay_bp > 5000)
        assert r["path_violations"] == "0" and int(r["max_tier"]) <= 3
        flags += r["mostly_recruiting"] == "True"
    assert 0 < flags < len(rows) - 1


def test_a_missing_parameter_is_refused(
    seeded: tuple[Network, list[Payout], dict[str, str]],
) -> None:
    _, _, env = seeded
    done = downline(
        "cypher", "run", str(ANALYTICS / "activation.cypher"), "-p", f"from={JAN}", env=env
    )
    assert done.returncode != 0
    assert "missing parameter(s): days, limit, to" in done.stdout + done.stderr
