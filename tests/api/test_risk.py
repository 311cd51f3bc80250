"""Member.risk and Query.riskClusters over HTTP through the real app, and registerMember's
identity signals: analysts and admins see the flags, a member token is FORBIDDEN."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import neo4j
import pytest

from api.auth import Role
from api.scalars import encode_cursor
from contract.settings import Settings
from graph import risk
from graph.risk import flag_id

REGISTER = """
mutation ($input: RegisterMemberInput!) {
  registerMember(input: $input) {
    __typename
    ... on Member { id }
    ... on MutationError { code message }
  }
}
"""
FLAGS = """
id kind size
evidence {
  members identifierCount identifiers { kind value } tierDistance moneyAtStake sponsorId chain
}
"""
MEMBER_RISK = "query ($id: ID!) { member(id: $id) { id risk { flags { " + FLAGS + " } } } }"
CLUSTERS = (
    "query ($kind: RiskKind, $minSize: Int, $first: Int, $after: String) {"
    " riskClusters(kind: $kind, minSize: $minSize, first: $first, after: $after) {"
    " totalCount pageInfo { hasNextPage hasPreviousPage endCursor }"
    " edges { cursor node { " + FLAGS + " } } } }"
)

Token = Callable[..., str]


def post(client: httpx.Client, query: str, token: str, **variables: Any) -> dict[str, Any]:
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


def register(client: httpx.Client, token: str, **member: Any) -> dict[str, Any]:
    data = ok(post(client, REGISTER, token, input=member))
    result: dict[str, Any] = data["registerMember"]
    return result


def flag(kind: str, members: list[str], tier: int | None, chain: list[str]) -> dict[str, Any]:
    return {
        "id": flag_id(kind, members),
        "kind": kind.upper(),
        "size": len(members),
        "evidence": {
            "members": sorted(members),
            "identifierCount": 1,
            "identifiers": [{"kind": "PHONE_HASH", "value": "ph:1"}],
            "tierDistance": tier,
            "moneyAtStake": "0.00",
            "sponsorId": None,
            "chain": chain,
        },
    }


# A ── B ── C share one phone; D (under A) has a device of its own.
AB = flag("self_referral", ["A", "B"], 1, ["A", "B"])
AC = flag("self_referral", ["A", "C"], 2, ["A", "C"])
BC = flag("self_referral", ["B", "C"], 1, ["B", "C"])
DUP = flag("duplicate_accounts", ["A", "B", "C"], None, [])
RING = flag("depth_ring", ["A", "B", "C"], 2, ["A", "B", "C"])


@pytest.fixture
def flagged(
    client: httpx.Client, token: Token, graph: neo4j.Driver, settings: Settings
) -> httpx.Client:
    admin = token()
    assert register(
        client, admin, id="A", name="A", joinedAt="2026-01-01T00:00:00+08:00", phoneHash="ph:1"
    ) == {"__typename": "Member", "id": "A"}
    # A member token registers its own recruit with its signals.
    mine = token(Role.MEMBER, "A")
    assert register(
        client,
        mine,
        id="B",
        name="B",
        joinedAt="2026-01-02T00:00:00+08:00",
        sponsorId="A",
        phoneHash="ph:1",
    ) == {"__typename": "Member", "id": "B"}
    for member_id, sponsor, signals in [
        ("C", "B", {"phoneHash": "ph:1", "payeeAccount": "pay:c"}),
        ("D", "A", {"deviceId": "dev:d"}),
    ]:
        assert register(
            client,
            admin,
            id=member_id,
            name=member_id,
            joinedAt="2026-01-03T00:00:00+08:00",
            sponsorId=sponsor,
            **signals,
        ) == {"__typename": "Member", "id": member_id}
    risk.refresh(graph, settings.neo4j_database)
    return client


@pytest.mark.parametrize("role", [Role.ADMIN, Role.ANALYST])
def test_staff_see_a_members_flags_with_their_evidence(
    flagged: httpx.Client, token: Token, role: Role
) -> None:
    staff = token(role)
    data = ok(post(flagged, MEMBER_RISK, staff, id="B"))
    assert data["member"]["risk"]["flags"] == sorted(
        [AB, BC, DUP, RING], key=lambda f: (f["kind"].lower(), f["id"])
    )
    data = ok(post(flagged, MEMBER_RISK, staff, id="D"))
    assert data["member"]["risk"]["flags"] == []


@pytest.mark.parametrize("role", [Role.ADMIN, Role.ANALYST])
def test_staff_page_through_the_clusters(flagged: httpx.Client, token: Token, role: Role) -> None:
    staff = token(role)
    pairs = sorted([AB, AC, BC], key=lambda f: f["id"])
    page = ok(post(flagged, CLUSTERS, staff, kind="SELF_REFERRAL", first=2))["riskClusters"]
    assert [e["node"] for e in page["edges"]] == pairs[:2]
    assert page["totalCount"] == 3
    assert page["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "endCursor": encode_cursor(pairs[1]["id"]),
    }
    rest = ok(
        post(
            flagged,
            CLUSTERS,
            staff,
            kind="SELF_REFERRAL",
            first=2,
            after=page["edges"][1]["cursor"],
        )
    )["riskClusters"]
    assert [e["node"] for e in rest["edges"]] == pairs[2:]
    assert rest["pageInfo"]["hasNextPage"] is False
    big = ok(post(flagged, CLUSTERS, staff, minSize=3))["riskClusters"]
    assert [e["node"] for e in big["edges"]] == sorted([DUP, RING], key=lambda f: f["id"])
    every = ok(post(flagged, CLUSTERS, staff))["riskClusters"]
    assert every["totalCount"] == 5


@pytest.mark.parametrize("who", ["A", "B", "D"])
def test_a_member_token_is_forbidden(flagged: httpx.Client, token: Token, who: str) -> None:
    mine = token(Role.MEMBER, who)
    body = post(flagged, MEMBER_RISK, mine, id=who)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert [e["path"] for e in body["errors"]] == [["member", "risk"]]
    assert body["data"] is None or body["data"]["member"] is None
    body = post(flagged, CLUSTERS, mine)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert body["data"] is None


def test_arguments_out_of_range_are_bad_input(flagged: httpx.Client, token: Token) -> None:
    for variables in ({"minSize": 0}, {"first": 101}, {"after": "bm90LWEtY3Vyc29y"}):
        body = post(flagged, CLUSTERS, token(Role.ANALYST), **variables)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_INPUT"], variables


@pytest.mark.parametrize(
    ("signals", "message"),
    [
        ({"phoneHash": "has space"}, "phone_hash must be 1-128 printable ASCII"),
        ({"deviceId": "设备"}, "device_id must be 1-128 printable ASCII"),
        ({"payeeAccount": "x" * 129}, "payee_account must be at most 128 characters"),
        ({"phoneHash": ""}, "phone_hash must be 1-128 printable ASCII"),
    ],
)
def test_a_bad_identity_signal_is_refused_and_nothing_is_written(
    client: httpx.Client, token: Token, graph: neo4j.Driver, signals: dict[str, str], message: str
) -> None:
    result = register(
        client, token(), id="A", name="A", joinedAt="2026-01-01T00:00:00+08:00", **signals
    )
    assert result["__typename"] == "MutationError"
    assert result["code"] == "BAD_INPUT"
    assert message in result["message"]
    records, _, _ = graph.execute_query(
        "MATCH (n) WHERE n:Member OR n:Identifier RETURN count(n) AS n"
    )
    assert records[0]["n"] == 0


def test_api_risk_never_imports_api_types() -> None:
    tree = ast.parse((Path(__file__).parents[2] / "api" / "risk.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert "api.types" not in imported
    assert "api.scalars" in imported


LINKS = (
    "query ($kind: RiskKind) { riskClusters(kind: $kind) { edges { node {"
    " evidence { members uses { member kind value } sponsorships { member sponsor } } } } } }"
)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.ANALYST])
def test_a_clusters_edges_are_its_shared_identifier_uses_and_sponsorships(
    flagged: httpx.Client, token: Token, role: Role
) -> None:
    data = ok(post(flagged, LINKS, token(role), kind="DUPLICATE_ACCOUNTS"))
    # C's own payee account is shared with nobody: no evidence, so no edge.
    assert [e["node"]["evidence"] for e in data["riskClusters"]["edges"]] == [
        {
            "members": ["A", "B", "C"],
            "uses": [{"member": m, "kind": "PHONE_HASH", "value": "ph:1"} for m in "ABC"],
            "sponsorships": [{"member": "B", "sponsor": "A"}, {"member": "C", "sponsor": "B"}],
        }
    ]
    # A and C are two tiers apart: no sponsorship between them, one phone each.
    pair = ok(post(flagged, LINKS, token(role), kind="SELF_REFERRAL"))["riskClusters"]["edges"]
    by_members = {tuple(e["node"]["evidence"]["members"]): e["node"]["evidence"] for e in pair}
    assert by_members[("A", "C")]["sponsorships"] == []
    assert by_members[("A", "B")]["sponsorships"] == [{"member": "B", "sponsor": "A"}]
    body = post(flagged, LINKS, token(Role.MEMBER, "A"))
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
