"""`downline load` into an empty store through Neo4j's offline importer, against a private server.

The bulk path stops and restarts the server, so these tests run one of their own (never the
session's) and empty it between tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest

from contract.importfiles import MemberRow
from downline.demo import write_demo_network
from graph import server
from graph.bulkimport import BulkImportFailed, ImportFiles, managed_server, replace_database
from graph.db import apply_schema, clear
from tests.cli import downline

PASSWORD = "bulk-secret-1"
ORDERS = "order_id,kind,buyer_id,seller_id,sku,amount,paid_at,refunded_at\n"

# Every node with its labels and each property's type and text; every relationship by its ends.
# The change mark (graph/db.py) is left out: it counts writes, so a re-load that writes nothing
# else still moves it, and the offline importer has no reader to tell.
GRAPH = """
CALL () {
  MATCH (n) WHERE NOT n:ChangeMark
  RETURN collect([labels(n), [k IN keys(n) | [k, valueType(n[k]), toString(n[k])]]]) AS nodes
}
CALL () {
  MATCH (a)-[r]->(b)
  RETURN collect([type(r), coalesce(a.id, a.sku), coalesce(b.id, b.sku), keys(r)]) AS rels
}
RETURN nodes, rels
"""


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for a server of this module's own, which the bulk path may stop and start."""
    root = tmp_path_factory.mktemp("bulk-neo4j")
    port = server.free_port()
    paths = server.ServerPaths(root)
    server.start(paths, port=port, password=PASSWORD, heap="512m", pagecache="256m")
    env = {
        **os.environ,
        "NEO4J_URI": f"bolt://127.0.0.1:{port}",
        "NEO4J_PASSWORD": PASSWORD,
        "DOWNLINE_NEO4J_DIR": str(root),
        "DOWNLINE_JWT_SECRET": "test-secret-that-is-long-enough-for-hs256",
    }
    try:
        yield env
    finally:
        server.stop(paths)


@pytest.fixture
def env(own: dict[str, str]) -> Iterator[dict[str, str]]:
    """The private server, empty, with the schema."""
    with neo4j.GraphDatabase.driver(own["NEO4J_URI"], auth=("neo4j", PASSWORD)) as driver:
        clear(driver)
        apply_schema(driver)
    yield own


def snapshot(env: dict[str, str]) -> dict[str, object]:
    with neo4j.GraphDatabase.driver(env["NEO4J_URI"], auth=("neo4j", PASSWORD)) as driver:
        records, _, _ = driver.execute_query(GRAPH)
    nodes = sorted([labels, sorted(props)] for labels, props in records[0]["nodes"])
    return {"nodes": nodes, "rels": sorted(records[0]["rels"])}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small demo network, plus names and timestamps that test the importer's CSV and types."""
    out = tmp_path_factory.mktemp("demo")
    write_demo_network(out, members=300, seed=11, orders=2_000)
    members = out / "members.csv"
    with members.open("a", encoding="utf-8") as f:
        f.write('X1,,2025-10-01T00:00:00Z,"Comma, ""quoted"" name"\n')
        f.write('X2,X1,2025-10-02T08:30:00-05:00,"semi; colon | pipe"\n')
    with (out / "orders.csv").open("a", encoding="utf-8") as f:
        f.write(
            "XO1,RETAIL,X2,X1,SKU00001,12.5,2025-10-03T00:00:00.123+01:00,2025-10-04T00:00:00Z\n"
        )
    return {name: out / f"{name}.csv" for name in ("members", "products", "orders")}


def load(env: dict[str, str], *flags: str, **files: Path) -> tuple[int, str, str]:
    args = [arg for name, path in files.items() for arg in (f"--{name}", str(path))]
    result = downline("load", *flags, *args, env=env)
    return result.returncode, result.stdout, result.stderr


def test_bulk_and_transactional_paths_write_the_same_graph(
    env: dict[str, str], demo: dict[str, Path]
) -> None:
    code, out, err = load(env, "--transactional", **demo)
    assert code == 0, err
    assert "path: transactional" in out
    through_transactions = snapshot(env)

    with neo4j.GraphDatabase.driver(env["NEO4J_URI"], auth=("neo4j", PASSWORD)) as driver:
        clear(driver)
    code, out, err = load(env, "--bulk", **demo)
    assert code == 0, err
    assert "path: bulk import" in out
    assert out.splitlines()[-1].startswith("loaded 302 members,")
    bulk = snapshot(env)

    assert bulk == through_transactions
    nodes = bulk["nodes"]
    assert isinstance(nodes, list)
    assert len(nodes) > 2_300
    # The importer kept the offsets and the types the transactional path writes.
    order = next(n for n in nodes if ["id", "STRING NOT NULL", "XO1"] in n[1])
    assert ["amount", "INTEGER NOT NULL", "1250"] in order[1]
    assert ["paid_at", "ZONED DATETIME NOT NULL", "2025-10-03T00:00:00.123+01:00"] in order[1]
    assert not any(p[0] == "seller_id" and p[2] == "" for n in nodes for p in n[1])


def test_the_bulk_path_builds_the_schema_and_restarts_the_same_server(
    env: dict[str, str], demo: dict[str, Path]
) -> None:
    code, _, err = load(env, "--bulk", **demo)
    assert code == 0, err
    with neo4j.GraphDatabase.driver(env["NEO4J_URI"], auth=("neo4j", PASSWORD)) as driver:
        records, _, _ = driver.execute_query("SHOW INDEXES YIELD name, state RETURN name, state")
    states = {r["name"]: r["state"] for r in records}
    assert {"member_id", "order_id", "product_sku", "order_paid_at"} <= set(states)
    assert set(states.values()) == {"ONLINE"}
    target = managed_server(
        Path(env["DOWNLINE_NEO4J_DIR"]),
        host="127.0.0.1",
        port=int(env["NEO4J_URI"].rsplit(":", 1)[1]),
        password=PASSWORD,
    )
    assert target is not None
    assert not (target.paths.root / "bulk-import").exists()


def test_a_bad_row_writes_nothing_and_says_the_same_on_both_paths(
    env: dict[str, str], demo: dict[str, Path], tmp_path: Path
) -> None:
    orders = tmp_path / "orders.csv"
    lines = demo["orders"].read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(3, "BAD1,GIFT_PACKAGE,NOBODY,,GP399,1.00,2026-01-01T00:00:00+08:00,\n")
    orders.write_text("".join(lines), encoding="utf-8")
    files = {**demo, "orders": orders}

    code, _, bulk_err = load(env, "--bulk", **files)
    assert code == 1
    assert "orders.csv:4: buyer NOBODY does not exist" in bulk_err
    assert snapshot(env) == {"nodes": [], "rels": []}
    code, _, transactional_err = load(env, "--transactional", **files)
    assert code == 1

    def reported(err: str) -> list[str]:
        return [line for line in err.splitlines() if ".csv:" in line or "error:" in line]

    assert reported(bulk_err) == reported(transactional_err)
    assert len(reported(bulk_err)) == 2
    assert snapshot(env) == {"nodes": [], "rels": []}


def test_loading_again_after_a_bulk_load_changes_nothing(
    env: dict[str, str], demo: dict[str, Path]
) -> None:
    code, out, err = load(env, "--bulk", **demo)
    assert code == 0, err
    assert "path: bulk import" in out
    before = snapshot(env)
    code, out, err = load(env, "--bulk", **demo)
    assert code == 0, err
    assert "path: transactional" in out
    assert "; 0 nodes and relationships created" in out
    assert snapshot(env) == before


def test_a_store_that_holds_anything_takes_the_transactional_path(
    env: dict[str, str], demo: dict[str, Path]
) -> None:
    code, out, err = load(env, "--transactional", members=demo["members"])
    assert code == 0, err
    code, out, err = load(env, "--bulk", products=demo["products"], orders=demo["orders"])
    assert code == 0, err
    assert "path: transactional" in out
    with neo4j.GraphDatabase.driver(env["NEO4J_URI"], auth=("neo4j", PASSWORD)) as driver:
        records, _, _ = driver.execute_query("MATCH (o:Order) RETURN count(o) AS n")
    assert records[0]["n"] == 2_001


def test_small_files_go_through_transactions_without_bulk(
    env: dict[str, str], demo: dict[str, Path]
) -> None:
    code, out, err = load(env, **demo)
    assert code == 0, err
    assert "path: transactional" in out


def test_a_failed_import_leaves_the_store_as_it_was(env: dict[str, str], tmp_path: Path) -> None:
    with neo4j.GraphDatabase.driver(env["NEO4J_URI"], auth=("neo4j", PASSWORD)) as driver:
        driver.execute_query("CREATE (:Member {id: 'KEEP', name: 'before'})")
    before = snapshot(env)
    target = managed_server(
        Path(env["DOWNLINE_NEO4J_DIR"]),
        host="127.0.0.1",
        port=int(env["NEO4J_URI"].rsplit(":", 1)[1]),
        password=PASSWORD,
    )
    assert target is not None
    with ImportFiles(tmp_path / "work") as files:
        # A sponsor that is in no file: the importer refuses the relationship and stops.
        files.write_nodes([MemberRow("A", "MISSING", "2026-01-01T00:00:00+08:00", "a")], [])
        with pytest.raises(BulkImportFailed, match="exited with"):
            replace_database(target, files, database="neo4j")
    assert snapshot(env) == before
    assert server.running_port(target.paths) == target.launch.port
