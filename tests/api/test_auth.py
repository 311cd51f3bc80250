"""Tokens: verified once and then only their expiry checked, so the cache never outlives one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import neo4j
import pytest

from api.auth import InvalidToken, Role, decode_token, mint_token
from contract.settings import Settings
from tests.api.conftest import SECRET, seed
from tests.serving import app_url

OTHER = "another-secret-that-is-long-enough-too"


def test_a_known_token_still_expires() -> None:
    issued = datetime.now(UTC)
    token = mint_token(SECRET, role=Role.ANALYST, ttl=timedelta(minutes=5), now=issued)
    assert decode_token(SECRET, token).role is Role.ANALYST
    expiry = (issued + timedelta(minutes=5)).timestamp()
    with pytest.raises(InvalidToken, match="expired"):
        decode_token(SECRET, token, now=expiry)
    assert decode_token(SECRET, token, now=expiry - 1).role is Role.ANALYST


def test_a_known_token_is_refused_under_another_secret() -> None:
    token = mint_token(SECRET, role=Role.ADMIN)
    assert decode_token(SECRET, token).role is Role.ADMIN
    with pytest.raises(InvalidToken):
        decode_token(OTHER, token)


def test_refusals_are_not_remembered() -> None:
    # A token not valid yet (iat ahead of the clock) is refused, and accepted once it is.
    soon = datetime.now(UTC) + timedelta(seconds=2)
    token = mint_token(SECRET, role=Role.MEMBER, member_id="M1", now=soon)
    with pytest.raises(InvalidToken, match=r"^The token is not yet valid \(iat\)$"):
        decode_token(SECRET, token, now=soon.timestamp() - 1)
    assert decode_token(SECRET, token, now=soon.timestamp()).member_id == "M1"
    with pytest.raises(InvalidToken, match=r"^Signature has expired$"):
        decode_token(SECRET, token, now=soon.timestamp() + timedelta(hours=48).total_seconds())


def test_over_http_a_token_is_refused_once_expired(
    api_settings: Settings, graph: neo4j.Driver
) -> None:
    seed(api_settings, [("A", None, "2026-01-01T00:00:00+08:00")])
    issued = datetime(2026, 6, 1, tzinfo=UTC)
    now = [issued.timestamp()]
    token = mint_token(SECRET, role=Role.ADMIN, ttl=timedelta(seconds=2), now=issued)
    body = {"query": '{ member(id: "A") { id } }'}
    headers = {"Authorization": f"Bearer {token}"}
    with app_url(api_settings, clock=lambda: now[0]) as base, httpx.Client(base_url=base) as client:
        first = client.post("/graphql", json=body, headers=headers)
        assert first.json() == {"data": {"member": {"id": "A"}}}
        now[0] += 2
        again = client.post("/graphql", json=body, headers=headers)
    assert again.status_code == 401
    assert again.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
