"""One real Neo4j per test session, a clean graph per test.

The server is the project's own embedded Neo4j on a free port with a temporary store, unless
NEO4J_URI is set, in which case the tests use that server (and empty its graph!).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import neo4j
import pytest

from contract.settings import Settings
from graph import server
from graph.db import apply_schema, clear, connect, connect_async
from tests.stores import GrownStore, grow

T = TypeVar("T")
PASSWORD = "downline-test"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    if os.environ.get("NEO4J_URI"):
        yield Settings.from_env(
            {
                **os.environ,
                "DOWNLINE_JWT_SECRET": os.environ.get(
                    "DOWNLINE_JWT_SECRET", "test-secret-that-is-long-enough-for-hs256"
                ),
            }
        )
        return
    root = tmp_path_factory.mktemp("neo4j")
    port = server.free_port()
    paths = server.ServerPaths(root)
    # No background index sampling: statistics change only when the product resamples them, so
    # the plan-shape tests (tests/stores.py) see exactly the statistics a test left behind.
    server.start(
        paths,
        port=port,
        password=PASSWORD,
        heap="1g",
        pagecache="256m",
        extra_conf={"db.index_sampling.background_enabled": "false"},
    )
    try:
        yield Settings(
            neo4j_uri=f"bolt://127.0.0.1:{port}",
            neo4j_password=PASSWORD,
            neo4j_data_dir=root,
            jwt_secret="test-secret-that-is-long-enough-for-hs256",
        )
    finally:
        server.stop(paths)


@pytest.fixture(scope="session")
def session_driver(settings: Settings) -> Iterator[neo4j.Driver]:
    driver = connect(settings)
    apply_schema(driver, settings.neo4j_database)
    yield driver
    driver.close()


@pytest.fixture
def graph(session_driver: neo4j.Driver, settings: Settings) -> neo4j.Driver:
    """A driver on an empty graph (constraints and indexes kept)."""
    clear(session_driver, settings.neo4j_database)
    return session_driver


@pytest.fixture(scope="module", params=["stale", "fresh"])
def grown_store(
    request: pytest.FixtureRequest,
    session_driver: neo4j.Driver,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> GrownStore:
    """One store per module and statistics state, for EXPLAIN only (tests must not write)."""
    work = tmp_path_factory.mktemp("grown")
    return grow(session_driver, settings, work, fresh=request.param == "fresh")


@pytest.fixture
def cli_env(settings: Settings, graph: neo4j.Driver) -> dict[str, str]:
    """Environment for running the ``downline`` command against the test server."""
    return {
        **os.environ,
        "NEO4J_URI": settings.neo4j_uri,
        "NEO4J_PASSWORD": settings.require_password(),
        "DOWNLINE_NEO4J_DIR": str(settings.neo4j_data_dir),
        "DOWNLINE_JWT_SECRET": settings.jwt_secret or "test-secret-that-is-long-enough-for-hs256",
    }


@pytest.fixture
def arun(settings: Settings, graph: neo4j.Driver) -> Callable[..., Any]:
    """Runs an async graph function with a fresh async driver: ``arun(fn, **kwargs)``."""

    def call(fn: Callable[..., Awaitable[T]], **kwargs: Any) -> T:
        async def go() -> T:
            async with connect_async(settings) as driver:
                return await fn(driver, **kwargs)

        return asyncio.run(go())

    return call
