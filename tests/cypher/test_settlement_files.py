"""The settlement and reconciliation Cypher files run as the data team runs them."""

from __future__ import annotations

from pathlib import Path

import neo4j
import pytest

from graph.cypherfiles import parameters_of, run_file, split_statements
from tests.cli import ROOT, downline
from tests.graph.netbuild import Ord, at, payouts, seed

SETTLEMENT = sorted((ROOT / "cypher" / "settlement").glob("*.cypher"))
FILES = [*SETTLEMENT, ROOT / "cypher" / "reconcile.cypher"]
LINE = {"A": None, "B": "A", "C": "B", "D": "C"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_file_documents_itself(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    header = text.split("\n\n")[0]
    assert header.startswith("// ")
    assert "cypher-shell -a bolt://" in text
    assert "Output" in text
    for name in set().union(*(parameters_of(s) for s in split_statements(text))):
        assert f"{name} =>" in text, f"{path.name}: ${name} has no example"


def test_the_four_steps_settle_like_cypher_shell(graph: neo4j.Driver, tmp_path: Path) -> None:
    seed(
        graph,
        tmp_path,
        LINE,
        [*(Ord(f"G-{m}", "GIFT_PACKAGE", m, day=0) for m in "ABCD")],
    )
    params = {
        "cutoff": "2026-03-01T00:00:00+08:00",
        "run_id": "run-by-hand",
        "batch": 2,
        "concurrency": 2,
    }
    for step in ("begin", "payouts", "reversals", "finish"):
        run_file(graph, ROOT / "cypher" / "settlement" / f"{step}.cypher", params)
    assert payouts(graph) == {
        "G-B|1|P": ("A", 12_967),
        "G-C|1|P": ("B", 12_967),
        "G-C|2|P": ("A", 7_780),
        "G-D|1|P": ("C", 12_967),
        "G-D|2|P": ("B", 7_780),
        "G-D|3|P": ("A", 5_187),
    }
    records, _, _ = graph.execute_query(
        "MATCH (r:SettlementRun {id: 'run-by-hand'}) OPTIONAL MATCH (l:SettlementLock)"
        " RETURN r.status AS status, r.orders_settled AS orders, count(l) AS locks"
    )
    assert records[0].data() == {"status": "finished", "orders": 4, "locks": 0}


def test_a_second_begin_fails_while_the_lock_is_held(graph: neo4j.Driver, tmp_path: Path) -> None:
    seed(graph, tmp_path, LINE, [])
    begin = ROOT / "cypher" / "settlement" / "begin.cypher"
    run_file(graph, begin, {"cutoff": at(9).isoformat(), "run_id": "one"})
    with pytest.raises(neo4j.exceptions.ConstraintError):
        run_file(graph, begin, {"cutoff": at(9).isoformat(), "run_id": "two"})
    run_file(graph, ROOT / "cypher" / "settlement" / "unlock.cypher", {"run_id": "one"})
    records, _, _ = graph.execute_query(
        "MATCH (r:SettlementRun) OPTIONAL MATCH (l:SettlementLock) RETURN r.id AS id,"
        " r.status AS status, count(l) AS locks"
    )
    assert [r.data() for r in records] == [{"id": "one", "status": "interrupted", "locks": 0}]


def test_settle_and_reconcile_commands(
    graph: neo4j.Driver, cli_env: dict[str, str], tmp_path: Path
) -> None:
    seed(graph, tmp_path, LINE, [*(Ord(f"G-{m}", "GIFT_PACKAGE", m, day=0) for m in "ABCD")])
    no_offset = downline("settle", "--until", "2026-03-01T00:00:00", env=cli_env)
    assert no_offset.returncode == 1
    assert "has no UTC offset" in no_offset.stderr
    done = downline("settle", "--until", "2026-03-01T00:00:00+08:00", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "4 order(s) settled" in done.stdout
    assert "tier 3 GIFT_PACKAGE paid          51.87 (1)" in done.stdout
    again = downline("settle", "--until", "2026-03-01T00:00:00+08:00", env=cli_env)
    assert "nothing to settle" in again.stdout
    clean = downline("reconcile", env=cli_env)
    assert clean.returncode == 0, clean.stdout
    assert "no violation" in clean.stdout
    shell = downline("cypher", "run", "cypher/reconcile.cypher", env=cli_env)
    assert shell.returncode == 0, shell.stderr
    graph.execute_query(
        "MATCH (:Order {id: 'G-D'})-[p:PAID {tier: 2}]->() SET p.amount = p.amount + 1"
    )
    graph.execute_query("MATCH (:Order {id: 'G-D'})-[p:PAID {tier: 3}]->() SET p.tier = 4")
    broken = downline("reconcile", env=cli_env)
    assert broken.returncode == 1
    assert "violation(s): pool 1, tier 1" in broken.stdout
    assert "G-D" in broken.stdout
