"""downline db backup and restore on a server of the test's own (never the session's): the
ledger comes back exactly as it was at the backup, and settling again matches the history that
was never interrupted. Bad files and a held settlement lock are refused with nothing changed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from contract.settings import Settings
from graph import server
from graph.db import apply_schema, connect
from graph.ledger import LINE
from graph.settlement import settle
from tests.cli import downline
from tests.graph.netbuild import Ord, at, seed

PASSWORD = "own-backup-pass"
MEMBERS = {f"M{i}": (f"M{(i - 1) // 3}" if i else None) for i in range(30)}
FIRST_CUTOFF = at(20)
SECOND_CUTOFF = at(60)


def network() -> list[Ord]:
    """Orders that settle by the first cutoff, more that settle only by the second, and refunds
    after the first that make the second run reverse payouts."""
    orders = [Ord(f"G{i}", "GIFT_PACKAGE", m, day=0) for i, m in enumerate(MEMBERS)]
    members = list(MEMBERS)
    for i in range(120):
        buyer, seller = members[i % 30], members[(i * 7) % 30]
        day = 1 + (i % 40)
        refunded = 30.0 if i % 10 == 0 and day < 13 else None
        orders.append(
            Ord(f"R{i:04d}", "RETAIL", buyer, seller=seller, day=day, refunded_day=refunded)
        )
    return orders


Ledger = list[dict[str, Any]]


def ledger(settings: Settings, *, with_runs: bool = True) -> Ledger:
    """Every ledger line, all its fields, in key order (run ids dropped when asked)."""
    with connect(settings) as driver:
        records, _, _ = driver.execute_query(
            f"MATCH (o:Order)-[l:PAID|REVERSED]->(m) RETURN {LINE} AS p ORDER BY p.key"
        )
    lines = [dict(r["p"]) for r in records]
    if not with_runs:
        for line in lines:
            line.pop("run_id")
    return lines


@dataclass(frozen=True)
class Own:
    """A server of this module's own, settled to the first cutoff and backed up."""

    settings: Settings
    env: dict[str, str]
    dump: Path
    made: subprocess.CompletedProcess[str]
    at_backup: Ledger

    @property
    def pid(self) -> int | None:
        paths = server.ServerPaths(self.settings.neo4j_data_dir)
        return server.status(paths, (self.settings.neo4j_user, PASSWORD)).pid


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Own]:
    tmp = tmp_path_factory.mktemp("backup")
    root = tmp / "neo4j"
    port = server.free_port()
    paths = server.ServerPaths(root)
    server.start(paths, port=port, password=PASSWORD, heap="512m", pagecache="128m")
    config = Settings(
        neo4j_uri=f"bolt://127.0.0.1:{port}", neo4j_password=PASSWORD, neo4j_data_dir=root
    )
    env = {
        **os.environ,
        "NEO4J_URI": config.neo4j_uri,
        "NEO4J_PASSWORD": PASSWORD,
        "DOWNLINE_NEO4J_DIR": str(root),
    }
    try:
        with connect(config) as driver:
            apply_schema(driver)
            seed(driver, tmp / "csv", MEMBERS, network())
        settle_until(config, FIRST_CUTOFF)
        at_backup = ledger(config)
        dump = tmp / "downline.dump"
        made = downline("db", "backup", "--out", str(dump), env=env)
        yield Own(config, env, dump, made, at_backup)
    finally:
        server.stop(paths)


def settle_until(settings: Settings, cutoff: datetime) -> None:
    with connect(settings) as driver:
        assert settle(driver, cutoff=cutoff).run is not None


def test_refused_while_a_settlement_holds_the_lock(own: Own, tmp_path: Path) -> None:
    with connect(own.settings) as driver:
        # A lock taken by cypher-shell (no holder process): never stale, so it is held.
        driver.execute_query(
            "CREATE (:SettlementLock {id: 'settlement', run_id: 'run-held',"
            " started_at: datetime(), heartbeat: datetime()})"
        )
    pid = own.pid
    try:
        late = tmp_path / "late.dump"
        refused = downline("db", "backup", "--out", str(late), env=own.env)
        assert refused.returncode == 1
        assert "no backup while settlement run run-held holds the lock" in refused.stderr
        assert not late.exists()
        refused = downline("db", "restore", str(own.dump), "--yes", env=own.env)
        assert refused.returncode == 1
        assert "no restore while settlement run run-held holds the lock" in refused.stderr
        assert own.pid == pid
    finally:
        with connect(own.settings) as driver:
            driver.execute_query("MATCH (l:SettlementLock {run_id: 'run-held'}) DELETE l")
    assert ledger(own.settings) == own.at_backup


def test_a_file_that_is_not_a_whole_dump_changes_nothing(own: Own, tmp_path: Path) -> None:
    pid = own.pid
    text = tmp_path / "notes.txt"
    text.write_text("member_id,sponsor_id\nM1,M0\n")
    refused = downline("db", "restore", str(text), "--yes", env=own.env)
    assert refused.returncode == 1
    assert f"{text} is not a Neo4j 5 database dump" in refused.stderr
    assert "nothing was changed" in refused.stderr

    truncated = tmp_path / "truncated.dump"
    truncated.write_bytes(own.dump.read_bytes()[: own.dump.stat().st_size // 2])
    refused = downline("db", "restore", str(truncated), "--yes", env=own.env)
    assert refused.returncode == 1
    assert f"{truncated} is not a whole dump of this Neo4j's database" in refused.stderr
    assert "nothing was changed" in refused.stderr

    asked = downline("db", "restore", str(own.dump), env=own.env, input="n\n")
    assert asked.returncode == 1
    assert "nothing was restored" in asked.stderr

    # Never stopped: the same process serves the same ledger.
    assert own.pid == pid
    assert ledger(own.settings) == own.at_backup


def test_a_restore_brings_back_the_ledger_of_the_backup(own: Own) -> None:
    assert own.made.returncode == 0, own.made.stderr
    assert f"backed up neo4j to {own.dump}" in own.made.stdout
    assert "Neo4j was down" in own.made.stdout
    assert own.dump.stat().st_size > 0
    assert ledger(own.settings) == own.at_backup

    settle_until(own.settings, SECOND_CUTOFF)
    history = ledger(own.settings, with_runs=False)
    assert len(history) > len(own.at_backup)
    assert any(line["reversal"] for line in history)

    back = downline("db", "restore", str(own.dump), "--yes", env=own.env)
    assert back.returncode == 0, back.stderr
    assert f"restored neo4j from {own.dump}" in back.stdout
    assert ledger(own.settings) == own.at_backup
    with connect(own.settings) as driver:
        records, _, _ = driver.execute_query("SHOW CONSTRAINTS YIELD name RETURN count(*) AS n")
        assert records[0]["n"] > 0

    settle_until(own.settings, SECOND_CUTOFF)
    assert ledger(own.settings, with_runs=False) == history


def test_backup_needs_the_server_downline_runs(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "NEO4J_URI": f"bolt://127.0.0.1:{server.free_port()}",
        "NEO4J_PASSWORD": PASSWORD,
        "DOWNLINE_NEO4J_DIR": str(tmp_path / "nothing"),
    }
    refused = downline("db", "backup", "--out", str(tmp_path / "x.dump"), env=env)
    assert refused.returncode == 1
    assert "backup and restore run on the server Downline runs in" in refused.stderr
    assert not (tmp_path / "x.dump").exists()
