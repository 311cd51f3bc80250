"""`downline db`: the embedded Neo4j's lifecycle and its clear refusals."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest

from contract.settings import Settings
from graph import server
from tests.cli import downline


@pytest.fixture
def own_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a second embedded server of this test's own (stopped afterwards)."""
    port = server.free_port()
    env = {
        **os.environ,
        "NEO4J_URI": f"bolt://127.0.0.1:{port}",
        "NEO4J_PASSWORD": "own-secret-1",
        "DOWNLINE_NEO4J_DIR": str(tmp_path / "neo4j"),
        "NEO4J_HEAP": "512m",
        "NEO4J_PAGECACHE": "64m",
    }
    yield env
    server.stop(server.ServerPaths(tmp_path / "neo4j"))


def test_start_status_reset_stop(own_env: dict[str, str]) -> None:
    started = downline("db", "start", env=own_env)
    assert started.returncode == 0, started.stderr
    assert "Neo4j is up at" in started.stdout
    assert "Neo4j runs" in downline("db", "status", env=own_env).stdout

    again = downline("db", "start", env=own_env)
    assert again.returncode == 1
    assert "already running" in again.stderr

    uri = own_env["NEO4J_URI"]
    with neo4j.GraphDatabase.driver(uri, auth=("neo4j", "own-secret-1")) as driver:
        driver.execute_query("CREATE (:Member {id: 'X1'}), (:Member {id: 'X2'})")
        constraints, _, _ = driver.execute_query("SHOW CONSTRAINTS YIELD name RETURN name")
        assert {"member_id", "order_id", "product_sku"} <= {r["name"] for r in constraints}

    refused = downline("db", "reset", env=own_env, input="n\n")
    assert refused.returncode != 0
    reset = downline("db", "reset", "--yes", env=own_env)
    assert reset.returncode == 0, reset.stderr
    assert "deleted 2 nodes" in reset.stdout

    stopped = downline("db", "stop", env=own_env)
    assert "Neo4j stopped" in stopped.stdout
    status = downline("db", "status", env=own_env)
    assert status.returncode == 1
    assert "not running" in status.stdout


def test_a_taken_port_is_named(own_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**own_env, "NEO4J_URI": f"bolt://127.0.0.1:{port}"}
        result = downline("db", "start", env=env)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr


def test_missing_java_is_named(own_env: dict[str, str], tmp_path: Path) -> None:
    env = {**own_env, "PATH": str(tmp_path / "empty-bin"), "JAVA_HOME": ""}
    result = downline("db", "start", env=env)
    assert result.returncode == 1
    assert "Java was not found" in result.stderr


def test_missing_maven_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(Path(server.java_executable()).resolve())
    monkeypatch.setattr(server, "launcher_dir", lambda: tmp_path / "absent")
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(server.ServerError, match="Maven was not found"):
        server.build_launcher()


def test_missing_password_is_named(own_env: dict[str, str]) -> None:
    env = {k: v for k, v in own_env.items() if k != "NEO4J_PASSWORD"}
    result = downline("db", "start", env=env)
    assert result.returncode == 1
    assert "NEO4J_PASSWORD is not set" in result.stderr


def test_an_unreachable_server_is_named(settings: Settings) -> None:
    env = {**os.environ, "NEO4J_URI": f"bolt://127.0.0.1:{server.free_port()}"}
    env["NEO4J_PASSWORD"] = "whatever1"
    result = downline("load", "--members", "tests/data/members.csv", env=env)
    assert result.returncode == 1
    assert "Neo4j is not reachable at" in result.stderr


@pytest.mark.slow
def test_a_killed_server_recovers_and_its_store_checks_consistent(tmp_path: Path) -> None:
    """The crash drills' cycle once (bench/drills.py runs it 60 times): SIGKILL, recovery on
    start, then neo4j-admin database check through the launcher on the stopped store."""
    paths = server.ServerPaths(tmp_path / "neo4j")
    port = server.free_port()
    server.start(paths, port=port, password="own-secret-1", heap="512m", pagecache="64m")
    try:
        uri, auth = f"bolt://127.0.0.1:{port}", ("neo4j", "own-secret-1")
        with neo4j.GraphDatabase.driver(uri, auth=auth) as driver:
            driver.execute_query("UNWIND range(1, 500) AS i CREATE (:Member {id: 'K' + i})")
        assert server.kill(paths)
        assert server.running_port(paths) is None
        assert not server.kill(paths)
        launch = server.last_launch(paths)
        assert launch is not None
        server.restart(paths, launch, password="own-secret-1")
        with neo4j.GraphDatabase.driver(uri, auth=auth) as driver:
            records, _, _ = driver.execute_query("MATCH (m:Member) RETURN count(m) AS n")
            assert records[0]["n"] == 500
        server.stop(paths)
        log = tmp_path / "check.log"
        checked = server.admin(
            paths, "check", [f"--report-path={tmp_path}", "neo4j"], heap="512m", log=log
        )
        assert checked.returncode == 0, log.read_text()
        refused = server.admin(paths, "check", ["no-such-db"], heap="512m", log=log)
        assert refused.returncode != 0
    finally:
        server.stop(paths)


def test_the_server_runs_with_neo4js_own_jvm_options(
    settings: Settings, graph: neo4j.Driver
) -> None:
    """Started as Neo4j's start script would start it: without its --add-opens the page cache
    falls back to a slower mode and says so in debug.log (graph/server.py JVM_OPTIONS)."""
    if os.environ.get("NEO4J_URI"):
        pytest.skip("the tests run against a server they did not start")
    graph.execute_query("RETURN 1")
    log = server.ServerPaths(settings.neo4j_data_dir).store / "logs" / "debug.log"
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "Kernel version: 5.26" in text
    assert "using fallback mode" not in text
