"""`downline load`: the data team's CSV contract, checked whole before anything is written."""

from __future__ import annotations

from pathlib import Path

import neo4j
import pytest

from tests.cli import downline

DATA = Path(__file__).resolve().parent.parent / "data"
MEMBERS = "member_id,sponsor_id,joined_at,name\n"
PRODUCTS = "sku,name,price,commission_bp\n"
ORDERS = "order_id,kind,buyer_id,seller_id,sku,amount,paid_at,refunded_at\n"


def snapshot(driver: neo4j.Driver) -> dict[str, object]:
    records, _, _ = driver.execute_query(
        """
        CALL () { MATCH (n) RETURN count(n) AS nodes }
        CALL () { MATCH ()-[r]->() RETURN count(r) AS rels }
        CALL () { MATCH (m:Member) OPTIONAL MATCH (m)-[:SPONSORED_BY]->(s)
                  RETURN collect([m.id, s.id, toString(m.joined_at), m.name]) AS members }
        CALL () { MATCH (o:Order) RETURN collect(properties(o)) AS orders }
        RETURN nodes, rels, members, orders
        """
    )
    return records[0].data()


def load(env: dict[str, str], **files: Path) -> tuple[int, str, str]:
    args = [arg for name, path in files.items() for arg in (f"--{name}", str(path))]
    result = downline("load", *args, env=env)
    return result.returncode, result.stdout, result.stderr


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_writes_the_network(cli_env: dict[str, str], graph: neo4j.Driver) -> None:
    code, out, err = load(
        cli_env,
        members=DATA / "members.csv",
        products=DATA / "products.csv",
        orders=DATA / "orders.csv",
    )
    assert code == 0, err
    assert "loaded 4 members, 2 products, 3 orders" in out
    records, _, _ = graph.execute_query(
        "MATCH (m:Member)-[:SPONSORED_BY]->(s) RETURN m.id AS m, s.id AS s ORDER BY m"
    )
    # M4's sponsor M2 comes after M4 in the file.
    assert [(r["m"], r["s"]) for r in records] == [("M2", "M1"), ("M3", "M1"), ("M4", "M2")]
    records, _, _ = graph.execute_query(
        "MATCH (o:Order {id: 'O3'}) RETURN o.amount AS amount, o.commission_bp AS bp,"
        " o.refunded_at IS NOT NULL AS refunded, o.paid_at.offset AS offset"
    )
    assert records[0].data() == {"amount": 10_000, "bp": 1500, "refunded": True, "offset": "+08:00"}
    records, _, _ = graph.execute_query(
        "MATCH (:Member {id: 'M2'})-[:SOLD]->(o:Order)<-[:BOUGHT]-(b) RETURN o.id, b.id"
    )
    assert [tuple(r) for r in records] == [("O2", "M4")]


def test_loading_the_same_files_again_changes_nothing(
    cli_env: dict[str, str], graph: neo4j.Driver
) -> None:
    files = {"members": DATA / "members.csv", "products": DATA / "products.csv"}
    files["orders"] = DATA / "orders.csv"
    assert load(cli_env, **files)[0] == 0
    before = snapshot(graph)
    code, out, _ = load(cli_env, **files)
    assert code == 0
    assert "0 nodes and relationships created" in out
    assert snapshot(graph) == before


def test_a_later_file_adds_refunds_and_orders_of_stored_members(
    cli_env: dict[str, str], graph: neo4j.Driver, tmp_path: Path
) -> None:
    assert load(cli_env, members=DATA / "members.csv", products=DATA / "products.csv")[0] == 0
    orders = write(
        tmp_path,
        "orders.csv",
        ORDERS
        + "O1,GIFT_PACKAGE,M2,,GP399,399.00,2026-01-05T10:00:00+08:00,\n"
        + "O2,RETAIL,M4,M2,SKU1,100.00,2026-01-06T10:00:00+08:00,\n",
    )
    assert load(cli_env, orders=orders)[0] == 0
    refunded = write(
        tmp_path,
        "orders2.csv",
        ORDERS + "O2,RETAIL,M4,M2,SKU1,100.00,2026-01-06T10:00:00+08:00,2026-01-07T00:00:00Z\n",
    )
    code, _, err = load(cli_env, orders=refunded)
    assert code == 0, err
    records, _, _ = graph.execute_query(
        "MATCH (o:Order) RETURN o.id AS id, toString(o.refunded_at) AS refunded ORDER BY id"
    )
    assert [tuple(r) for r in records] == [("O1", None), ("O2", "2026-01-07T00:00:00Z")]


BAD_MEMBERS = (
    MEMBERS
    + "M1,,2026-01-01T09:00:00+08:00,张三\n"  # line 2: fine
    + "M2,M1,2026-01-02T09:00:00,李四\n"  # line 3: no offset
    + "M1,,2026-01-01T09:00:00+08:00,重复\n"  # line 4: duplicate
    + "M5,M5,2026-01-02T09:00:00+08:00,自己\n"  # line 5: self-sponsor
    + "M6,M404,2026-01-02T09:00:00+08:00,孤儿\n"  # line 6: unknown sponsor
    + "M7,M8,2026-01-02T09:00:00+08:00,甲\n"  # line 7: cycle with line 8
    + "M8,M7,2026-01-02T09:00:00+08:00,乙\n"  # line 8
    + "M9,M1,2025-12-01T09:00:00+08:00,早\n"  # line 9: joins before its sponsor
    + "M10,M1\n"  # line 10: too few fields
)
BAD_PRODUCTS = (
    PRODUCTS
    + "SKU1,洗发水,100.00,1500\n"
    + "SKU2,面霜,12.345,1500\n"  # line 3: three decimals
    + "SKU3,口红,-5,1500\n"  # line 4: negative price
    + "SKU4,眼霜,50.00,12000\n"  # line 5: bp above 10000
)
BAD_ORDERS = (
    ORDERS
    + "O1,RETAIL,M1,,SKU1,100.00,2026-01-05T10:00:00+08:00,\n"  # line 2: fine
    + "O2,REBATE,M1,,SKU1,100.00,2026-01-05T10:00:00+08:00,\n"  # line 3: kind
    + "O3,RETAIL,M404,,SKU1,100.00,2026-01-05T10:00:00+08:00,\n"  # line 4: buyer
    + "O4,RETAIL,M1,,NOPE,100.00,2026-01-05T10:00:00+08:00,\n"  # line 5: product
    + "O5,RETAIL,M1,,SKU1,0,2026-01-05T10:00:00+08:00,\n"  # line 6: zero amount
    + "O6,RETAIL,M1,,SKU1,1.5e2,2026-01-05T10:00:00+08:00,\n"  # line 7: not yuan
    + "O7,RETAIL,M1,,SKU1,100.00,2025-12-05T10:00:00+08:00,\n"  # line 8: before buyer joined
    + "O8,RETAIL,M1,,SKU1,100.00,2026-01-05T10:00:00+08:00,2026-01-04T10:00:00+08:00\n"  # 9
    + "O1,RETAIL,M1,,SKU1,100.00,2026-01-05T10:00:00+08:00,\n"  # line 10: duplicate
    + "O9,RETAIL,M1,M404,SKU1,100.00,2026-01-05T10:00:00+08:00,\n"  # line 11: seller
)


def test_bad_rows_are_each_reported_and_nothing_is_written(
    cli_env: dict[str, str], graph: neo4j.Driver, tmp_path: Path
) -> None:
    code, _, err = load(
        cli_env,
        members=write(tmp_path, "members.csv", BAD_MEMBERS),
        products=write(tmp_path, "products.csv", BAD_PRODUCTS),
        orders=write(tmp_path, "orders.csv", BAD_ORDERS),
    )
    assert code != 0
    expected = [
        "members.csv:3: joined_at: '2026-01-02T09:00:00' has no UTC offset",
        "members.csv:4: member M1 appears twice (first on line 2)",
        "members.csv:5: member M5 cannot sponsor itself",
        "members.csv:6: sponsor M404 does not exist",
        "members.csv:7: member M7 is in a sponsor cycle",
        "members.csv:8: member M8 is in a sponsor cycle",
        "members.csv:9: member M9 joins before its sponsor M1",
        "members.csv:10: expected 4 fields, got 2",
        "products.csv:3: price: '12.345' is not an amount in yuan with at most 2 decimals",
        "products.csv:4: price must be positive, got -5",
        "products.csv:5: commission_bp: 12000 bp is above 10000 (100%)",
        "orders.csv:3: kind must be RETAIL or GIFT_PACKAGE, got 'REBATE'",
        "orders.csv:4: buyer M404 does not exist",
        "orders.csv:5: product NOPE does not exist",
        "orders.csv:6: amount must be a positive number of fen, got 0",
        "orders.csv:7: amount: '1.5e2' is not an amount in yuan with at most 2 decimals",
        "orders.csv:8: order O7 is paid before its buyer M1 joined",
        "orders.csv:9: order O8 is refunded before it was paid",
        "orders.csv:10: order O1 appears twice",
        "orders.csv:11: seller M404 does not exist",
    ]
    for line in expected:
        assert line in err
    assert "nothing was written" in err
    assert snapshot(graph)["nodes"] == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("member_id,sponsor,joined_at,name\n", "members.csv:1: expected the header"),
        ("", "members.csv:1: the file is empty"),
    ],
)
def test_a_wrong_header_is_refused(
    cli_env: dict[str, str], graph: neo4j.Driver, tmp_path: Path, text: str, message: str
) -> None:
    code, _, err = load(cli_env, members=write(tmp_path, "members.csv", text))
    assert code != 0
    assert message in err
    assert snapshot(graph)["nodes"] == 0


def test_a_changed_sponsor_is_refused_as_not_a_load(
    cli_env: dict[str, str], graph: neo4j.Driver, tmp_path: Path
) -> None:
    assert load(cli_env, members=DATA / "members.csv")[0] == 0
    before = snapshot(graph)
    moved = write(tmp_path, "members.csv", MEMBERS + "M4,M3,2026-01-04T09:00:00+08:00,赵六\n")
    code, _, err = load(cli_env, members=moved)
    assert code != 0
    assert "members.csv:2: member M4 already exists with sponsor M2" in err
    assert snapshot(graph) == before


def test_load_without_files_is_refused(cli_env: dict[str, str]) -> None:
    result = downline("load", env=cli_env)
    assert result.returncode != 0
    assert "give at least one of --members, --products, --orders" in result.stderr


def test_load_refuses_amounts_above_the_configured_maximum(
    cli_env: dict[str, str], graph: neo4j.Driver
) -> None:
    before = snapshot(graph)
    code, _, err = load(
        {**cli_env, "DOWNLINE_MAX_ORDER_AMOUNT": "200.00"},
        members=DATA / "members.csv",
        products=DATA / "products.csv",
        orders=DATA / "orders.csv",
    )
    assert code != 0
    assert "orders.csv:2: amount must be at most 200.00 yuan, got 399.00" in err
    assert snapshot(graph) == before
