"""The ASGI app: one async driver for the process, GraphQL behind bearer tokens, health routes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypedDict

import neo4j
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from api import dashboard, health
from api.auth import NOBODY, Principal, RequireToken
from api.loaders import Context
from api.schema import build_schema
from contract.settings import Settings
from graph.db import connect_async


class State(TypedDict):
    driver: neo4j.AsyncDriver
    settings: Settings
    metrics: health.Metrics


class GraphQLApp(GraphQL[Context, None]):
    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        # Only the GraphiQL page is served without a token, and it runs no operation.
        principal: Principal = request.scope["state"].get("principal", NOBODY)
        return Context(
            driver=request.state.driver, settings=request.state.settings, principal=principal
        )


def create_app(settings: Settings, *, clock: Callable[[], float] = time.time) -> Starlette:
    """The API; ``clock`` (epoch seconds) is what tokens' times are checked against."""
    secret = settings.require_jwt_secret()
    metrics = health.Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        driver = connect_async(settings)
        try:
            yield {"driver": driver, "settings": settings, "metrics": metrics}
        finally:
            await driver.close()

    schema = build_schema(introspection=settings.introspection)
    graphql: Any = GraphQLApp(
        schema,
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=False,
        subscription_protocols=(),
    )
    protected = RequireToken(graphql, secret=secret, allow_ide=settings.graphiql, clock=clock)
    app = Starlette(
        routes=[
            Route("/graphql", protected, methods=["GET", "POST"]),
            Route("/healthz", health.healthz),
            Route("/readyz", health.readyz),
            Route("/metrics", health.metrics),
            *dashboard.routes(),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(health.CountRequests, metrics=metrics)
    return app
