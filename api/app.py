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
from api.auth import NOBODY, Principal, RequireToken, TokenPolicy
from api.body import LimitBody
from api.loaders import Context
from api.ratelimit import Buckets, Throttle
from api.schema import build_schema
from api.standing import MemberStanding
from contract.settings import Settings
from graph.db import connect_async
from graph.rollupreader import RollupReader


class State(TypedDict):
    driver: neo4j.AsyncDriver
    rollups: RollupReader
    settings: Settings
    metrics: health.Metrics
    liveness: health.Liveness


class GraphQLApp(GraphQL[Context, None]):
    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        # Only the GraphiQL page is served without a token, and it runs no operation.
        principal: Principal = request.scope["state"].get("principal", NOBODY)
        return Context(
            driver=request.state.driver,
            settings=request.state.settings,
            principal=principal,
            rollups=request.state.rollups,
            liveness=request.state.liveness,
        )


def create_app(settings: Settings, *, clock: Callable[[], float] = time.time) -> Starlette:
    """The API; ``clock`` (epoch seconds) is what tokens' times, the member look-ups' cache
    and the rate limits are checked against."""
    policy = TokenPolicy.from_settings(settings)
    metrics = health.Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        driver = connect_async(settings)
        rollups = RollupReader(driver, database=settings.neo4j_database)
        await rollups.warm()
        try:
            yield {
                "driver": driver,
                "rollups": rollups,
                "settings": settings,
                "metrics": metrics,
                "liveness": health.Liveness(driver, settings.neo4j_database),
            }
        finally:
            await driver.close()

    schema = build_schema(introspection=settings.introspection)
    graphql: Any = GraphQLApp(
        schema,
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=False,
        subscription_protocols=(),
    )
    throttled = Throttle(
        graphql,
        buckets=Buckets(rate=settings.rate_per_token, burst=settings.rate_burst, clock=clock),
    )
    authorized = RequireToken(
        throttled,
        secret=policy,
        allow_ide=settings.graphiql,
        clock=clock,
        standing=MemberStanding(ttl=settings.member_check_s, clock=clock),
    )
    protected = LimitBody(authorized, max_bytes=settings.max_body_bytes)
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
