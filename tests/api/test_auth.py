"""Tokens: verified once and then only their expiry checked, so the cache never outlives one."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api.auth import InvalidToken, Role, decode_token, mint_token
from downline.settings import Settings
from tests.api.conftest import SECRET, seed

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
    with pytest.raises(InvalidToken):
        decode_token(SECRET, token)
    time.sleep(max(0.0, soon.timestamp() - time.time()) + 0.1)
    assert decode_token(SECRET, token).member_id == "M1"


def test_over_http_a_token_is_refused_once_expired(
    api_settings: Settings, client: httpx.Client
) -> None:
    seed(api_settings, [("A", None, "2026-01-01T00:00:00+08:00")])
    token = mint_token(SECRET, role=Role.ADMIN, ttl=timedelta(seconds=2))
    body = {"query": '{ member(id: "A") { id } }'}
    headers = {"Authorization": f"Bearer {token}"}
    first = client.post("/graphql", json=body, headers=headers)
    assert first.json() == {"data": {"member": {"id": "A"}}}
    time.sleep(2.2)
    again = client.post("/graphql", json=body, headers=headers)
    assert again.status_code == 401
    assert again.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
