"""Running GraphQL through the real schema and context, and over HTTP through the real app."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx
import neo4j
import pytest

from api.auth import Principal, Role, mint_token
from api.loaders import Context
from api.schema import schema
from contract.money import parse_timestamp
from contract.settings import Settings
from graph.db import connect_async
from tests import network
from tests.serving import app_url

ADMIN = Principal(Role.ADMIN, None)
ANALYST = Principal(Role.ANALYST, None)


def member_principal(member_id: str) -> Principal:
    return Principal(Role.MEMBER, member_id)


def ts(text: str) -> datetime:
    return parse_timestamp(text)


Gql = Callable[..., dict[str, Any]]
SECRET = "api-tests-secret-long-enough-for-hs256-signing"


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    """The session's Neo4j with a known, long enough JWT secret, and a request deadline that
    leaves room for planning: a test's first read after seeding replans the rollup queries
    (the statistics moved from an empty graph), measured at up to 9 s on a busy machine."""
    return replace(settings, jwt_secret=SECRET, request_deadline_s=30.0)


@pytest.fixture
def gql(api_settings: Settings, graph: neo4j.Driver) -> Gql:
    """``gql(query, principal=ADMIN, **variables)`` -> {"data", "errors"} via schema.execute."""

    def run(query: str, principal: Principal = ADMIN, **variables: Any) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            driver = connect_async(api_settings)
            try:
                ctx = Context(driver=driver, settings=api_settings, principal=principal)
                result = await schema.execute(query, variable_values=variables, context_value=ctx)
            finally:
                await driver.close()
            errors = [
                {"message": e.message, "code": (e.extensions or {}).get("code"), "path": e.path}
                for e in result.errors or []
            ]
            return {"data": result.data, "errors": errors}

        return asyncio.run(go())

    return run


@contextmanager
def serving(settings: Settings) -> Iterator[httpx.Client]:
    """The real app under a real uvicorn, and a client on it."""
    with app_url(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


@pytest.fixture
def client(api_settings: Settings, graph: neo4j.Driver) -> Iterator[httpx.Client]:
    with serving(api_settings) as c:
        yield c


@pytest.fixture
def token() -> Callable[..., str]:
    def make(role: Role = Role.ADMIN, member_id: str | None = None) -> str:
        return mint_token(SECRET, role=role, member_id=member_id)

    return make


Tree = dict[str, str | None]
SEED_PRODUCTS = (
    network.ProductRow("P1", "Tea", 10_000, 1500),
    network.ProductRow("GIFT", "Gift package", 39_900, 0),
)


def seed(
    settings: Settings,
    tree: list[tuple[str, str | None, str]],
    orders_: Sequence[tuple[Any, ...]] = (),
) -> None:
    """Members (id, sponsor, joined_at) in order, a product P1 at 1500 bp, and orders
    (id, kind, buyer, seller, amount_fen, paid_at[, refunded_at]) through the real graph code."""

    order_rows = [
        network.OrderRow(
            order_id=row[0],
            kind=row[1],
            buyer_id=row[2],
            seller_id=row[3],
            sku="GIFT" if row[1] == "GIFT_PACKAGE" else "P1",
            amount=row[4],
            paid_at=ts(row[5]),
            refunded_at=ts(row[6]) if len(row) > 6 and row[6] else None,
        )
        for row in orders_
    ]

    async def go() -> None:
        async with connect_async(settings) as driver:
            await network.record(
                driver,
                [network.MemberRow(m, sponsor, ts(joined)) for m, sponsor, joined in tree],
                SEED_PRODUCTS,
                order_rows,
            )

    asyncio.run(go())
