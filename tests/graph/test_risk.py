"""The risk graph (graph/risk.py): identity signals loaded through the real `downline load`,
settled, then every flag and its evidence (money at stake to the fen) after `downline risk
refresh`; bad identity signals refused with file:line, nothing written."""

from __future__ import annotations

import asyncio
from pathlib import Path

import neo4j
import pytest

from contract.settings import Settings
from graph import risk
from graph.db import connect_async
from graph.risk import Identifier, RiskFlag, flag_id
from tests.cli import downline

HEADER = "member_id,sponsor_id,joined_at,name,phone_hash,device_id,payee_account\n"


def day(month: int, d: int) -> str:
    return f"2026-{month:02d}-{d:02d}T09:00:00+08:00"


# R is the root. A ← B ← C ← D: D shares A's phone, three tiers up (self-referral, tier 3).
# G1 ← G2 ← G3 ← G4 ← G5: G5 shares G1's device four tiers up (no self-referral; duplicates).
# H1 ← H2 ← H3: phone H1=H2, device H2=H3 (two self-referrals, one component over 3 tiers).
# K's recruits K1-K3 joined within 7 days on one device (a farm), K4 weeks later.
# P's recruits P1-P3 joined months apart, became agents, one payee account (a farm); P4 too,
# never an agent.
MEMBERS = [
    ("R", "", day(1, 1), "", "", ""),
    ("A", "R", day(1, 2), "ph:aaaa", "", ""),
    ("B", "A", day(1, 3), "", "", ""),
    ("C", "B", day(1, 4), "", "", ""),
    ("D", "C", day(1, 5), "ph:aaaa", "", ""),
    ("G1", "R", day(1, 2), "", "dev:g", ""),
    ("G2", "G1", day(1, 3), "", "", ""),
    ("G3", "G2", day(1, 4), "", "", ""),
    ("G4", "G3", day(1, 5), "", "", ""),
    ("G5", "G4", day(1, 6), "", "dev:g", ""),
    ("H1", "R", day(1, 2), "ph:h", "", ""),
    ("H2", "H1", day(1, 3), "ph:h", "dev:h", ""),
    ("H3", "H2", day(1, 4), "", "dev:h", ""),
    ("K", "R", day(1, 2), "", "", ""),
    ("K1", "K", day(1, 10), "", "dev:k", ""),
    ("K2", "K", day(1, 12), "", "dev:k", ""),
    ("K3", "K", day(1, 15), "", "dev:k", ""),
    ("K4", "K", day(1, 30), "", "dev:k", ""),
    ("P", "R", day(1, 1), "", "", ""),
    ("P1", "P", day(2, 1), "", "", "pay:p,1"),
    ("P2", "P", day(3, 1), "", "", "pay:p,1"),
    ("P3", "P", day(4, 1), "", "", "pay:p,1"),
    ("P4", "P", day(5, 1), "", "", "pay:p,1"),
]
PRODUCTS = "sku,name,price,commission_bp\nGIFT,Gift,399.00,0\nTEA,Tea,100.00,1500\n"
ORDERS = [
    # A becomes an agent, then sells to D: A earns 1500 (tier 1 of 100.00 at 1500 bp).
    ("O1", "GIFT_PACKAGE", "A", "", "GIFT", "399.00", day(1, 6)),
    ("O2", "RETAIL", "D", "A", "TEA", "100.00", day(1, 7)),
    # H1 becomes an agent; H2's package pays H1 tier 1: 399.00 * 65% * 50% = 129.67.
    ("O3", "GIFT_PACKAGE", "H1", "", "GIFT", "399.00", day(1, 20)),
    ("O4", "GIFT_PACKAGE", "H2", "", "GIFT", "399.00", day(1, 21)),
    # P is an agent; P1-P3's packages pay P 129.67 each.
    ("O5", "GIFT_PACKAGE", "P", "", "GIFT", "399.00", day(1, 5)),
    ("O6", "GIFT_PACKAGE", "P1", "", "GIFT", "399.00", day(2, 2)),
    ("O7", "GIFT_PACKAGE", "P2", "", "GIFT", "399.00", day(3, 2)),
    ("O8", "GIFT_PACKAGE", "P3", "", "GIFT", "399.00", day(4, 2)),
]
TIER1_GIFT = 12_967  # 39_900 * 6_500 // 10_000 = 25_935; * 5_000 // 10_000


def ident(kind: str, value: str) -> Identifier:
    return Identifier(kind, value)


def flag(
    kind: str, members: list[str], ids: list[Identifier], money: int, **kw: object
) -> RiskFlag:
    return RiskFlag(
        id=flag_id(kind, members),
        kind=kind,
        members=tuple(sorted(members)),
        identifiers=tuple(sorted(ids)),
        money_at_stake=money,
        **kw,  # type: ignore[arg-type]
    )


EXPECTED = sorted(
    [
        flag("self_referral", ["A", "D"], [ident("phone_hash", "ph:aaaa")], 1500,
             tier_distance=3, chain=("A", "D")),
        flag("self_referral", ["H1", "H2"], [ident("phone_hash", "ph:h")], TIER1_GIFT,
             tier_distance=1, chain=("H1", "H2")),
        flag("self_referral", ["H2", "H3"], [ident("device_id", "dev:h")], 0,
             tier_distance=1, chain=("H2", "H3")),
        flag("duplicate_accounts", ["A", "D"], [ident("phone_hash", "ph:aaaa")], 1500),
        flag("duplicate_accounts", ["G1", "G5"], [ident("device_id", "dev:g")], 0),
        flag("duplicate_accounts", ["H1", "H2", "H3"],
             [ident("phone_hash", "ph:h"), ident("device_id", "dev:h")], TIER1_GIFT),
        flag("duplicate_accounts", ["K1", "K2", "K3", "K4"], [ident("device_id", "dev:k")], 0),
        flag("duplicate_accounts", ["P1", "P2", "P3", "P4"],
             [ident("payee_account", "pay:p,1")], 0),
        flag("depth_ring", ["H1", "H2", "H3"],
             [ident("phone_hash", "ph:h"), ident("device_id", "dev:h")], TIER1_GIFT,
             tier_distance=2, chain=("H1", "H2", "H3")),
        flag("farm", ["K", "K1", "K2", "K3"], [ident("device_id", "dev:k")], 0, sponsor_id="K"),
        flag("farm", ["P", "P1", "P2", "P3"], [ident("payee_account", "pay:p,1")],
             3 * TIER1_GIFT, sponsor_id="P"),
    ],
    key=lambda f: (risk.KINDS.index(f.kind), f.id),
)  # fmt: skip


def csv_value(text: str) -> str:
    return f'"{text}"' if "," in text else text


def write_files(folder: Path) -> dict[str, Path]:
    members = folder / "members.csv"
    members.write_text(
        HEADER
        + "".join(
            ",".join(csv_value(v) for v in (m, s, j, f"Name {m}", *ids)) + "\n"
            for m, s, j, *ids in MEMBERS
        ),
        encoding="utf-8",
    )
    products = folder / "products.csv"
    products.write_text(PRODUCTS, encoding="utf-8")
    orders = folder / "orders.csv"
    orders.write_text(
        "order_id,kind,buyer_id,seller_id,sku,amount,paid_at,refunded_at\n"
        + "".join(",".join(row) + ",\n" for row in ORDERS),
        encoding="utf-8",
    )
    return {"members": members, "products": products, "orders": orders}


def run_ok(env: dict[str, str], *args: str) -> str:
    done = downline(*args, env=env)
    assert done.returncode == 0, f"downline {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def load_settle_refresh(env: dict[str, str], folder: Path) -> str:
    files = write_files(folder)
    run_ok(env, "load", *(a for k, p in files.items() for a in (f"--{k}", str(p))))
    run_ok(env, "plan", "load", "plans/default.toml")
    run_ok(env, "settle", "--until", "2026-06-01T00:00:00+08:00")
    return run_ok(env, "risk", "refresh")


def test_identifiers_are_shared_nodes(
    cli_env: dict[str, str], graph: neo4j.Driver, tmp_path: Path
) -> None:
    files = write_files(tmp_path)
    run_ok(cli_env, "load", "--members", str(files["members"]))
    records, _, _ = graph.execute_query(
        "MATCH (i:Identifier) RETURN i.kind AS kind, i.value AS value,"
        " COLLECT { MATCH (i)<-[:USES]-(m) RETURN m.id ORDER BY m.id } AS members"
        " ORDER BY kind, value"
    )
    assert [tuple(r) for r in records] == [
        ("device_id", "dev:g", ["G1", "G5"]),
        ("device_id", "dev:h", ["H2", "H3"]),
        ("device_id", "dev:k", ["K1", "K2", "K3", "K4"]),
        ("payee_account", "pay:p,1", ["P1", "P2", "P3", "P4"]),
        ("phone_hash", "ph:aaaa", ["A", "D"]),
        ("phone_hash", "ph:h", ["H1", "H2"]),
    ]
    # Loading again adds nothing: one node per (kind, value), one USES per member and signal.
    again = run_ok(cli_env, "load", "--members", str(files["members"]))
    assert "0 nodes and relationships created" in again


def test_detection_flags_every_case_with_its_evidence(
    cli_env: dict[str, str], graph: neo4j.Driver, settings: Settings, tmp_path: Path
) -> None:
    out = load_settle_refresh(cli_env, tmp_path)
    assert "risk: 11 flag(s) (3 self_referral, 5 duplicate_accounts, 2 farm, 1 depth_ring)" in out
    assert risk.detect(graph, settings.neo4j_database) == EXPECTED

    async def stored() -> tuple[list[RiskFlag], list[RiskFlag], risk.FlagPage, risk.FlagPage]:
        async with connect_async(settings) as driver:
            h2 = await risk.member_flags(driver, "H2")
            r = await risk.member_flags(driver, "R")
            page = await risk.clusters(driver, kind=None, min_size=3, first=3, after=None)
            rest = await risk.clusters(
                driver, kind=None, min_size=3, first=3, after=page.flags[-1].id
            )
            return h2, r, page, rest

    h2, r, page, rest = asyncio.run(stored())
    assert h2 == sorted([f for f in EXPECTED if "H2" in f.members], key=lambda f: (f.kind, f.id))
    assert r == []
    big = sorted((f for f in EXPECTED if f.size >= 3), key=lambda f: f.id)
    assert len(big) == 6
    assert (list(page.flags), page.has_next, page.total) == (big[:3], True, 6)
    assert (list(rest.flags), rest.has_next) == (big[3:], False)

    # A second refresh replaces the flags: same ids, nothing doubled.
    run_ok(cli_env, "risk", "refresh")
    records, _, _ = graph.execute_query(
        "MATCH (f:RiskFlag) RETURN count(f) AS flags, COUNT { ()-[:FLAGS]->() } AS links"
    )
    assert tuple(records[0]) == (11, sum(f.size for f in EXPECTED))


def test_a_flag_that_froze_a_payout_to_its_member_survives_a_refresh(
    cli_env: dict[str, str], graph: neo4j.Driver, tmp_path: Path
) -> None:
    """A flag is kept when a PAID line to one of its members names it in frozen_by; a line to
    someone else naming it keeps nothing."""
    load_settle_refresh(cli_env, tmp_path)
    graph.execute_query(
        """
        MATCH (a:Member {id: 'A'}), (d:Member {id: 'D'})
        CREATE (:RiskFlag {id: 'farm:froze', kind: 'farm', members: ['A']})-[:FLAGS]->(a),
               (:RiskFlag {id: 'farm:idle', kind: 'farm', members: ['A']})-[:FLAGS]->(a),
               (:RiskFlag {id: 'farm:elsewhere', kind: 'farm', members: ['D']})-[:FLAGS]->(d)
        WITH a
        MATCH (:Order {id: 'O2'})-[l:PAID {tier: 1}]->(a)
        SET l.frozen_by = ['farm:froze', 'farm:elsewhere']
        """
    )
    run_ok(cli_env, "risk", "refresh")
    records, _, _ = graph.execute_query(
        "MATCH (f:RiskFlag) WHERE f.id IN ['farm:froze', 'farm:idle', 'farm:elsewhere']"
        " RETURN f.id AS id, f.stale_since IS NOT NULL AS stale ORDER BY id"
    )
    assert [tuple(r) for r in records] == [("farm:froze", True)]


def test_files_without_identifier_columns_still_load(
    cli_env: dict[str, str], graph: neo4j.Driver, tmp_path: Path
) -> None:
    members = tmp_path / "members.csv"
    members.write_text(
        "member_id,sponsor_id,joined_at,name,payee_account\n"
        f"M1,,{day(1, 1)},One,pay:x\nM2,M1,{day(1, 2)},Two,\n",
        encoding="utf-8",
    )
    run_ok(cli_env, "load", "--members", str(members))
    plain = tmp_path / "plain.csv"
    plain.write_text(f"member_id,sponsor_id,joined_at,name\nM3,M1,{day(1, 3)},Three\n")
    run_ok(cli_env, "load", "--members", str(plain))
    records, _, _ = graph.execute_query(
        "MATCH (m:Member) OPTIONAL MATCH (m)-[:USES]->(i)"
        " RETURN m.id AS id, collect(i.kind + '=' + i.value) AS ids ORDER BY id"
    )
    assert [tuple(r) for r in records] == [
        ("M1", ["payee_account=pay:x"]),
        ("M2", []),
        ("M3", []),
    ]


@pytest.mark.parametrize(
    ("header", "row", "reason"),
    [
        (HEADER, "M2,M1,{j},Two,has space,,", "phone_hash must be 1-128 printable ASCII"),
        (HEADER, "M2,M1,{j},Two,,设备,", "device_id must be 1-128 printable ASCII"),
        (HEADER, "M2,M1,{j},Two,,," + "x" * 129, "payee_account must be at most 128 characters"),
        (
            "member_id,sponsor_id,joined_at,name,phone_hash,phone_hash\n",
            "M2,M1,{j},Two,a,b",
            "members.csv:1: expected the header member_id,sponsor_id,joined_at,name (then any of"
            " phone_hash,device_id,payee_account)",
        ),
    ],
)
def test_a_bad_identifier_is_refused_with_its_line_and_nothing_is_written(
    cli_env: dict[str, str],
    graph: neo4j.Driver,
    tmp_path: Path,
    header: str,
    row: str,
    reason: str,
) -> None:
    members = tmp_path / "members.csv"
    members.write_text(
        header + f"M1,,{day(1, 1)},One,ok,,\n" + row.format(j=day(1, 2)) + "\n", encoding="utf-8"
    )
    done = downline("load", "--members", str(members), env=cli_env)
    assert done.returncode != 0
    text = done.stdout + done.stderr
    assert reason in text
    if "header" not in reason:
        assert f"members.csv:3: {reason}" in text
    records, _, _ = graph.execute_query("MATCH (n) WHERE NOT n:ChangeMark RETURN count(n) AS n")
    assert records[0]["n"] == 0
