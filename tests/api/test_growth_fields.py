"""The growth and compliance fields through the real schema and context, checked against figures
computed in Python from the same rows, and who may see them."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import neo4j
import pytest

from contract.money import format_yuan
from tests.api.conftest import ADMIN, ANALYST, Gql, member_principal
from tests.graph import growthnet as gn
from tests.graph.growthnet import Network, Payout

JAN = "2026-01-01T00:00:00+08:00"
APR = "2026-04-01T00:00:00+08:00"
JUL = "2026-07-01T00:00:00+08:00"

MEMBER = """
query ($id: ID!, $from: DateTime, $to: DateTime) {
  member(id: $id) {
    fissionSpeed(from: $from, to: $to) { memberId total weeks { week recruits } }
    activation(from: $from, to: $to) { recruits activated shareBp days }
    compliance(from: $from, to: $to) {
      memberId mostlyRecruiting mostlyTeamPay
      income { total giftPackage retail teamPay selfPurchase giftPackageBp teamPayBp
               selfPurchaseBp }
      paths { ok payoutsChecked maxTier violationCount violations { orderId } }
    }
  }
}
"""

RETENTION = """
query ($months: Int!, $from: DateTime, $to: DateTime, $memberId: ID) {
  cohortRetention(months: $months, from: $from, to: $to, memberId: $memberId) {
    memberId months cohorts { month agents active shareBp }
  }
}
"""

PLATFORM = """
query ($from: DateTime, $to: DateTime, $limit: Int!, $recruitingBp: Int!) {
  compliance(from: $from, to: $to, limit: $limit, recruitingBp: $recruitingBp) {
    membersPaid recruitingBp teamPayBp flaggedCount
    income { total giftPackage retail teamPay selfPurchase giftPackageBp teamPayBp
             selfPurchaseBp }
    flagged { memberId mostlyRecruiting mostlyTeamPay member { id name } income { total } }
    paths { ok maxTier payoutsChecked violationCount }
  }
}
"""


@pytest.fixture
def seeded(
    graph: neo4j.Driver, cli_env: dict[str, str], tmp_path: Path
) -> tuple[Network, list[Payout]]:
    net = gn.random_network(seed=5, size=14)
    return net, gn.load_and_settle(net, tmp_path, cli_env)


def mix_of(m: gn.Mix) -> dict[str, object]:
    return {
        "total": format_yuan(m.total),
        "giftPackage": format_yuan(m.gift_package),
        "retail": format_yuan(m.retail),
        "teamPay": format_yuan(m.team_pay),
        "selfPurchase": format_yuan(m.self_purchase),
        "giftPackageBp": m.gift_package_bp,
        "teamPayBp": m.team_pay_bp,
        "selfPurchaseBp": m.self_purchase_bp,
    }


def test_member_fields_match_python(seeded: tuple[Network, list[Payout]], gql: Gql) -> None:
    net, ledger = seeded
    start, end = datetime.fromisoformat(JAN), datetime.fromisoformat(APR)
    for member_id in ["M00", "M02", "M05"]:
        got = gql(MEMBER, id=member_id, **{"from": JAN, "to": APR})
        assert got["errors"] == []
        m = got["data"]["member"]
        weeks = gn.fission(net, member_id, start, end)
        assert m["fissionSpeed"]["total"] == sum(weeks.values())
        assert {
            date.fromisoformat(w["week"]): w["recruits"]
            for w in m["fissionSpeed"]["weeks"]
            if w["recruits"]
        } == weeks
        recruits, activated = gn.activation(net, member_id, start, end)
        assert m["activation"] == {
            "recruits": recruits,
            "activated": activated,
            "shareBp": activated * 10_000 // recruits if recruits else 0,
            "days": 30,
        }
        mix = gn.income(net, ledger, start, end, member_id)
        c = m["compliance"]
        assert c["income"] == mix_of(mix)
        assert c["mostlyRecruiting"] == (mix.gift_package_bp > 5000)
        assert c["mostlyTeamPay"] == (mix.team_pay_bp > 5000)
        assert c["paths"]["ok"] and c["paths"]["violationCount"] == 0
    assert gn.fission(net, "M00", start, end), "the data must have recruits in the window"


def test_platform_fields_match_python(seeded: tuple[Network, list[Payout]], gql: Gql) -> None:
    net, ledger = seeded
    start, end = datetime.fromisoformat(JAN), datetime.fromisoformat(JUL)
    got = gql(RETENTION, principal=ANALYST, months=3, **{"from": JAN, "to": JUL})
    assert got["errors"] == []
    expected = gn.retention(net, start, end, 3)
    cohorts = got["data"]["cohortRetention"]["cohorts"]
    assert {date.fromisoformat(c["month"]): (c["agents"], c["active"]) for c in cohorts} == expected
    assert got["data"]["cohortRetention"]["memberId"] is None

    got = gql(PLATFORM, principal=ANALYST, limit=100, recruitingBp=5000, **{"from": JAN, "to": JUL})
    assert got["errors"] == []
    p = got["data"]["compliance"]
    assert p["income"] == mix_of(gn.income(net, ledger, start, end))
    per_member = {m: gn.income(net, ledger, start, end, m) for m in net.sponsor}
    flagged = sorted(
        (m for m, x in per_member.items() if x.gift_package_bp > 5000 or x.team_pay_bp > 5000),
        key=lambda m: (-per_member[m].total, m),
    )
    assert [f["memberId"] for f in p["flagged"]] == flagged
    assert [f["member"]["name"] for f in p["flagged"]] == [f"name {m}" for m in flagged]
    assert p["flaggedCount"] == len(flagged) > 0
    assert p["membersPaid"] == sum(1 for x in per_member.values() if x.total > 0)
    assert p["paths"] == {
        "ok": True,
        "maxTier": 3,
        "payoutsChecked": sum(1 for x in ledger if not x.reversal),
        "violationCount": 0,
    }
    short = gql(PLATFORM, limit=1, recruitingBp=10_000, **{"from": JAN, "to": JUL})
    assert len(short["data"]["compliance"]["flagged"]) == 1
    assert short["data"]["compliance"]["recruitingBp"] == 10_000
    assert all(not f["mostlyRecruiting"] for f in short["data"]["compliance"]["flagged"])


def test_who_may_see_what(seeded: tuple[Network, list[Payout]], gql: Gql) -> None:
    net, _ = seeded
    me = "M02"
    below = net.downline(me)[0]
    outside = next(m for m in net.sponsor if m != me and m not in net.downline(me))
    token = member_principal(me)
    for member_id in [me, below]:
        got = gql(MEMBER, principal=token, id=member_id, **{"from": JAN, "to": APR})
        assert got["errors"] == [], member_id
    got = gql(MEMBER, principal=token, id=outside, **{"from": JAN, "to": APR})
    assert [e["code"] for e in got["errors"]] == ["FORBIDDEN"]

    # Platform-wide figures are for analysts and admins; a member may ask for its own branch.
    got = gql(RETENTION, principal=token, months=2)
    assert [e["code"] for e in got["errors"]] == ["FORBIDDEN"]
    got = gql(RETENTION, principal=token, months=2, memberId=me)
    assert got["errors"] == [] and got["data"]["cohortRetention"]["memberId"] == me
    expected = gn.retention(net, gn.START, datetime(9999, 1, 1, tzinfo=gn.CST), 2, me)
    assert len(got["data"]["cohortRetention"]["cohorts"]) == len(expected)
    got = gql(RETENTION, principal=token, months=2, memberId=outside)
    assert [e["code"] for e in got["errors"]] == ["FORBIDDEN"]
    got = gql(PLATFORM, principal=token, limit=5, recruitingBp=5000)
    assert [e["code"] for e in got["errors"]] == ["FORBIDDEN"]
    assert gql(PLATFORM, principal=ADMIN, limit=5, recruitingBp=5000)["errors"] == []


@pytest.mark.parametrize(
    ("query", "variables", "needle"),
    [
        (RETENTION, {"months": 37}, "months"),
        (RETENTION, {"months": -1}, "months"),
        (RETENTION, {"months": 1, "from": JUL, "to": JAN}, "from"),
        (PLATFORM, {"limit": 0, "recruitingBp": 5000}, "limit"),
        (PLATFORM, {"limit": 101, "recruitingBp": 5000}, "limit"),
        (PLATFORM, {"limit": 5, "recruitingBp": 10_001}, "recruitingBp"),
    ],
)
def test_bad_input(
    graph: neo4j.Driver, gql: Gql, query: str, variables: dict[str, object], needle: str
) -> None:
    got = gql(query, **variables)
    assert [e["code"] for e in got["errors"]] == ["BAD_INPUT"], got
    assert needle in got["errors"][0]["message"]


def test_activation_days_and_unknown_members(
    seeded: tuple[Network, list[Payout]], gql: Gql
) -> None:
    net, _ = seeded
    got = gql('query { member(id: "M00") { activation(days: 0) { recruits } } }')
    assert [e["code"] for e in got["errors"]] == ["BAD_INPUT"]
    got = gql('query { member(id: "M00") { a: activation(days: 90) { recruits activated days } } }')
    recruits, activated = gn.activation(
        net, "M00", datetime(1, 1, 2, tzinfo=gn.CST), datetime(9999, 1, 1, tzinfo=gn.CST), 90
    )
    assert got["data"]["member"]["a"] == {"recruits": recruits, "activated": activated, "days": 90}
    got = gql(RETENTION, months=1, memberId="nobody")
    assert got["data"]["cohortRetention"] is None
    got = gql(MEMBER, id="M00", **{"from": APR, "to": JAN})
    assert {e["code"] for e in got["errors"]} == {"BAD_INPUT"} and len(got["errors"]) == 3
