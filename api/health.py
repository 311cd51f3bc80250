"""Liveness, readiness (Neo4j answers) and Prometheus metrics; none of them needs a token."""

from __future__ import annotations

import time

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


async def readyz(request: Request) -> Response:
    driver: neo4j.AsyncDriver = request.state.driver
    settings = request.state.settings
    try:
        ok = await reads.ping(driver, timeout=2.0, database=settings.neo4j_database)
    except Exception as exc:
        found = classify(exc)
        reason = found[1] if found else "the database did not answer"
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ok" if ok else "unavailable"}, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
