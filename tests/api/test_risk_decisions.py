"""clearRiskFlag and confirmRiskFlag over HTTP through the real app: admins only, the codes of
refused decisions, Member.balance.frozen and RiskFlag.state/frozen, and the audit trail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import neo4j
import pytest

from api.auth import Role, mint_token
from graph.settlement import settle
from tests.api.conftest import SECRET
from tests.graph.netbuild import at
from tests.graph.test_freeze import FLAG, build

RESULT = """__typename
  ... on RiskFlag { id kind state frozen }
  ... on MutationError { code message }"""
CLEAR = (
    "mutation ($id: ID!, $reason: String!) {"
    " clearRiskFlag(flagId: $id, reason: $reason) { " + RESULT + " } }"
)
CONFIRM = (
    "mutation ($id: ID!, $reason: String!) {"
    " confirmRiskFlag(flagId: $id, reason: $reason) { " + RESULT + " } }"
)
MEMBER = """query ($id: ID!) { member(id: $id) {
  balance { balance available frozen }
  risk { flags { id state frozen } }
  ledger(first: 10) { edges { node { orderId amount reversal } } } } }"""
AUDIT = """query ($target: String!) { auditLog(target: $target) {
  edges { node { actor action target before after reason } } } }"""

ADMIN = mint_token(SECRET, role=Role.ADMIN, sub="alice")


def post(client: httpx.Client, query: str, token: str = ADMIN, **variables: Any) -> dict[str, Any]:
    r = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def ok(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


@pytest.fixture
def frozen(client: httpx.Client, graph: neo4j.Driver, tmp_path: Path) -> httpx.Client:
    build(graph, tmp_path)
    settle(graph, cutoff=at(10))
    return client


def member(client: httpx.Client, member_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ok(post(client, MEMBER, id=member_id))["member"]
    return found


def test_balance_and_flag_show_what_is_frozen(frozen: httpx.Client) -> None:
    b = member(frozen, "B")
    assert b["balance"] == {"balance": "144.67", "available": "0.00", "frozen": "144.67"}
    assert b["risk"]["flags"] == [{"id": FLAG, "state": "OPEN", "frozen": "274.34"}]
    assert member(frozen, "A")["balance"]["frozen"] == "0.00"


@pytest.mark.parametrize(
    ("role", "sub"), [(Role.ANALYST, "ann"), (Role.MEMBER, "B"), (Role.MEMBER, "A")]
)
def test_only_admins_decide(frozen: httpx.Client, role: Role, sub: str) -> None:
    if role is Role.MEMBER:
        token = mint_token(SECRET, role=role, member_id=sub)
    else:
        token = mint_token(SECRET, role=role, sub=sub)
    for mutation in (CLEAR, CONFIRM):
        body = post(frozen, mutation, token, id=FLAG, reason="mine")
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        assert body["data"] is None
    assert member(frozen, "B")["risk"]["flags"][0]["state"] == "OPEN"
    assert ok(post(frozen, AUDIT, target=FLAG))["auditLog"]["edges"] == []


def test_clear_then_every_second_decision_is_refused(frozen: httpx.Client) -> None:
    cleared = ok(post(frozen, CLEAR, id=FLAG, reason="same household"))["clearRiskFlag"]
    assert cleared == {
        "__typename": "RiskFlag",
        "id": FLAG,
        "kind": "DUPLICATE_ACCOUNTS",
        "state": "CLEARED",
        "frozen": "0.00",
    }
    b = member(frozen, "B")
    assert b["balance"] == {"balance": "144.67", "available": "144.67", "frozen": "0.00"}
    for mutation, name in ((CLEAR, "clearRiskFlag"), (CONFIRM, "confirmRiskFlag")):
        again = ok(post(frozen, mutation, id=FLAG, reason="again"))[name]
        assert again == {
            "__typename": "MutationError",
            "code": "ALREADY_DECIDED",
            "message": f"risk flag {FLAG} is already CLEARED: a flag is decided once",
        }
    (edge,) = ok(post(frozen, AUDIT, target=FLAG))["auditLog"]["edges"]
    node = edge["node"]
    assert (node["actor"], node["action"], node["target"], node["reason"]) == (
        "alice",
        "risk_clear",
        FLAG,
        "same household",
    )
    assert json.loads(node["before"])["frozen"] == "274.34"
    assert json.loads(node["after"])["released"] == "274.34"


def test_confirm_reverses_to_the_fen(frozen: httpx.Client) -> None:
    confirmed = ok(post(frozen, CONFIRM, id=FLAG, reason="one person"))["confirmRiskFlag"]
    assert (confirmed["state"], confirmed["frozen"]) == ("CONFIRMED", "0.00")
    b, c = member(frozen, "B"), member(frozen, "C")
    assert b["balance"] == {"balance": "0.00", "available": "0.00", "frozen": "0.00"}
    assert c["balance"]["balance"] == "0.00"
    reversals = sorted(
        (e["node"]["orderId"], e["node"]["amount"])
        for e in b["ledger"]["edges"]
        if e["node"]["reversal"]
    )
    assert reversals == [("GD", "-129.67"), ("R1", "-15.00")]
    (edge,) = ok(post(frozen, AUDIT, target=FLAG))["auditLog"]["edges"]
    assert edge["node"]["action"] == "risk_confirm"
    assert json.loads(edge["node"]["after"]) | {"decision": None} == {
        "state": "CONFIRMED",
        "frozen": "0.00",
        "reversed": "-274.34",
        "reversals": 3,
        "decision": None,
    }


@pytest.mark.parametrize(
    ("flag", "reason", "code", "message"),
    [
        ("farm:0000", "r", "NOT_FOUND", "risk flag farm:0000 does not exist"),
        (FLAG, "   ", "BAD_INPUT", "a reason is required for clearing a risk flag"),
        (
            FLAG,
            "ok\u202e",
            "BAD_INPUT",
            "reason must not contain control or bidirectional formatting characters"
            " (U+202E at position 3)",
        ),
    ],
)
def test_refusals_are_mutation_errors(
    frozen: httpx.Client, flag: str, reason: str, code: str, message: str
) -> None:
    found = ok(post(frozen, CLEAR, id=flag, reason=reason))["clearRiskFlag"]
    assert found == {"__typename": "MutationError", "code": code, "message": message}
    assert member(frozen, "B")["risk"]["flags"][0] == {
        "id": FLAG,
        "state": "OPEN",
        "frozen": "274.34",
    }
    assert ok(post(frozen, AUDIT, target=FLAG))["auditLog"]["edges"] == []
