"""Every cypher/ file, run with Neo4j's real cypher-shell exactly as its header says, against
``downline cypher run`` of the same file with the same parameters.

The header's command is run by bash from the checkout, with ``cypher-shell`` on PATH (a
two-line script that runs graph/cyphershell.py's build, as Neo4j's own ``bin/cypher-shell``
runs its jar) and NEO4J_PASSWORD set; the only change to it is the address, the test server's
instead of ``bolt://127.0.0.1:7687``. Its ``-P 'name => value'`` become ``-p name=value``.

Piped, cypher-shell writes its plain format: per statement that returned rows, a line of column
names, then a line of Cypher literals per row; ``downline cypher run --format csv`` writes the
last statement's columns and rows. Both are read back into values and compared row for row,
so layout does not matter (an empty text and null are both None: CSV cannot tell them apart).

The read-only files (analytics, reconcile) share one seeded network. The files that write are
compared by their effects, from the same state for each runner: settlement on two identical
fresh seeds (its steps consume what they settle), rollups and schema after undoing what the
other runner did (their effects are a few properties, and the schema itself).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import neo4j
import pytest

from contract.settings import Settings
from downline.commands.cypher import shell_invocation
from graph import cyphershell
from graph.cypherfiles import run_file, split_statements
from graph.db import apply_schema, clear
from graph.loader import load
from graph.plans import read_plan_file, store_plan
from graph.server import free_port
from tests.cli import ROOT, downline
from tests.graph import growthnet as gn
from tests.graph.growthnet import Network

CYPHER = ROOT / "cypher"
ANALYTICS = sorted((CYPHER / "analytics").glob("*.cypher"))
SETTLEMENT = CYPHER / "settlement"
RECONCILE = CYPHER / "reconcile.cypher"
ROLLUPS = CYPHER / "rollups.cypher"
SCHEMA = CYPHER / "schema.cypher"
ADDRESS = "bolt://127.0.0.1:7687"
RUN_ID = "run-20261130-a1b2c3"  # the settlement headers' example run
# Properties that hold the moment they were written, not anything a runner decides.
CLOCK = {"started_at", "heartbeat", "finished_at", "loaded_at", "refreshed_at", "created_at"}


# --- the header's command -------------------------------------------------------------------


def shell_command(path: Path) -> str | None:
    """The cypher-shell command of a file's header as shell text, or None when it has none."""
    head = path.read_text(encoding="utf-8").split("\n\n")[0]
    lines = [line.removeprefix("//").removeprefix(" ") for line in head.splitlines()]
    start = next((i for i, line in enumerate(lines) if "cypher-shell " in line), None)
    if start is None:
        return None
    if lines[start - 1].lstrip().startswith("for "):  # begin.cypher: the loop over the steps
        end = next(i for i in range(start, len(lines)) if lines[i].strip() == "done")
        return "\n".join(lines[start - 1 : end + 1])
    end = start
    while lines[end].endswith("\\"):
        end += 1
    return "\n".join([lines[start].split("Run: ", 1)[-1], *lines[start + 1 : end + 1]])


def command_of(path: Path) -> str:
    command = shell_command(path)
    assert command is not None, path
    return command


def shell_params(command: str) -> dict[str, object]:
    """-P 'name => value' as name -> value (the headers write text in double quotes)."""
    words = shlex.split(command)
    params: dict[str, object] = {}
    for flag, value in pairwise(words):
        if flag == "-P":
            name, _, literal = value.partition(" => ")
            params[name] = json.loads(literal)
    return params


def shell_files(command: str) -> list[Path]:
    words = shlex.split(command)
    target = words[words.index("-f") + 1]
    loop = re.match(r"\s*for (\w+) in ([^;]+); do", command)
    if loop is None:
        return [ROOT / target]
    return [ROOT / target.replace(f"${loop[1]}", step) for step in loop[2].split()]


# --- reading both outputs back --------------------------------------------------------------

_NAMES = re.compile(r"[a-z_][a-z0-9_]*(, [a-z_][a-z0-9_]*)*")
_BARE = re.compile(r"[^,\]]+")


def canon(value: object) -> object:
    """One value as both outputs can say it: CSV has only text, cypher-shell prints literals."""
    if isinstance(value, list):
        return [canon(v) for v in value]
    if not isinstance(value, str):
        return value
    if value == "":
        return None
    if value in {"True", "False"}:
        return value == "True"
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if value.startswith("["):  # downline prints a list as Python does
        return canon(ast.literal_eval(value))
    if re.fullmatch(r"\d{4}-\d\d-\d\d", value):
        return date.fromisoformat(value)
    if re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+([+-]\d\d:\d\d|Z)", value):
        return datetime.fromisoformat(value)  # an instant: 00:00+08:00 == 00:00:00.000000000+08:00
    return value


def _literal(text: str, i: int) -> tuple[object, int]:
    if text[i] == '"':
        chars: list[str] = []
        i += 1
        while text[i] != '"':
            if text[i] == "\\":
                i += 1
            chars.append(text[i])
            i += 1
        return "".join(chars), i + 1
    if text[i] == "[":
        items: list[object] = []
        i += 1
        while text[i] != "]":
            item, i = _literal(text, i)
            items.append(item)
            if text.startswith(", ", i):
                i += 2
        return items, i + 1
    bare = _BARE.match(text, i)
    assert bare is not None, text[i:]
    token = bare.group()
    value: object = {"NULL": None, "TRUE": True, "FALSE": False}.get(token, token)
    return value, bare.end()


def literals(line: str) -> list[object]:
    values: list[object] = []
    i = 0
    while i < len(line):
        value, i = _literal(line, i)
        values.append(canon(value))
        if line.startswith(", ", i):
            i += 2
    return values


def shell_blocks(out: str) -> list[tuple[list[str], list[list[object]]]]:
    """cypher-shell's plain output as (columns, rows) per statement that returned rows.

    Our columns are snake_case and every value is a literal (quoted text, numbers, TRUE, NULL,
    ISO temporals), so a line of bare snake_case names starts a statement's output.
    """
    blocks: list[tuple[list[str], list[list[object]]]] = []
    for line in out.splitlines():
        if _NAMES.fullmatch(line):
            blocks.append((line.split(", "), []))
        else:
            assert blocks, f"a row before any columns: {line!r}"
            blocks[-1][1].append(literals(line))
    return blocks


def shell_rows(out: str, keys: list[str]) -> list[list[object]]:
    """The rows of the last statement with these columns ([] if it printed nothing)."""
    found = [rows for columns, rows in shell_blocks(out) if columns == keys]
    return found[-1] if found else []


# --- running both ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shell_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``cypher-shell`` on PATH, as the data team has one (built here once, from Maven)."""
    java = cyphershell.command()
    folder = tmp_path_factory.mktemp("bin")
    script = folder / "cypher-shell"
    script.write_text(f'#!/bin/sh\nexec {shlex.join(java)} "$@"\n')
    script.chmod(0o755)
    return folder


@pytest.fixture(scope="module")
def env(settings: Settings, shell_bin: Path) -> dict[str, str]:
    return {**gn.cli_env(settings), "PATH": f"{shell_bin}{os.pathsep}{os.environ['PATH']}"}


def run_shell(env: dict[str, str], command: str) -> subprocess.CompletedProcess[str]:
    """Runs a header's command with bash from the checkout, on the test server."""
    assert ADDRESS in command
    return subprocess.run(
        ["bash", "-c", command.replace(ADDRESS, env["NEO4J_URI"])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def cypher_shell(env: dict[str, str], command: str) -> str:
    """The stdout of a header's command, which must succeed without a word on stderr."""
    done = run_shell(env, command)
    assert (done.returncode, done.stderr) == (0, ""), f"{command}\n{done.stdout}"
    return done.stdout


def run_args(path: Path, params: dict[str, object]) -> list[str]:
    pairs = [arg for name, value in params.items() for arg in ("-p", f"{name}={value}")]
    return ["cypher", "run", str(path.relative_to(ROOT)), *pairs]


def downline_rows(
    env: dict[str, str], path: Path, params: dict[str, object]
) -> tuple[list[str], list[list[object]]]:
    out = gn.run_ok(env, *run_args(path, params), "--format", "csv")
    keys, *rows = csv.reader(io.StringIO(out))
    return keys, [[canon(v) for v in row] for row in rows]


def downline_summary(
    env: dict[str, str], path: Path, params: dict[str, object]
) -> tuple[int, dict[str, int]]:
    """What ``downline cypher run`` prints for a file whose statements return nothing: how many
    statements ran and the counters (less the driver's private ``_contains_updates``)."""
    out = gn.run_ok(env, *run_args(path, params)).strip()
    done = re.fullmatch(r"ran (\d+) statement\(s\): (.*)", out)
    assert done is not None, out
    pairs = [pair.split("=") for pair in done[2].split(", ")] if done[2] != "no changes" else []
    return int(done[1]), {k: int(v) for k, v in pairs if not k.startswith("_")}


def compare(env: dict[str, str], path: Path) -> list[list[object]]:
    """Runs the file both ways; asserts the same rows and returns them."""
    command = command_of(path)
    (file,) = shell_files(command)
    assert file == path
    keys, expected = downline_rows(env, path, shell_params(command))
    assert shell_rows(cypher_shell(env, command), keys) == expected
    return expected


# --- the seeded network ---------------------------------------------------------------------


def network() -> Network:
    """growthnet's network, plus the headers' example member M1 with recruits in the windows."""
    net = gn.random_network(seed=5)
    net.member("M1", "M00", gn.START + timedelta(days=2))
    for i, days in enumerate([3, 9, 10, 40, 75]):
        net.member(f"M1-{i}", "M1" if i < 3 else "M1-0", gn.START + timedelta(days=days))
    # For the risk files: M1's three first recruits on one device (a farm of shared
    # identifiers), and M1-3, two tiers below M1, on M1's phone (a self-referral).
    net.identity["M1"] = ("ph:m1", "", "")
    for i in range(3):
        net.identity[f"M1-{i}"] = ("", "dev:m1", "")
    net.identity["M1-3"] = ("ph:m1", "", "")
    # A sale that pays its agent seller by 1 March and is refunded in April, to be reversed.
    i, sale = next(
        (i, o)
        for i, o in enumerate(net.orders)
        if o.kind == "RETAIL"
        and o.refunded_at is None
        and o.seller is not None
        and net.is_agent(o.seller, o.paid_at)
        and o.paid_at + gn.HOLD < gn.CUTOFFS[0]
    )
    net.orders[i] = replace(sale, refunded_at=datetime(2026, 4, 1, tzinfo=gn.CST))
    return net


@pytest.fixture(scope="module")
def seeded(
    settings: Settings,
    session_driver: neo4j.Driver,
    env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[neo4j.Driver]:
    """The network loaded, its plan loaded and settled twice, by the commands users run.

    Only the tests above the settlement ones use it: those start from fresh graphs.
    """
    clear(session_driver, settings.neo4j_database)
    gn.load_and_settle(network(), tmp_path_factory.mktemp("shell"), env)
    yield session_driver


def test_every_file_has_a_command_and_a_test() -> None:
    every = sorted(CYPHER.rglob("*.cypher"))
    assert [p for p in every if shell_command(p) is None] == []
    steps = shell_files(command_of(SETTLEMENT / "begin.cypher"))
    assert [p.stem for p in steps] == ["begin", "payouts", "reversals", "finish"]
    # The ledger migration runs through cypher-shell in tests/downline/test_db_migrate.py.
    migrations = {CYPHER / "migrations" / "ledger.cypher"}
    tested = {
        *ANALYTICS,
        RECONCILE,
        ROLLUPS,
        SCHEMA,
        *steps,
        SETTLEMENT / "unlock.cypher",
        *migrations,
    }
    assert set(every) == tested


@pytest.mark.parametrize("path", ANALYTICS, ids=lambda p: p.stem)
def test_analytics_answer_alike(seeded: neo4j.Driver, env: dict[str, str], path: Path) -> None:
    rows = compare(env, path)
    assert rows, "the header's example finds nothing on the seeded network"
    if path.stem == "fission_speed":
        assert sum(int(str(r[1])) for r in rows) == 5  # M1's downline


def test_reconcile_answers_alike(
    seeded: neo4j.Driver, env: dict[str, str], settings: Settings
) -> None:
    command = command_of(RECONCILE)
    assert shell_params(command) == {}
    counts = run_file(seeded, RECONCILE, {}, database=settings.neo4j_database)[0]
    clean = cypher_shell(env, command)
    # The first statement's counts; the second's violations print nothing when there are none.
    assert shell_blocks(clean) == [(list(counts.keys), [list(counts.rows[0])])]
    assert counts.rows[0][0] > 0 and counts.rows[0][2] > 0  # orders settled, payouts
    assert compare(env, RECONCILE) == []
    # One payout off by a fen: both report the same violation.
    records, _, _ = seeded.execute_query(
        "MATCH (o:Order)-[p:PAID]->() WITH o, p ORDER BY o.id, p.tier LIMIT 1"
        " SET p.amount = p.amount + 1"
        " RETURN o.id AS order, p.tier AS tier, o.pool AS pool, o.retained AS retained"
    )
    bad = records[0]
    try:
        violations = compare(env, RECONCILE)
    finally:
        seeded.execute_query(
            "MATCH (:Order {id: $order})-[p:PAID {tier: $tier}]->() SET p.amount = p.amount - 1",
            order=bad["order"],
            tier=bad["tier"],
        )
    paid = bad["pool"] - bad["retained"] + 1
    detail = f"payouts {paid} + retained {bad['retained']} <> pool {bad['pool']}"
    assert violations == [["pool", bad["order"], None, detail]]


def rollup_numbers(driver: neo4j.Driver) -> dict[str, tuple[int, int]]:
    records, _, _ = driver.execute_query(
        "MATCH (m:Member) RETURN m.id AS id, m.all_size AS size, m.all_recruits AS recruits"
    )
    return {r["id"]: (r["size"], r["recruits"]) for r in records}


def test_rollups_set_the_same_numbers(seeded: neo4j.Driver, env: dict[str, str]) -> None:
    gn.run_ok(env, "rollups", "refresh")  # numbers the tree, which rollups.cypher needs
    expected = rollup_numbers(seeded)
    assert expected["M1"] == (5, 3) and expected["M00"][0] == len(expected) - 1
    command = command_of(ROLLUPS)
    for runner in ("cypher-shell", "downline"):
        seeded.execute_query("MATCH (m:Member) REMOVE m.all_size, m.all_recruits")
        if runner == "cypher-shell":
            assert cypher_shell(env, command) == ""
        else:
            summary = downline_summary(env, ROLLUPS, shell_params(command))
            assert summary == (1, {"properties_set": 2 * len(expected)})
        assert rollup_numbers(seeded) == expected, runner


def schema_of(driver: neo4j.Driver) -> list[dict[str, Any]]:
    constraints, _, _ = driver.execute_query(
        "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties"
    )
    indexes, _, _ = driver.execute_query(
        "SHOW INDEXES YIELD name, type, labelsOrTypes, properties, state, owningConstraint"
        " WHERE type <> 'LOOKUP'"
    )
    rows = [r.data() for r in [*constraints, *indexes]]
    return sorted(rows, key=lambda r: (r["name"], r.get("type")))


def unsettled_since(driver: neo4j.Driver) -> dict[str, object]:
    records, _, _ = driver.execute_query(
        "MATCH (o:Order) WHERE o.unsettled_since IS NOT NULL"
        " RETURN o.id AS id, o.unsettled_since AS t"
    )
    return {r["id"]: r["t"] for r in records}


def drop_schema(driver: neo4j.Driver) -> None:
    for name in [r["name"] for r in schema_of(driver) if "owningConstraint" not in r]:
        driver.execute_query(f"DROP CONSTRAINT {name}")  # its index goes with it
    for r in schema_of(driver):
        driver.execute_query(f"DROP INDEX {r['name']}")
    assert schema_of(driver) == []


def test_schema_creates_the_same_schema(
    seeded: neo4j.Driver, env: dict[str, str], settings: Settings
) -> None:
    """From no schema at all, each runner builds the schema the server had; the one data step
    gives unsettled_since to orders without one that have not settled, paid_at."""
    text = SCHEMA.read_text(encoding="utf-8")
    expected = schema_of(seeded)
    assert {r["state"] for r in expected if "state" in r} == {"ONLINE"}
    command = command_of(SCHEMA)
    before = unsettled_since(seeded)
    records, _, _ = seeded.execute_query(
        "MATCH (o:Order) WHERE o.settled_run IS NULL RETURN o.id AS id, o.paid_at AS paid_at"
    )
    after = {**before, **{r["id"]: r["paid_at"] for r in records}}
    # Refunded before they settled, these left the unsettled index: the data step puts them back.
    assert set(after) - set(before)
    try:
        for runner in ("cypher-shell", "downline"):
            drop_schema(seeded)
            seeded.execute_query(
                "MATCH (o:Order) WHERE NOT o.id IN $keep REMOVE o.unsettled_since",
                keep=list(before),
            )
            if runner == "cypher-shell":
                assert cypher_shell(env, command) == ""
            else:
                summary = downline_summary(env, SCHEMA, shell_params(command))
                assert summary == (
                    len(split_statements(text)),
                    {
                        "constraints_added": text.count("CREATE CONSTRAINT"),
                        "indexes_added": text.count("CREATE INDEX"),
                        "properties_set": len(after) - len(before),
                    },
                )
            seeded.execute_query("CALL db.awaitIndexes(300)")
            assert schema_of(seeded) == expected, runner
            assert unsettled_since(seeded) == after, runner
    finally:
        apply_schema(seeded, settings.neo4j_database)


# --- settlement: fresh graphs ---------------------------------------------------------------

BASE = {"cutoff": gn.CUTOFFS[0].isoformat(), "run_id": "run-base", "batch": 50, "concurrency": 2}


def seed_settled_once(driver: neo4j.Driver, settings: Settings, folder: Path) -> None:
    """The network and its plan, settled up to 1 March (so 30 November settles the rest and
    reverses what was refunded since), with a fixed run id so both seeds are identical."""
    clear(driver, settings.neo4j_database)
    net = network()
    net.write(folder)
    load(
        driver,
        members=folder / "members.csv",
        products=folder / "products.csv",
        orders=folder / "orders.csv",
        database=settings.neo4j_database,
    )
    store_plan(driver, read_plan_file(ROOT / "plans" / "default.toml"))
    for step in ("begin", "payouts", "reversals", "finish"):
        run_file(driver, SETTLEMENT / f"{step}.cypher", BASE, database=settings.neo4j_database)


def _key(labels: list[str], props: dict[str, Any]) -> str:
    return repr((sorted(labels), sorted((k, repr(v)) for k, v in props.items() if k not in CLOCK)))


def graph_state(driver: neo4j.Driver) -> tuple[list[str], list[str]]:
    """Every node and relationship with its properties, less the wall-clock ones and the audit
    trail (each record has its own id and time; tests/graph/test_audit.py covers it)."""
    nodes, _, _ = driver.execute_query(
        "MATCH (n) WHERE NOT n:AuditRecord RETURN labels(n) AS l, properties(n) AS p"
    )
    rels, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN labels(a) AS la, properties(a) AS pa, type(r) AS t,"
        " properties(r) AS p, labels(b) AS lb, properties(b) AS pb"
    )
    return (
        sorted(_key(r["l"], r["p"]) for r in nodes),
        sorted(
            repr((_key(r["la"], r["pa"]), r["t"], sorted(r["p"].items()), _key(r["lb"], r["pb"])))
            for r in rels
        ),
    )


def test_the_four_settlement_steps_settle_alike(
    graph: neo4j.Driver, env: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    """begin.cypher's loop, as written, against the four files one by one, each on the same
    fresh seed: the same rows from begin and finish, and the very same graph afterwards."""
    command = command_of(SETTLEMENT / "begin.cypher")
    params = shell_params(command)
    assert params == {
        "cutoff": "2026-11-30T00:00:00+08:00",
        "run_id": RUN_ID,
        "batch": 5000,
        "concurrency": 2,
    }
    for step in shell_files(command)[1:]:
        assert shell_params(command_of(step)).items() <= params.items(), step.name
    begin_keys = ["run_id", "cutoff", "plans"]
    finish_keys = ["run_id", "status", "orders_settled", "orders_reversed", "payouts",
                   "reversals", "paid", "reversed", "pool", "retained", "plans"]  # fmt: skip
    seed_settled_once(graph, settings, tmp_path / "shell")
    base = graph_state(graph)
    out = cypher_shell(env, command)
    by_shell = (shell_rows(out, begin_keys), shell_rows(out, finish_keys), graph_state(graph))

    seed_settled_once(graph, settings, tmp_path / "downline")
    assert graph_state(graph) == base
    rows: list[list[list[object]]] = []
    for step in shell_files(command):
        if step.stem in {"begin", "finish"}:
            keys, found = downline_rows(env, step, params)
            assert keys == (begin_keys if step.stem == "begin" else finish_keys)
            rows.append(found)
        else:
            assert downline_summary(env, step, params)[1], step.name  # it wrote something
    by_downline = (rows[0], rows[1], graph_state(graph))

    assert by_shell == by_downline
    assert rows[0] == [[RUN_ID, datetime.fromisoformat(str(params["cutoff"])), ["default"]]]
    (finish,) = rows[1]
    assert finish[:2] == [RUN_ID, "finished"]
    settled, reversed_orders, paid_out, reversals, paid, reversed_fen = finish[2:8]
    assert [settled, reversed_orders, paid_out, reversals] == [61, 2, 100, 1]
    assert isinstance(paid, int) and paid > 0 and isinstance(reversed_fen, int) and reversed_fen < 0


def test_unlock_and_a_held_lock_alike(graph: neo4j.Driver, env: dict[str, str]) -> None:
    """A second begin fails the same way in both while the lock is held; unlock releases it and
    marks the run interrupted alike (the run is removed between the runners, which is all that
    begin and unlock wrote)."""
    store_plan(graph, read_plan_file(ROOT / "plans" / "default.toml"))
    begin = SETTLEMENT / "begin.cypher"
    unlock = command_of(SETTLEMENT / "unlock.cypher")
    params = shell_params(command_of(begin))
    assert shell_params(unlock) == {"run_id": RUN_ID}
    # begin.cypher alone, written as the other headers write their command.
    one_begin = " ".join(
        ["cypher-shell", "-a", ADDRESS, "-u", "neo4j", "-p", '"$NEO4J_PASSWORD"']
        + [f"-P {shlex.quote(f'{k} => {json.dumps(v)}')}" for k, v in params.items()]
        + ["-f", "cypher/settlement/begin.cypher"]
    )
    held = "Node({id}) already exists with label `SettlementLock` and property `id` = 'settlement'"
    found = {}
    for runner in ("cypher-shell", "downline"):
        gn.run_ok(env, *run_args(begin, params))
        if runner == "cypher-shell":
            done = run_shell(env, one_begin)
            assert done.returncode == 1 and done.stdout == ""
            refused = done.stderr
            rows = shell_rows(cypher_shell(env, unlock), ["run_id", "status"])
        else:
            done = downline(*run_args(begin, params), env=env)
            assert done.returncode == 1 and done.stdout == ""
            refused = done.stderr
            rows = downline_rows(env, SETTLEMENT / "unlock.cypher", shell_params(unlock))[1]
        assert re.sub(r"Node\(\d+\)", "Node({id})", refused).count(held) == 1, refused
        records, _, _ = graph.execute_query(
            "MATCH (r:SettlementRun) OPTIONAL MATCH (l:SettlementLock)"
            " RETURN r.id AS id, r.status AS status, r.finished_at IS NOT NULL AS finished,"
            " count(l) AS locks"
        )
        found[runner] = (rows, [r.data() for r in records])
        graph.execute_query("MATCH (r:SettlementRun {id: $id}) DETACH DELETE r", id=RUN_ID)
    assert found["cypher-shell"] == found["downline"]
    assert found["downline"] == (
        [[RUN_ID, "interrupted"]],
        [{"id": RUN_ID, "status": "interrupted", "finished": True, "locks": 0}],
    )


# --- downline cypher shell ------------------------------------------------------------------


def test_shell_runs_through_the_cli(cli_env: dict[str, str], shell_bin: Path) -> None:
    done = downline("cypher", "shell", "-P", "n => 41", "RETURN $n + 1 AS answer", env=cli_env)
    assert (done.returncode, done.stdout, done.stderr) == (0, "answer\n42\n", "")
    version = downline("cypher", "shell", "--version", env=cli_env)
    assert (version.returncode, version.stdout) == (0, f"Cypher-Shell {cyphershell.VERSION}\n")
    usage = downline("cypher", "shell", "--help", env=cli_env)
    # cypher-shell's --help, which exits with 1 (its own choice, passed on).
    assert usage.returncode == 1 and usage.stdout.startswith("usage: cypher-shell [-h]")
    # A file and a format, as given (on the empty graph rollups.cypher matches no member).
    ran = downline("cypher", "shell", "--format", "verbose", "-f", "cypher/rollups.cypher",
                   env=cli_env)  # fmt: skip
    assert (ran.returncode, ran.stderr) == (0, "")
    assert re.fullmatch(
        r"0 rows\nready to start consuming query after \d+ ms,"
        r" results consumed after another \d+ ms\n",
        ran.stdout,
    ), ran.stdout


def test_shell_exits_with_cypher_shells_code(cli_env: dict[str, str], shell_bin: Path) -> None:
    bad = downline("cypher", "shell", "RETURN nope", env=cli_env)
    assert (bad.returncode, bad.stdout) == (1, "")
    assert bad.stderr.startswith("Variable `nope` not defined (line 1, column 8 (offset: 7))\n")
    refused = downline("cypher", "shell", "-p", "not-the-password", "RETURN 1", env=cli_env)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == "The client is unauthorized due to authentication failure.\n"
    # Without NEO4J_PASSWORD cypher-shell asks for one on a terminal; with no terminal it tries
    # none.
    no_password = {k: v for k, v in cli_env.items() if k != "NEO4J_PASSWORD"}
    asked = downline("cypher", "shell", "RETURN 1", env=no_password, input="")
    assert (asked.returncode, asked.stdout, asked.stderr) == (1, "", refused.stderr)
    port = free_port()
    away = downline(
        "cypher", "shell", "RETURN 1", env={**cli_env, "NEO4J_URI": f"bolt://127.0.0.1:{port}"}
    )
    assert (away.returncode, away.stdout) == (1, "")
    assert away.stderr == (
        f"Unable to connect to 127.0.0.1:{port}, ensure the database is running and that there"
        " is a working network connection to it.\n"
    )


def test_connection_options_come_from_the_settings_unless_given() -> None:
    config = Settings(
        neo4j_uri="bolt://db:7688", neo4j_user="ana", neo4j_password="s3cret", neo4j_database="x"
    )
    args, env = shell_invocation(config, ["-f", "q.cypher", "-P", "a => 1"], {"HOME": "/h"})
    assert args == [
        "-a",
        "bolt://db:7688",
        "-u",
        "ana",
        "-d",
        "x",
        "-f",
        "q.cypher",
        "-P",
        "a => 1",
    ]
    assert env == {"HOME": "/h", "NEO4J_PASSWORD": "s3cret"}  # not in argv, so not in ps
    for own in (
        ["-a", "neo4j://h", "--username", "bo", "--database=y", "-p", "pw"],
        ["--uri=neo4j://h", "-ubo", "-d", "y", "--password", "pw"],
        ["--address", "neo4j://h", "-u", "bo", "--database", "y", "--password=pw"],
    ):
        args, env = shell_invocation(config, own, {})
        assert (args, env) == (own, {})


def test_an_installed_read_only_project_is_built_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = tmp_path / "site-packages" / "launcher" / "cypher-shell"
    shipped.mkdir(parents=True)
    (shipped / "pom.xml").write_text("<project>one</project>")
    cache = tmp_path / "cache"
    assert cyphershell.project_dir(shipped, cache) == shipped
    monkeypatch.setattr(cyphershell, "_writable", lambda path: path != shipped)
    assert cyphershell.project_dir(shipped, cache) == cache
    assert (cache / "pom.xml").read_text() == "<project>one</project>"
    (shipped / "pom.xml").write_text("<project>two</project>")  # an upgrade
    assert cyphershell.project_dir(shipped, cache) == cache
    assert (cache / "pom.xml").read_text() == "<project>two</project>"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cyphershell.project_dir(shipped) == tmp_path / "xdg" / "downline" / "cypher-shell"


def test_missing_maven_and_a_failed_build_are_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "cypher-shell"
    project.mkdir()
    (project / "pom.xml").write_text("<project>")
    java = cyphershell.command()[0]
    monkeypatch.setenv("JAVA_HOME", str(Path(java).resolve().parent.parent))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(cyphershell.CypherShellError, match=r"^Maven was not found: install it"):
        cyphershell.build(project=project)
    monkeypatch.undo()
    with pytest.raises(cyphershell.CypherShellError) as failed:
        cyphershell.build(project=project)
    message = str(failed.value)
    assert message.startswith(f"building cypher-shell with Maven failed in {project}:\n[ERROR]")
    assert f"[FATAL] Non-readable POM {project / 'pom.xml'}: no more data available" in message
    assert not cyphershell.is_built(project)
