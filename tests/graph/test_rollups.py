"""The rollup batch: numbering, idempotence, and the CLI command."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import neo4j
import pytest

from graph import rollups
from graph.rollups import refresh
from tests.cli import downline
from tests.graph.rollnet import Net
from tests.graph.test_revenue import random_net


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


def test_refresh_waits_for_a_running_settlement(
    cli_env: dict[str, str], graph: neo4j.Driver, tmp_path: Path
) -> None:
    tree().seed(graph, tmp_path)
    graph.execute_query(
        "CREATE (:SettlementLock {id: 'settlement', run_id: 'run-busy', started_at: datetime(),"
        " heartbeat: datetime()})"
    )
    result = downline("rollups", "refresh", env=cli_env)
    assert result.returncode == 1
    assert "nothing was refreshed: settlement run run-busy holds the lock" in " ".join(
        result.stderr.split()
    )
    records, _, _ = graph.execute_query(
        "MATCH (n) WHERE n:LevelMark OR n:RollupState RETURN count(n) AS n"
    )
    assert records[0]["n"] == 0
    assert {pre for pre, _, _, _ in numbering(graph).values()} == {None}


def test_orders_read_in_chunks_give_the_same_rollups(
    graph: neo4j.Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = random_net(3, members=30, orders=150)
    net.seed(graph, tmp_path)
    whole = refresh(graph)
    before = numbering(graph), marks(graph), state(graph)
    # Seven orders per chunk: the paid_at range is cut into ~22 reads, boundaries included.
    monkeypatch.setattr(rollups, "ORDER_CHUNK", 7)
    chunked = refresh(graph)
    assert (chunked.orders, chunked.checkpoints) == (whole.orders, whole.checkpoints)
    assert whole.orders == 150
    assert (numbering(graph), marks(graph), state(graph)) == before


def marks(driver: neo4j.Driver) -> list[tuple[int, int, list[int], list[int], list[int]]]:
    records, _, _ = driver.execute_query(
        "MATCH (c:LevelMark) RETURN c.depth AS d, c.pre AS p, c.gv AS gv, c.n AS n,"
        " c.joined AS j ORDER BY d, p"
    )
    return [(r["d"], r["p"], r["gv"], r["n"], r["j"]) for r in records]


def state(driver: neo4j.Driver) -> dict[str, object]:
    records, _, _ = driver.execute_query("MATCH (s:RollupState) RETURN s {.*} AS s")
    s = dict(records[0]["s"])
    for volatile in ("version", "refreshed_at"):
        s.pop(volatile)
    return s


def test_sums_stay_exact_beyond_float_precision(graph: neo4j.Driver, tmp_path: Path) -> None:
    """Float weights hold integers exactly only up to 2**53 fen (~90 billion yuan)."""
    net = Net()
    net.member("R", None)
    net.member("A", "R", 1)
    net.member("B", "A", 2)
    huge = 99_999_999_999_999
    for i in range(91):
        net.order(f"H{i:02d}", "B", huge, 3 + i / 100)
    net.order("ONE", "A", 1, 3)
    net.order("THREE", "R", 3, 3)
    net.seed(graph, tmp_path)
    refresh(graph)
    total = 91 * huge + 1 + 3
    assert total > 2**53 and float(total) != total
    records, _, _ = graph.execute_query(
        "MATCH (m:Member) RETURN m.id AS id, m.all_gv AS gv, m.all_infl AS infl,"
        " m.infl_num AS num, m.height AS height"
    )
    got = {r["id"]: (r["gv"], r["infl"], int(r["num"]), r["height"]) for r in records}
    # R: 3 + 1/2 + 91·huge/4 over 2^2; A: 1 + 91·huge/2 over 2^1; B: 91·huge.
    assert got == {
        "R": (total, (12 + 2 + 91 * huge) // 4, 12 + 2 + 91 * huge, 2),
        "A": (91 * huge + 1, (2 + 91 * huge) // 2, 2 + 91 * huge, 1),
        "B": (91 * huge, 91 * huge, 91 * huge, 0),
    }
    assert cast("list[int]", state(graph)["gv"])[-1] == total
    level_marks = marks(graph)
    assert [m[2][-1] for m in level_marks] == [3, 1, 91 * huge]
