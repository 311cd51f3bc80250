"""Liveness, readiness (Neo4j answers) and Prometheus metrics; none of them needs a token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import neo4j
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import classify
from graph import reads


class Metrics:
    """One registry per app, so several apps in one process (tests) do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "downline_http_requests",
            "HTTP requests by path and status.",
            ["path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "downline_http_request_seconds",
            "HTTP request latency by path.",
            ["path"],
            registry=self.registry,
        )


class CountRequests:
    """ASGI wrapper recording each request's status and latency."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            path = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
            self.metrics.requests.labels(path, str(status)).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - started)


KNOWN_PATHS = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


READY_TIMEOUT_S = 0.8
"""/readyz answers within a second, even when Neo4j has stopped answering."""
PROBE_TIMEOUT_S = 1.0
"""A slow call's probe: with ``loaders.SLOW_CALL_S`` before it, UNAVAILABLE within 2 s."""
PING_TIMEOUT_S = 30.0
"""The ping's own transaction timeout; askers stop waiting for it long before."""
NO_ANSWER = "the database did not answer in time"


class Liveness:
    """Whether Neo4j answers, asked only when a call is slow and by /readyz (so no ordinary
    request pays for it).

    Each kind of check runs once at a time, shared by every asker, and is never cancelled: an
    asker stops waiting for it, but a server just started still finishes it (cancelling would
    close the connection and start over cold each time). A slow call asks at the Bolt level (a
    RESET or a fresh handshake, which a busy or cold server answers at once and a paused one
    never does); /readyz asks the database itself to run a query.
    """

    def __init__(self, driver: neo4j.AsyncDriver, database: str) -> None:
        self.driver = driver
        self.database = database
        self.checks: dict[str, asyncio.Task[Any]] = {}

    async def _shared(
        self, kind: str, check: Callable[[], Awaitable[Any]], within: float
    ) -> asyncio.Task[Any] | None:
        """The finished check (its result or its error), or None if it did not end ``within``."""
        task = self.checks.get(kind)
        if task is None or task.done():
            task = self.checks[kind] = asyncio.ensure_future(check())
            task.add_done_callback(_retrieved)
        done, _ = await asyncio.wait({task}, timeout=within)
        return task if done else None

    async def alive(self) -> bool:
        """False only when Neo4j does not answer in time; a refused or broken connection is
        the slow call's own error to report (and its retry may well succeed)."""
        return (
            await self._shared("bolt", self.driver.verify_connectivity, PROBE_TIMEOUT_S) is not None
        )

    async def ready(self, within: float) -> asyncio.Task[Any] | None:
        """A query's answer (True when the database runs it), or None if none came ``within``."""

        def ping() -> Awaitable[bool]:
            return reads.ping(self.driver, timeout=PING_TIMEOUT_S, database=self.database)

        return await self._shared("query", ping, within)


def _retrieved(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def readyz(request: Request) -> Response:
    liveness: Liveness = request.state.liveness
    ping = await liveness.ready(READY_TIMEOUT_S)
    if ping is None:
        return JSONResponse({"status": "unavailable", "reason": NO_ANSWER}, status_code=503)
    failure = ping.exception()
    if failure is not None:
        found = classify(failure)
        reason = found[1] if found else NO_ANSWER
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    ok = ping.result()
    return JSONResponse({"status": "ok" if ok else "unavailable"}, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
