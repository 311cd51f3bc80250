"""A write is visible to the very next read, with the API's rollup cache on.

The app keeps the decoded "changed since the refresh" between requests (graph/delta.py,
``RollupCache``). These tests read through one running app (one cache) before and after each
kind of write, and compare with the answer the store gives a reader with no cache at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import neo4j

from contract.settings import Settings
from graph.db import connect_async
from graph.members import register_member, transfer_member
from graph.revenue import subtree_revenue
from graph.rollups import refresh
from tests.api.conftest import seed, ts

TREE = [
    ("A", None, "2026-01-01T00:00:00+08:00"),
    ("B", "A", "2026-01-02T00:00:00+08:00"),
    ("C", "B", "2026-01-03T00:00:00+08:00"),
    ("D", None, "2026-01-04T00:00:00+08:00"),
    ("E", "D", "2026-01-05T00:00:00+08:00"),
]
ORDERS = [
    ("O1", "RETAIL", "B", None, 10_000, "2026-02-01T10:00:00+08:00"),
    ("O2", "RETAIL", "C", None, 20_000, "2026-02-02T10:00:00+08:00"),
    ("O3", "RETAIL", "E", None, 40_000, "2026-02-03T10:00:00+08:00"),
]
REVENUE = """query($id: ID!) {
  subtreeRevenue(memberId: $id) { groupVolume orderCount memberCount }
  member(id: $id) { metrics { groupVolume downlineSize } }
}"""
TOP = "{ topInfluencers(metric: GROUP_VOLUME, limit: 3) { member { id } value } }"


def post(client: httpx.Client, auth: dict[str, str], query: str, **variables: Any) -> Any:
    body = client.post("/graphql", json={"query": query, "variables": variables}, headers=auth)
    payload = body.json()
    assert "errors" not in payload, payload
    return payload["data"]


def uncached(settings: Settings, member_id: str) -> tuple[int, int, int]:
    """The store's answer through a reader that keeps nothing."""

    async def go() -> tuple[int, int, int]:
        async with connect_async(settings) as driver:
            found = await subtree_revenue(
                driver, member_id=member_id, start=None, end=None, max_depth=None
            )
        assert found is not None
        return found.group_volume, found.order_count, found.member_count

    return asyncio.run(go())


def test_every_kind_of_write_is_seen_by_the_next_read(
    api_settings: Settings,
    graph: neo4j.Driver,
    client: httpx.Client,
    token: Callable[..., str],
) -> None:
    seed(api_settings, TREE, ORDERS)
    refresh(graph)
    auth = {"authorization": f"Bearer {token()}"}

    def read(member_id: str) -> tuple[int, int, int]:
        data = post(client, auth, REVENUE, id=member_id)
        got = data["subtreeRevenue"]
        seen = (int(got["groupVolume"].replace(".", "")), got["orderCount"], got["memberCount"])
        assert int(data["member"]["metrics"]["groupVolume"].replace(".", "")) == seen[0]
        assert seen == uncached(api_settings, member_id), member_id
        return seen

    assert read("A") == (30_000, 2, 3)
    # Read twice more: the second answer comes from the cache, and must not differ.
    assert read("A") == read("A")

    record = """mutation($input: RecordOrderInput!) {
      recordOrder(input: $input) { ... on Order { id } ... on MutationError { code message } }
    }"""
    order = {
        "id": "N1",
        "kind": "RETAIL",
        "buyerId": "C",
        "sku": "P1",
        "amount": "5.00",
        "paidAt": "2026-03-01T10:00:00+08:00",
    }
    assert post(client, auth, record, input=order)["recordOrder"] == {"id": "N1"}
    assert read("A") == (30_500, 3, 3)

    refund = """mutation { refundOrder(id: "O1", refundedAt: "2026-03-02T10:00:00+08:00") {
      ... on Order { id } ... on MutationError { code message } } }"""
    assert post(client, auth, refund)["refundOrder"] == {"id": "O1"}
    assert read("A") == (20_500, 2, 3)
    # A refund dated before the newest one moves neither a count nor the newest refund: only
    # the change counter the mutation bumps tells the cache.
    earlier = refund.replace('"O1"', '"O2"').replace("2026-03-02", "2026-02-20")
    assert post(client, auth, earlier)["refundOrder"] == {"id": "O2"}
    assert read("A") == (500, 1, 3)

    asyncio.run(_join(api_settings))
    assert read("A") == (500, 1, 4)

    # A transfer moves D's branch (E's 400.00) under C.
    asyncio.run(_transfer(api_settings))
    assert read("A") == (40_500, 2, 6)
    top = post(client, auth, TOP)["topInfluencers"]
    assert top[0] == {"member": {"id": "A"}, "value": "405.00"}


def test_a_raw_write_outside_the_product_is_seen_too(
    api_settings: Settings,
    graph: neo4j.Driver,
    client: httpx.Client,
    token: Callable[..., str],
) -> None:
    """A data-team insert with Cypher bumps no counter, but moves the order count."""
    seed(api_settings, TREE, ORDERS)
    refresh(graph)
    auth = {"authorization": f"Bearer {token()}"}
    first = post(client, auth, REVENUE, id="A")["subtreeRevenue"]
    assert first["groupVolume"] == "300.00"
    graph.execute_query(
        """MATCH (b:Member {id: 'B'}), (p:Product {sku: 'P1'})
        CREATE (b)-[:BOUGHT]->(o:Order {id: 'RAW', kind: 'RETAIL', amount: 100, sku: 'P1',
          paid_at: datetime('2026-03-05T10:00:00+08:00')})-[:OF]->(p)"""
    )
    again = post(client, auth, REVENUE, id="A")["subtreeRevenue"]
    assert again["groupVolume"] == "301.00"
    assert again["orderCount"] == 3


async def _join(settings: Settings) -> None:
    async with connect_async(settings) as driver:
        await register_member(
            driver,
            member_id="F",
            name="Name F",
            joined_at=ts("2026-03-03T00:00:00+08:00"),
            sponsor_id="B",
        )


async def _transfer(settings: Settings) -> None:
    async with connect_async(settings) as driver:
        await transfer_member(
            driver, member_id="D", new_sponsor_id="C", at=ts("2026-03-04T00:00:00+08:00")
        )
