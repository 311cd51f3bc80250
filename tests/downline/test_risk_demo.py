"""`downline demo-data --risk` plants known cases; detection (graph/risk.py) finds them all and
nothing else on a small demo network: recall and precision per kind."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import neo4j

from contract.settings import Settings
from graph import risk
from tests.cli import downline

MEMBERS = 3_000
SEED = 4


def run_ok(env: dict[str, str], *args: str) -> str:
    done = downline(*args, env=env)
    assert done.returncode == 0, f"downline {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def test_planted_cases_are_found_with_full_recall_and_precision(
    cli_env: dict[str, str], graph: neo4j.Driver, settings: Settings, tmp_path: Path
) -> None:
    out = run_ok(
        cli_env, "demo-data", "--members", str(MEMBERS), "--seed", str(SEED),
        "--orders", "6000", "--out", str(tmp_path), "--risk",
    )  # fmt: skip
    assert "planted 3 self-referrals, 3 farms" in out and "3 depth rings" in out
    with (tmp_path / "risk_planted.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    cases: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in rows:
        cases[(r["case"], r["case_id"])].append(r["member_id"])
    farms = [m for (kind, _), m in cases.items() if kind == "farm"]
    assert all(5 <= len(m) - 1 <= 30 for m in farms)
    run_ok(
        cli_env,
        "load",
        *("--members", str(tmp_path / "members.csv")),
        *("--products", str(tmp_path / "products.csv")),
        *("--orders", str(tmp_path / "orders.csv")),
    )
    assert "risk: " in run_ok(cli_env, "risk", "refresh")
    flags = risk.detect(graph, settings.neo4j_database)

    planted: dict[str, set[str]] = defaultdict(set)
    for (kind, _), members in cases.items():
        planted[kind].update(members)
    # A depth ring's consecutive members are self-referrals too (tier distances 1, 1 and 2).
    expected = {
        "self_referral": planted["self_referral"] | planted["depth_ring"],
        "farm": planted["farm"],
        "depth_ring": planted["depth_ring"],
        "duplicate_accounts": set().union(*planted.values()) - {m[0] for m in farms},
    }
    for kind, want in expected.items():
        found = set().union(*(f.members for f in flags if f.kind == kind))
        hit = len(found & want)
        recall, precision = hit / len(want), hit / max(1, len(found))
        assert (kind, recall, precision) == (kind, 1.0, 1.0), (want - found, found - want)
    # Each planted case is one flag, with its evidence.
    by_members = {(f.kind, f.members): f for f in flags}
    for (kind, _), members in cases.items():
        one = by_members[(kind, tuple(sorted(members)))]
        if kind == "farm":
            assert one.sponsor_id == members[0]
        elif kind == "depth_ring":
            assert (one.chain, one.tier_distance) == (tuple(members), 2)
        else:
            assert one.chain == tuple(members) and 1 <= (one.tier_distance or 0) <= 3
