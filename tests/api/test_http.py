"""Over HTTP, through the real app under uvicorn: tokens, roles, batching, health, switches."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from api.auth import Role, mint_token
from contract.settings import Settings
from tests.api.conftest import SECRET, seed, serving

Q = '{ member(id: "A") { id } }'


def post(client: httpx.Client, body: Any, token: str | None = None) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return client.post("/graphql", json=body, headers=headers)


@pytest.fixture
def seeded(api_settings: Settings, client: httpx.Client) -> httpx.Client:
    seed(
        api_settings,
        [("A", None, "2026-01-01T00:00:00+08:00"), ("B", "A", "2026-01-02T00:00:00+08:00")],
    )
    return client


def expired() -> str:
    past = datetime.now(UTC) - timedelta(hours=2)
    return mint_token(SECRET, role=Role.ADMIN, ttl=timedelta(hours=1), now=past)


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "not-a-jwt",
        "EXPIRED",
        mint_token("another-secret-that-is-long-enough-too", role=Role.ADMIN),
        jwt.encode({"role": "root", "exp": 4102444800}, SECRET, algorithm="HS256"),
        jwt.encode({"role": "member", "exp": 4102444800}, SECRET, algorithm="HS256"),
        jwt.encode({"role": "admin"}, SECRET, algorithm="HS256"),
        jwt.encode({"role": "admin", "exp": 4102444800}, None, algorithm="none"),
    ],
)
def test_no_or_bad_token_is_401(seeded: httpx.Client, bad: str | None) -> None:
    token = expired() if bad == "EXPIRED" else bad
    r = post(seeded, {"query": Q}, token)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_basic_scheme_is_401(seeded: httpx.Client) -> None:
    r = seeded.post("/graphql", json={"query": Q}, headers={"Authorization": "Basic YTpi"})
    assert r.status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_health_endpoints_need_no_token(client: httpx.Client, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200


def test_metrics_count_requests(seeded: httpx.Client) -> None:
    post(seeded, {"query": Q})
    text = seeded.get("/metrics").text
    assert 'downline_http_requests_total{path="/graphql",status="401"} 1.0' in text
    assert "downline_http_request_seconds_bucket" in text


def test_readyz_reports_neo4j(client: httpx.Client) -> None:
    assert client.get("/readyz").json() == {"status": "ok"}


def test_roles_over_http(seeded: httpx.Client) -> None:
    admin = mint_token(SECRET, role=Role.ADMIN)
    member_b = mint_token(SECRET, role=Role.MEMBER, member_id="B")
    assert post(seeded, {"query": Q}, admin).json() == {"data": {"member": {"id": "A"}}}
    denied = post(seeded, {"query": Q}, member_b).json()
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert denied["data"] == {"member": None}
    mine = post(seeded, {"query": '{ member(id: "B") { id } }'}, member_b).json()
    assert mine == {"data": {"member": {"id": "B"}}}
    analyst = mint_token(SECRET, role=Role.ANALYST)
    suspend = 'mutation { suspendMember(id: "B", reason: "test") { __typename } }'
    r = post(seeded, {"query": suspend}, analyst)
    assert r.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_batched_operations_are_refused(seeded: httpx.Client) -> None:
    admin = mint_token(SECRET, role=Role.ADMIN)
    r = post(seeded, [{"query": Q}, {"query": Q}], admin)
    assert r.status_code == 400


def test_get_queries_are_refused(seeded: httpx.Client) -> None:
    admin = mint_token(SECRET, role=Role.ADMIN)
    r = seeded.get("/graphql", params={"query": Q}, headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code in (400, 405)
    assert "data" not in r.text


def test_graphiql_page_is_served_without_token(client: httpx.Client) -> None:
    r = client.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert "graphiql" in r.text.lower()
    # A query sent from that page still needs the token.
    r = client.get("/graphql", params={"query": Q}, headers={"Accept": "text/html"})
    assert r.status_code == 401


def test_errors_never_leak_internals(seeded: httpx.Client) -> None:
    admin = mint_token(SECRET, role=Role.ADMIN)
    r = post(seeded, {"query": "{ member(id: ) { id } }"}, admin).json()
    assert r["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    r = post(seeded, {"query": '{ member(id: "A") { nope } }'}, admin).json()
    assert r["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    for e in r["errors"]:
        assert "Traceback" not in str(e) and "MATCH" not in str(e)
        assert set(e) <= {"message", "locations", "path", "extensions"}


INTROSPECT = "{ __schema { queryType { name } } }"


def test_introspection_and_graphiql_switch_off(api_settings: Settings, graph: object) -> None:
    admin = mint_token(SECRET, role=Role.ADMIN)
    with serving(api_settings) as on:
        assert post(on, {"query": INTROSPECT}, admin).json() == {
            "data": {"__schema": {"queryType": {"name": "Query"}}}
        }
    closed = replace(api_settings, graphiql=False, introspection=False)
    with serving(closed) as off:
        r = post(off, {"query": INTROSPECT}, admin).json()
        assert r["errors"][0]["extensions"]["code"] == "BAD_INPUT"
        assert "introspection" in r["errors"][0]["message"].lower()
        page = off.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 401
        page = off.get(
            "/graphql", headers={"Accept": "text/html", "Authorization": f"Bearer {admin}"}
        )
        assert "graphiql" not in page.text.lower()
