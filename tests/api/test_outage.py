"""Neo4j stopped and started again, or paused (SIGSTOP) and resumed, under a running API, and a
write stuck past the timeout.

The outage tests run their own Neo4j (never the session's), since they stop, pause and restart
it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import neo4j
import pytest

from api.auth import Role, mint_token
from api.loaders import Context
from api.schema import schema
from contract.settings import Settings
from graph import server
from graph.db import connect_async
from tests.api.conftest import ADMIN, SECRET, seed, serving

PASSWORD = "outage-test-password"
Q = {"query": '{ member(id: "A") { id } }'}


@pytest.fixture
def own_neo4j(
    tmp_path: Path, api_settings: Settings
) -> Iterator[tuple[Settings, server.ServerPaths]]:
    paths = server.ServerPaths(tmp_path / "neo4j")
    port = server.free_port()
    server.start(paths, port=port, password=PASSWORD, heap="512m", pagecache="64m")
    try:
        yield (
            replace(
                api_settings,
                neo4j_uri=f"bolt://127.0.0.1:{port}",
                neo4j_password=PASSWORD,
                neo4j_data_dir=paths.root,
            ),
            paths,
        )
    finally:
        server.stop(paths)


def ask(client: httpx.Client) -> dict[str, Any]:
    token = mint_token(SECRET, role=Role.ADMIN)
    r = client.post("/graphql", json=Q, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def recovered(client: httpx.Client, tries: int = 5) -> dict[str, Any]:
    """The first answer that is neither UNAVAILABLE nor TIMEOUT: a server just started plans its
    first queries slowly, and on a busy machine the first may pass the request's deadline
    (each try ends by the deadline; no sleeping)."""
    for _ in range(tries):
        body = ask(client)
        codes = [e["extensions"]["code"] for e in body.get("errors", [])]
        if codes not in (["UNAVAILABLE"], ["TIMEOUT"]):
            break
    return body


def test_unavailable_while_neo4j_is_down_and_recovers(
    own_neo4j: tuple[Settings, server.ServerPaths],
) -> None:
    settings, paths = own_neo4j
    with serving(settings) as client:
        assert recovered(client) == {"data": {"member": None}}
        assert client.get("/readyz").status_code == 200

        server.stop(paths)
        down = ask(client)
        assert down["data"] == {"member": None}
        assert [e["extensions"]["code"] for e in down["errors"]] == ["UNAVAILABLE"]
        assert "bolt" not in down["errors"][0]["message"].lower()
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable"
        assert client.get("/healthz").status_code == 200

        server.start(
            paths, port=settings.bolt_port, password=PASSWORD, heap="512m", pagecache="64m"
        )
        assert recovered(client) == {"data": {"member": None}}
        assert client.get("/readyz").status_code == 200


def test_unavailable_within_two_seconds_while_neo4j_is_paused(
    own_neo4j: tuple[Settings, server.ServerPaths],
) -> None:
    """A paused server accepts connections and never answers: only the API's own probe tells."""
    settings, paths = own_neo4j
    seed(settings, [("A", None, "2026-01-01T00:00:00+08:00")])
    pid = int(paths.pid_file.read_text().split()[0])
    member = mint_token(SECRET, role=Role.MEMBER, member_id="A")
    with serving(settings) as client:
        assert recovered(client) == {"data": {"member": {"id": "A"}}}
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            down = ask(client)
            took = time.monotonic() - started
            assert down["data"] == {"member": None}
            assert [e["extensions"]["code"] for e in down["errors"]] == ["UNAVAILABLE"]
            assert took < 2.0, f"UNAVAILABLE after {took:.2f} s"

            started = time.monotonic()
            ready = client.get("/readyz")
            took = time.monotonic() - started
            assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
            assert took < 1.0, f"/readyz answered after {took:.2f} s"

            # A member token's first request looks its member up: that too is UNAVAILABLE.
            started = time.monotonic()
            r = client.post("/graphql", json=Q, headers={"Authorization": f"Bearer {member}"})
            took = time.monotonic() - started
            assert r.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
            assert took < 2.0, f"UNAVAILABLE after {took:.2f} s"
        finally:
            os.kill(pid, signal.SIGCONT)
        assert recovered(client) == {"data": {"member": {"id": "A"}}}
        assert client.get("/readyz").status_code == 200


def test_write_stuck_on_a_lock_times_out(api_settings: Settings, graph: neo4j.Driver) -> None:
    seed(api_settings, [("A", None, "2026-01-01T00:00:00+08:00")])
    quick = replace(api_settings, query_timeout_s=0.5)

    async def suspend() -> Any:
        driver = connect_async(quick)
        try:
            ctx = Context(driver=driver, settings=quick, principal=ADMIN)
            return await schema.execute(
                'mutation { suspendMember(id: "A", reason: "test") { __typename } }',
                context_value=ctx,
            )
        finally:
            await driver.close()

    # Another transaction holds A's write lock until we let go of it.
    with graph.session(database=api_settings.neo4j_database) as session:
        tx = session.begin_transaction()
        tx.run("MATCH (m:Member {id: 'A'}) SET m.name = 'locked'").consume()
        try:
            result = asyncio.run(suspend())
        finally:
            tx.rollback()
    assert result.data is None
    assert [e.extensions["code"] for e in result.errors] == ["TIMEOUT"]
    with graph.session(database=api_settings.neo4j_database) as session:
        record = session.run("MATCH (m:Member {id: 'A'}) RETURN m.suspended AS s").single()
        assert record is not None and record["s"] is False
