"""The rollup batch: numbering, idempotence, and the CLI command."""

from __future__ import annotations

from pathlib import Path

import neo4j

from graph.rollups import refresh
from tests.cli import downline
from tests.graph.rollnet import Net


def tree() -> Net:
    net = Net()
    net.member("R", None)
    net.member("A", "R", 1)
    net.member("B", "R", 2)
    net.member("C", "A", 3)
    net.member("S", None, 4)
    net.order("O1", "C", 100, 5)
    return net


def numbering(driver: neo4j.Driver) -> dict[str, tuple[int, int, int, int]]:
    records, _, _ = driver.execute_query(
        "MATCH (m:Member) RETURN m.id AS id, m.pre AS pre, m.last AS last, m.depth AS depth,"
        " m.all_gv AS gv"
    )
    return {r["id"]: (r["pre"], r["last"], r["depth"], r["gv"]) for r in records}


def test_pre_order_intervals(graph: neo4j.Driver, tmp_path: Path) -> None:
    tree().seed(graph, tmp_path)
    report = refresh(graph)
    assert (report.members, report.orders) == (5, 1)
    # Children in joining order: R(0) A(1) C(2) B(3), then the second root S(4).
    assert numbering(graph) == {
        "R": (0, 3, 0, 100),
        "A": (1, 2, 1, 100),
        "C": (2, 2, 2, 100),
        "B": (3, 3, 1, 0),
        "S": (4, 4, 0, 0),
    }
    records, _, _ = graph.execute_query(
        "MATCH (m:Member {id: 'R'}) RETURN m.all_size AS size, m.all_recruits AS recruits"
    )
    assert (records[0]["size"], records[0]["recruits"]) == (3, 2)


def test_refresh_twice_keeps_one_set_of_checkpoints(graph: neo4j.Driver, tmp_path: Path) -> None:
    tree().seed(graph, tmp_path)
    first = refresh(graph)
    second = refresh(graph)
    records, _, _ = graph.execute_query("MATCH (c:LevelMark) RETURN count(c) AS n")
    assert records[0]["n"] == second.checkpoints == first.checkpoints


def test_cli_refresh(cli_env: dict[str, str], graph: neo4j.Driver, tmp_path: Path) -> None:
    tree().seed(graph, tmp_path)
    result = downline("rollups", "refresh", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "5 members, 1 orders" in result.stdout
    assert numbering(graph)["C"] == (2, 2, 2, 100)
