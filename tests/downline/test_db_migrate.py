"""`downline db migrate` (issue 12) on a store the old ledger wrote by hand: :Payout nodes with
their indexes, a refund's reversal, a frozen payout, a risk decision's reversal and a payout an
old batch linked. The lines become exactly the relationships the new ledger writes, nothing is
paid twice, a second run does nothing, a settlement's lock refuses it, an interrupted run
finishes the job, and cypher-shell runs the file as its header says."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import neo4j
import pytest

from contract.settings import Settings
from graph import cyphershell
from graph.cypherfiles import split_statements
from graph.db import apply_schema, clear
from graph.migrate import LEDGER_FILE, migrate, unmigrated
from graph.runlock import HOST
from tests.cli import ROOT, downline
from tests.cypher.test_cypher_shell import command_of, cypher_shell, shell_blocks, shell_params
from tests.plans import assert_shape, explain

CST = timezone(timedelta(hours=8))
PAID_AT = datetime(2026, 3, 1, 10, 0, tzinfo=CST)
DECIDED_AT = datetime(2026, 4, 2, 9, 30, tzinfo=CST)
OLD_INDEXES = ("payout_key", "payout_member_id", "payout_run_id", "payout_paid_at")

OLD_SCHEMA = [
    "CREATE CONSTRAINT payout_key IF NOT EXISTS FOR (p:Payout) REQUIRE p.key IS UNIQUE",
    "CREATE INDEX payout_member_id IF NOT EXISTS FOR (p:Payout) ON (p.member_id)",
    "CREATE INDEX payout_run_id IF NOT EXISTS FOR (p:Payout) ON (p.run_id)",
    "CREATE INDEX payout_paid_at IF NOT EXISTS FOR (p:Payout) ON (p.paid_at)",
    "CALL db.awaitIndexes(300)",
]

# (order, kind, settled_run, reversed_run); O3 was refunded after it settled.
ORDERS = [
    ("O1", "RETAIL", "run-1", None),
    ("O2", "GIFT_PACKAGE", "run-1", None),
    ("O3", "RETAIL", "run-1", "run-2"),
    ("O4", "RETAIL", "run-2", None),
]
# The old ledger: (order, tier, member, amount, reversal, run_id, extra properties, labels).
PAYOUTS: list[tuple[str, int, str, int, bool, str, dict[str, Any], str]] = [
    ("O1", 1, "M1", 1000, False, "run-1", {}, ""),
    ("O1", 2, "M2", 100, False, "run-1", {}, ""),
    ("O2", 1, "M2", 5000, False, "run-1", {"frozen_by": ["flag-1"]}, ""),
    ("O3", 1, "M1", 800, False, "run-1", {}, ""),
    ("O3", 1, "M1", -800, True, "run-2", {}, ""),
    ("O4", 1, "M3", 300, False, "run-2", {"frozen_by": ["flag-2"]}, ""),
    ("O4", 1, "M3", -300, True, "risk-abc", {"flag_id": "flag-2", "at": DECIDED_AT},
     ":RiskReversal"),
]  # fmt: skip
# What the new ledger holds for them: (order, type, member, properties).
EXPECTED = [
    ("O1", "PAID", "M1", {"tier": 1, "amount": 1000}),
    ("O1", "PAID", "M2", {"tier": 2, "amount": 100}),
    ("O2", "PAID", "M2", {"tier": 1, "amount": 5000, "frozen_by": ["flag-1"]}),
    ("O3", "PAID", "M1", {"tier": 1, "amount": 800}),
    ("O3", "REVERSED", "M1", {"tier": 1, "amount": -800}),
    ("O4", "PAID", "M3", {"tier": 1, "amount": 300, "frozen_by": ["flag-2"]}),
    ("O4", "REVERSED", "M3", {"tier": 1, "amount": -300, "decision_id": "risk-abc",
                              "flag_id": "flag-2", "at": DECIDED_AT}),
]  # fmt: skip
REPORT = (
    "migrated the ledger: 5 payout(s) 72.00 moved to PAID lines (2 of them frozen); 2"
    " reversal(s) -11.00 moved to REVERSED lines (1 of them a risk decision's); 1 old batch"
    " link(s) turned into payments; 4 Payout index(es) and constraint(s) dropped"
)
NOTHING = "nothing to do: the ledger is already migrated (no :Payout nodes to move)"


def old_store(driver: neo4j.Driver, *, blocked: str | None = None) -> None:
    """The store as the old ledger left it; ``blocked``: a payout key that something still
    links to, which the migration must not delete."""
    for statement in OLD_SCHEMA:
        driver.execute_query(statement)
    driver.execute_query(
        "UNWIND ['M1', 'M2', 'M3'] AS id CREATE (:Member {id: id, name: id, joined_at: $at})",
        at=PAID_AT - timedelta(days=30),
    )
    driver.execute_query(
        "UNWIND $orders AS o"
        " CREATE (n:Order {id: o[0], kind: o[1], amount: 10000, paid_at: $at, settled_run: o[2],"
        "                  reversed_run: o[3], plan_id: 'default', pool: 8000, retained: 0})"
        " SET n.refunded_at = CASE WHEN o[3] IS NOT NULL THEN $refunded END",
        orders=[list(o) for o in ORDERS],
        at=PAID_AT,
        refunded=PAID_AT + timedelta(days=20),
    )
    kinds = {o[0]: o[1] for o in ORDERS}
    for order, tier, member, amount, reversal, run_id, extra, labels in PAYOUTS:
        key = f"{order}|{tier}|{'R' if reversal else 'P'}"
        props: dict[str, Any] = {
            "key": key,
            "order_id": order,
            "member_id": member,
            "tier": tier,
            "kind": kinds[order],
            "amount": amount,
            "reversal": reversal,
            "run_id": run_id,
            "paid_at": PAID_AT,
            **extra,
        }
        if reversal:
            props["reverses"] = f"{order}|{tier}|P"
        driver.execute_query(f"CREATE (p:Payout{labels}) SET p = $props", props=props)
    # A batch opened before payments existed paid O1's first tier by linking it.
    driver.execute_query(
        "MATCH (p:Payout {key: 'O1|1|P'})"
        " CREATE (:PayoutBatch {id: 'B1', created_at: $at, minimum: 0, members: 1, total: 1000})"
        "        -[:PAYS]->(p)",
        at=PAID_AT + timedelta(days=10),
    )
    if blocked is not None:
        driver.execute_query(
            "MATCH (p:Payout {key: $key}) CREATE (:Blocker)-[:HOLDS]->(p)", key=blocked
        )


def lines(driver: neo4j.Driver) -> list[tuple[str, str, str, dict[str, Any]]]:
    records, _, _ = driver.execute_query(
        "MATCH (o)-[l]->(m) WHERE type(l) IN ['PAID', 'REVERSED']"
        " RETURN o.id AS o, type(l) AS t, m.id AS m, properties(l) AS p"
    )
    found = [(r["o"], r["t"], r["m"], native(r["p"])) for r in records]
    return sorted(found, key=lambda x: (x[0], x[1] != "PAID", x[2]))


def native(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v.to_native() if hasattr(v, "to_native") else v for k, v in props.items()}


def payout_keys(driver: neo4j.Driver) -> set[str]:
    records, _, _ = driver.execute_query("MATCH (p:Payout) RETURN p.key AS key")
    return {r["key"] for r in records}


def schema_names(driver: neo4j.Driver) -> set[str]:
    records, _, _ = driver.execute_query("SHOW INDEXES YIELD name RETURN name")
    constraints, _, _ = driver.execute_query("SHOW CONSTRAINTS YIELD name RETURN name")
    return {r["name"] for r in [*records, *constraints]}


def state(driver: neo4j.Driver) -> tuple[list[str], list[str], set[str]]:
    """Every node and relationship with its properties, and the schema's names."""
    nodes, _, _ = driver.execute_query("MATCH (n) RETURN labels(n) AS l, properties(n) AS p")
    rels, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN labels(a) AS la, properties(a) AS pa, type(r) AS t,"
        " properties(r) AS p, labels(b) AS lb, properties(b) AS pb"
    )

    def node(labels: list[str], props: dict[str, Any]) -> str:
        return repr((sorted(labels), sorted(props.items())))

    return (
        sorted(node(r["l"], r["p"]) for r in nodes),
        sorted(
            repr((node(r["la"], r["pa"]), r["t"], sorted(r["p"].items()), node(r["lb"], r["pb"])))
            for r in rels
        ),
        schema_names(driver),
    )


def balances(driver: neo4j.Driver, query: str) -> dict[str, int]:
    records, _, _ = driver.execute_query(query)
    return {r["member"]: r["balance"] for r in records}


OLD_BALANCES = "MATCH (p:Payout) RETURN p.member_id AS member, sum(p.amount) AS balance"
NEW_BALANCES = "MATCH (o)-[l:PAID|REVERSED]->(m) RETURN m.id AS member, sum(l.amount) AS balance"


@pytest.fixture(autouse=True)
def no_old_indexes_after(session_driver: neo4j.Driver) -> Iterator[None]:
    """The old ledger's indexes do not outlive a test that made them."""
    yield
    for statement in split_statements(LEDGER_FILE.read_text(encoding="utf-8")):
        if statement.startswith("DROP "):
            session_driver.execute_query(statement)


@pytest.fixture
def old(graph: neo4j.Driver) -> neo4j.Driver:
    old_store(graph)
    return graph


def test_migrate_moves_every_line_to_the_new_ledger(
    old: neo4j.Driver, cli_env: dict[str, str]
) -> None:
    before = balances(old, OLD_BALANCES)
    assert before == {"M1": 1000, "M2": 5100, "M3": 0}
    assert set(OLD_INDEXES) <= schema_names(old)
    done = downline("db", "migrate", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == REPORT
    assert "applying the schema" in done.stderr
    assert lines(old) == EXPECTED
    assert payout_keys(old) == set() and unmigrated(old) == 0
    assert set(OLD_INDEXES).isdisjoint(schema_names(old))
    assert balances(old, NEW_BALANCES) == before
    # What batch B1 paid is a payment now, so no later batch pays it again.
    records, _, _ = old.execute_query(
        "MATCH (b:PayoutBatch)-[:PAYS]->(x) RETURN b.id AS b, labels(x) AS l, properties(x) AS p"
    )
    assert [(r["b"], r["l"], native(r["p"])) for r in records] == [
        (
            "B1",
            ["Payment"],
            {
                "key": "B1|M1",
                "member_id": "M1",
                "amount": 1000,
                "batch_id": "B1",
                "at": PAID_AT + timedelta(days=10),
            },
        )
    ]


def test_a_second_run_finds_nothing_to_do(old: neo4j.Driver, cli_env: dict[str, str]) -> None:
    assert downline("db", "migrate", env=cli_env).returncode == 0
    migrated = state(old)
    again = downline("db", "migrate", env=cli_env)
    assert (again.returncode, again.stdout.strip()) == (0, NOTHING), again.stderr
    assert state(old) == migrated


def dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return int(child.stdout)


@pytest.mark.parametrize("holder", ["live", "dead"])
def test_refused_while_a_settlement_holds_the_lock(
    old: neo4j.Driver, cli_env: dict[str, str], holder: str
) -> None:
    # A live holder: one that did not say who it is (cypher-shell), never taken for dead.
    pid = dead_pid() if holder == "dead" else None
    old.execute_query(
        "CREATE (:SettlementLock {id: 'settlement', run_id: 'run-held', started_at: datetime(),"
        " heartbeat: datetime(), holder_host: $host, holder_pid: $pid})",
        host=HOST if pid else None,
        pid=pid,
    )
    before = state(old)
    done = downline("db", "migrate", env=cli_env)
    assert done.returncode == 1 and done.stdout == ""
    message = " ".join(done.stderr.split())
    assert message.startswith("error: ") and "nothing was migrated" in message
    assert "run-held" in message
    if holder == "dead":
        assert "died holding the lock" in message and "downline settle --until" in message
    else:
        assert "holds the lock" in message and "wait for it to finish" in message
    assert state(old) == before


@pytest.mark.parametrize("blocked", ["O2|1|P", "O3|1|R"])
def test_an_interrupted_migration_run_again_ends_as_an_uninterrupted_one(
    graph: neo4j.Driver, cli_env: dict[str, str], settings: Settings, blocked: str
) -> None:
    old_store(graph)
    assert downline("db", "migrate", env=cli_env).returncode == 0
    uninterrupted = state(graph)

    clear(graph, settings.neo4j_database)
    old_store(graph, blocked=blocked)
    # One payout per transaction; the blocked one fails its transaction and stops the run.
    stopped = downline("db", "migrate", "--batch", "1", env=cli_env)
    assert stopped.returncode == 1 and stopped.stdout == ""
    assert "Neo4j stopped the migration" in stopped.stderr, stopped.stderr
    message = " ".join(stopped.stderr.split())
    assert "run 'downline db migrate' again" in message and "MATCH (p:Payout)-[r]-(x)" in message
    left = payout_keys(graph)
    assert blocked in left
    # Every line is either still a node or already a relationship: never both, never neither.
    moved = {f"{o}|{p['tier']}|{'P' if t == 'PAID' else 'R'}" for o, t, _, p in lines(graph)}
    every = {f"{o}|{tier}|{'R' if rev else 'P'}" for o, tier, _, _, rev, *_ in PAYOUTS}
    assert moved.isdisjoint(left) and moved | left == every
    assert moved, "the transactions before the failing one committed"
    # The payouts move before the reversals: no REVERSED line is ever without its PAID line.
    assert {k[:-1] + "P" for k in moved if k.endswith("|R")} <= moved
    if blocked.endswith("|P"):
        assert all(k.endswith("|P") for k in moved)
    assert [line for line in EXPECTED if line in lines(graph)] == lines(graph)

    graph.execute_query("MATCH (b:Blocker) DETACH DELETE b")
    finished = downline("db", "migrate", "--batch", "1", env=cli_env)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("migrated the ledger: ")
    assert state(graph) == uninterrupted


def test_a_rerun_after_a_kill_between_create_and_delete_writes_no_line_twice(
    old: neo4j.Driver, settings: Settings
) -> None:
    """A line already written for a payout that is still there (a store half moved by hand):
    the payout goes, its line is not written again."""
    old.execute_query(
        "MATCH (o:Order {id: 'O1'}), (m:Member {id: 'M1'})"
        " CREATE (o)-[:PAID {tier: 1, amount: 1000}]->(m)"
    )
    said: list[str] = []
    report = migrate(old, settings.neo4j_database, said.append, batch=2)
    assert (report.payouts, report.reversals, report.already, report.left) == (4, 2, 1, 0)
    assert (report.paid, report.reversed, report.indexes_dropped) == (6200, -1100, 4)
    assert lines(old) == EXPECTED
    assert said[0].startswith("applying the schema")


def test_a_payout_without_its_order_is_left_and_named(
    old: neo4j.Driver, cli_env: dict[str, str]
) -> None:
    old.execute_query(
        "CREATE (:Payout {key: 'O9|1|P', order_id: 'O9', member_id: 'M1', tier: 1, amount: 5,"
        " reversal: false, run_id: 'run-1', paid_at: $at})",
        at=PAID_AT,
    )
    done = downline("db", "migrate", env=cli_env)
    assert done.returncode == 1
    assert done.stdout.strip() == REPORT
    message = " ".join(done.stderr.split())
    assert "1 :Payout node(s) were not moved" in message and "O9|1|P" in message
    assert lines(old) == EXPECTED and payout_keys(old) == {"O9|1|P"}
    again = downline("db", "migrate", env=cli_env)
    assert again.returncode == 1
    assert again.stdout.strip() == "nothing moved: no :Payout node left could be"
    assert "O9|1|P" in again.stderr


def test_the_migration_finds_orders_and_members_by_their_unique_ids(
    graph: neo4j.Driver, settings: Settings
) -> None:
    statements = split_statements(LEDGER_FILE.read_text(encoding="utf-8"))[:2]
    for statement in statements:
        plan = explain(graph, statement, {"batch": 1000}, database=settings.neo4j_database)
        assert_shape(
            plan,
            anchors=[
                r"NodeUniqueIndexSeek.*o:Order\(id\)",
                r"NodeUniqueIndexSeek.*m:Member\(id\)",
                r"NodeByLabelScan p:Payout",
            ],
            allowed=[r"NodeByLabelScan lock:SettlementLock"],
        )


@pytest.fixture(scope="module")
def shell_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A ``cypher-shell`` on PATH, as the data team has one."""
    folder = tmp_path_factory.mktemp("bin")
    script = folder / "cypher-shell"
    script.write_text(f'#!/bin/sh\nexec {shlex.join(cyphershell.command())} "$@"\n')
    script.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


def test_cypher_shell_runs_the_file_as_its_header_says(
    old: neo4j.Driver, cli_env: dict[str, str], shell_path: str, settings: Settings
) -> None:
    command = command_of(LEDGER_FILE)
    assert shell_params(command) == {"batch": 1000}
    assert (ROOT / shlex.split(command)[-1]).resolve() == LEDGER_FILE.resolve()
    # After cypher/schema.cypher, as the header says.
    apply_schema(old, settings.neo4j_database)
    out = cypher_shell({**cli_env, "PATH": shell_path}, command)
    assert shell_blocks(out) == [
        (["payouts", "frozen", "paid", "already_paid"], [[5, 2, 7200, 0]]),
        (["reversals", "risk_reversals", "reversed", "already_reversed"], [[2, 1, -1100, 0]]),
        (["left"], [[0]]),
    ]
    assert lines(old) == EXPECTED
    assert set(OLD_INDEXES).isdisjoint(schema_names(old))
