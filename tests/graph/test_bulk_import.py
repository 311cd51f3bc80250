"""`downline load` into an empty store through Neo4j's offline importer, against a private server.

The bulk path stops and restarts the server, so these tests run one of their own (never the
session's) and empty it between tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import neo4j
import pytest

from contract.importfiles import (
    KnownMember,
    MemberRow,
    RowError,
    check_members,
    check_orders,
    check_products,
    line_start_near,
)
from downline.demo import plant_risk, write_demo_network
from graph import server
from graph.bulkimport import (
    SECOND_HALF_NUMBERS,
    BulkImportFailed,
    ImportFiles,
    managed_server,
    nobody,
    replace_database,
)
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
  RETURN collect([type(r), coalesce(a.id, a.sku), coalesce(b.id, b.sku, b.kind + ":" + b.value),
                  keys(r)]) AS rels
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


def snapshot(env: dict[str, str]) -> dict[str, list[Any]]:
    with neo4j.GraphDatabase.driver(env["NEO4J_URI"], auth=("neo4j", PASSWORD)) as driver:
        records, _, _ = driver.execute_query(GRAPH)
    nodes = sorted([labels, sorted(props)] for labels, props in records[0]["nodes"])
    return {"nodes": nodes, "rels": sorted(records[0]["rels"])}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small demo network with identity signals (shared ones too), plus names and timestamps
    that test the importer's CSV and types."""
    out = tmp_path_factory.mktemp("demo")
    write_demo_network(out, members=300, seed=11, orders=2_000)
    assert plant_risk(out, seed=11, rate=0.05)
    members = out / "members.csv"
    with members.open("a", encoding="utf-8") as f:
        f.write('X1,,2025-10-01T00:00:00Z,"Comma, ""quoted"" name",,,\n')
        f.write('X2,X1,2025-10-02T08:30:00-05:00,"semi; colon | pipe",,dev-x,\n')
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
    rows = len(demo["members"].read_text(encoding="utf-8").splitlines()) - 1
    assert rows > 302  # the planted farms' recruits
    assert out.splitlines()[-1].startswith(f"loaded {rows:,} members,")
    bulk = snapshot(env)

    assert bulk == through_transactions
    nodes = bulk["nodes"]
    assert len(nodes) > 2_300
    # The importer kept the offsets and the types the transactional path writes.
    order = next(n for n in nodes if ["id", "STRING NOT NULL", "XO1"] in n[1])
    assert ["amount", "INTEGER NOT NULL", "1250"] in order[1]
    assert ["paid_at", "ZONED DATETIME NOT NULL", "2025-10-03T00:00:00.123+01:00"] in order[1]
    assert not any(p[0] == "seller_id" and p[2] == "" for n in nodes for p in n[1])
    # Identity signals: one node per distinct (kind, value), shared by the members that use it.
    identifiers = [n for n in nodes if n[0] == ["Identifier"]]
    uses = [r for r in bulk["rels"] if r[0] == "USES"]
    assert len(identifiers) < len(uses)
    assert ["USES", "X2", "device_id:dev-x", []] in uses


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


def members_and_skus(demo: dict[str, Path]) -> tuple[dict[str, KnownMember], dict[str, int]]:
    errors: list[RowError] = []
    _, known = check_members(demo["members"], nobody, errors)
    skus = {p.sku: p.commission_bp for p in check_products(demo["products"], errors)}
    assert errors == []
    return known, skus


def check_in_halves(
    orders: Path, demo: dict[str, Path], work: Path, *, split: bool
) -> tuple[int, list[RowError], list[str], bytes, bytes, list[str]]:
    """ImportFiles.check_orders, in two halves (``split``) or in one pass: the row count, the
    errors, the files' parts, the orders and SOLD rows written, and the importer's arguments."""
    known, skus = members_and_skus(demo)
    errors: list[RowError] = []
    with ImportFiles(work) as files:
        count = files.check_orders(
            orders, known, skus, errors, split_min_bytes=0 if split else 1 << 62
        )
        args = files.arguments("neo4j", threads=2, off_heap="256m")
        written = [
            b"".join((work / f"{name}{part}.csv").read_bytes() for part in files.order_parts)
            for name in ("orders", "sold")
        ]
        assert (files.orders, files.sold) == (
            written[0].count(b"\n"),
            written[1].count(b"\n"),
        )
        return count, errors, list(files.order_parts), written[0], written[1], args


def by_order_id(orders: bytes, sold: bytes) -> tuple[list[bytes], list[bytes]]:
    """The orders rows without their importer number and the SOLD rows with the order's id in
    place of its number: what two numberings of the same orders have in common. The numbers
    must be distinct, or the importer would take two orders for one."""
    order_rows = [row.split(b",", 1) for row in orders.splitlines()]
    numbers = dict(order_rows)
    assert len(numbers) == len(order_rows)
    order_ids = {number: rest.split(b",", 3)[2] for number, rest in numbers.items()}
    sold_rows = [row.split(b",") for row in sold.splitlines()]
    return [rest for _, rest in order_rows], [
        seller + b"," + order_ids[o] for seller, o in sold_rows
    ]


def test_orders_checked_in_two_halves_write_what_one_pass_writes(
    demo: dict[str, Path], tmp_path: Path
) -> None:
    count, errors, parts, orders, sold, args = check_in_halves(
        demo["orders"], demo, tmp_path / "halves", split=True
    )
    assert parts == ["-1", "-2"]
    assert errors == []
    whole = check_in_halves(demo["orders"], demo, tmp_path / "whole", split=False)
    assert whole[2] == [""]
    assert count == whole[0] == 2_001
    assert by_order_id(orders, sold) == by_order_id(whole[3], whole[4])
    # The second half numbers its orders apart from the first; one pass numbers them in order.
    assert orders.split(b"\n", 1)[0].startswith(b"0,")
    assert any(row.startswith(b"%d," % SECOND_HALF_NUMBERS) for row in orders.splitlines())
    assert [int(row.split(b",", 1)[0]) for row in whole[3].splitlines()] == list(range(2_001))
    halves = tmp_path / "halves"
    order_nodes = next(a for a in args if a.startswith("--nodes=Order="))
    assert order_nodes == (
        f"--nodes=Order={halves / 'orders.header.csv'},{halves / 'orders-1.csv'},"
        f"{halves / 'orders-2.csv'}"
    )
    assert any(a.endswith(f"{halves / 'sold-1.csv'},{halves / 'sold-2.csv'}") for a in args)
    assert "--id-type=integer" in args


def with_lines(source: Path, target: Path, lines: dict[int, str]) -> Path:
    """``source`` with each of ``lines`` put in at its (1-based) line number."""
    rows = source.read_text(encoding="utf-8").splitlines(keepends=True)
    for number in sorted(lines):
        rows.insert(number - 1, lines[number])
    target.write_text("".join(rows), encoding="utf-8")
    return target


def test_bad_rows_in_either_half_are_refused_as_one_pass_refuses_them(
    demo: dict[str, Path], tmp_path: Path
) -> None:
    first = demo["orders"].read_text(encoding="utf-8").splitlines()[1].split(",")[0]
    orders = with_lines(
        demo["orders"],
        tmp_path / "orders.csv",
        {
            5: "BAD1,GIFT_PACKAGE,NOBODY,,GP399,1.00,2026-01-01T00:00:00+08:00,\n",
            1_900: f"{first},RETAIL,M0000001,,SKU00001,1.00,2026-01-01T00:00:00+08:00,\n",
            1_950: "BAD2,RETAIL,M0000001,,SKU00001,-1,2026-01-01T00:00:00+08:00,\n",
        },
    )
    count, errors, parts, _, _, _ = check_in_halves(orders, demo, tmp_path / "w", split=True)
    known, skus = members_and_skus(demo)
    one_pass: list[RowError] = []
    assert count == check_orders(orders, known, nobody, skus, one_pass) == 2_004
    assert [str(e) for e in errors] == [str(e) for e in one_pass]
    assert [str(e) for e in errors] == [
        f"orders.csv:1900: order {first} appears twice",
        "orders.csv:1950: amount must be a positive number of fen, got -1",
        "orders.csv:5: buyer NOBODY does not exist",
    ]
    # The whole file was checked again in one pass, which words the refusal.
    assert parts == [""]


def test_a_quoted_line_break_across_the_split_is_read_as_one_pass_reads_it(
    demo: dict[str, Path], tmp_path: Path
) -> None:
    """A field may hold a line break inside quotes; the second half cannot tell where it starts,
    so a split inside one is caught and the file read again whole."""
    row = 'XQ1,RETAIL,M0000001,,SKU00001,2.00,"2026-01-01T00:00:00+08:00\n",\n'
    rows = demo["orders"].read_text(encoding="utf-8").splitlines(keepends=True)
    orders = tmp_path / "orders.csv"
    for at in range(len(rows) // 3, len(rows)):
        text = "".join([*rows[:at], row, *rows[at:]])
        orders.write_text(text, encoding="utf-8")
        inside = len("".join(rows[:at]).encode()) + row.index("\n") + 1
        if line_start_near(orders, len(text.encode()) // 2) == inside:
            break
    else:
        pytest.fail("no place puts the split inside the quoted field")
    halves = check_in_halves(orders, demo, tmp_path / "halves", split=True)
    whole = check_in_halves(orders, demo, tmp_path / "whole", split=False)
    assert halves[1] == whole[1] == []
    assert halves[2] == [""]
    assert halves[0] == whole[0] == 2_002
    assert (halves[3], halves[4]) == (whole[3], whole[4])
    bp = members_and_skus(demo)[1]["SKU00001"]
    paid = "2026-01-01T00:00:00+08:00"
    assert f"XQ1,RETAIL,M0000001,,SKU00001,200,{bp},{paid},,{paid}\r\n".encode() in halves[3]
