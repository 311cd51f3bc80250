"""The audit trail through GraphQL and the CLI: who did what (the token's sub, the CLI's --actor),
reasons required, ``auditLog`` for admins only, and no path that edits or deletes a record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import neo4j
import pytest

from api.auth import Principal, Role, mint_token
from api.schema import schema
from contract.settings import Settings
from tests.api.conftest import ANALYST, SECRET, Gql, member_principal, seed
from tests.cli import ROOT, downline

ALICE = Principal(Role.ADMIN, None, sub="alice")
TREE = [
    ("A", None, "2026-01-01T00:00:00+08:00"),
    ("B", "A", "2026-01-02T00:00:00+08:00"),
    ("C", "B", "2026-01-03T00:00:00+08:00"),
    ("D", "C", "2026-01-04T00:00:00+08:00"),
]
ORDERS = [
    ("GA", "GIFT_PACKAGE", "A", None, 39_900, "2026-01-10T00:00:00+08:00"),
    ("GB", "GIFT_PACKAGE", "B", None, 39_900, "2026-01-11T00:00:00+08:00"),
]
TRANSFER = """mutation ($id: ID!, $to: ID!, $reason: String!) {
  transferMember(id: $id, sponsorId: $to, reason: $reason, at: "2026-02-01T00:00:00+08:00") {
    __typename ... on Member { id sponsor { id } } ... on MutationError { code message } } }"""
SUSPEND = """mutation ($id: ID!, $s: Boolean!, $reason: String!) {
  suspendMember(id: $id, suspended: $s, reason: $reason) {
    __typename ... on Member { id suspended } ... on MutationError { code message } } }"""
LOG = """query ($target: String, $action: String, $first: Int, $after: String) {
  auditLog(target: $target, action: $action, first: $first, after: $after) {
    edges { cursor node { id at actor action target before after reason } }
    pageInfo { hasNextPage hasPreviousPage endCursor } } }"""


@pytest.fixture
def tree(api_settings: Settings, graph: neo4j.Driver, gql: Gql) -> Gql:
    seed(api_settings, TREE, ORDERS)
    return gql


def records(driver: neo4j.Driver) -> list[dict[str, Any]]:
    found, _, _ = driver.execute_query(
        "MATCH (a:AuditRecord) RETURN properties(a) AS a ORDER BY a.at, a.id"
    )
    return [r["a"] for r in found]


def nodes(result: dict[str, Any]) -> list[dict[str, Any]]:
    assert result["errors"] == [], result["errors"]
    return [e["node"] for e in result["data"]["auditLog"]["edges"]]


def test_mutations_are_recorded_as_the_tokens_sub(tree: Gql) -> None:
    moved = tree(TRANSFER, ALICE, id="D", to="B", reason="  asked by D  ")
    assert moved["data"]["transferMember"] == {
        "__typename": "Member",
        "id": "D",
        "sponsor": {"id": "B"},
    }
    tree(SUSPEND, ALICE, id="C", s=True, reason="fraud review")
    tree(SUSPEND, Principal(Role.ADMIN, None), id="C", s=False, reason="cleared")
    got = nodes(tree(LOG, ALICE))
    assert [(n["action"], n["target"], n["actor"], n["reason"]) for n in got] == [
        ("member.unsuspend", "C", "admin", "cleared"),  # a token without sub names its role
        ("member.suspend", "C", "alice", "fraud review"),
        ("member.transfer", "D", "alice", "asked by D"),
    ]
    assert json.loads(got[2]["before"]) == {"sponsor_id": "C"}
    assert json.loads(got[2]["after"]) == {"sponsor_id": "B", "at": "2026-02-01T00:00:00+08:00"}
    assert (json.loads(got[1]["before"]), json.loads(got[1]["after"])) == (
        {"suspended": False},
        {"suspended": True},
    )
    only = nodes(tree(LOG, ALICE, target="D"))
    assert [n["action"] for n in only] == ["member.transfer"]
    assert [n["target"] for n in nodes(tree(LOG, ALICE, action="member.suspend"))] == ["C"]


def test_pages_follow_the_cursor(tree: Gql) -> None:
    for reason in ("one", "two", "three"):
        tree(SUSPEND, ALICE, id="C", s=reason != "two", reason=reason)
    first = tree(LOG, ALICE, first=2)["data"]["auditLog"]
    assert [e["node"]["reason"] for e in first["edges"]] == ["three", "two"]
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    rest = tree(LOG, ALICE, first=2, after=first["pageInfo"]["endCursor"])["data"]["auditLog"]
    assert [e["node"]["reason"] for e in rest["edges"]] == ["one"]
    assert rest["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "endCursor": rest["edges"][0]["cursor"],
    }
    bad = tree(LOG, ALICE, after="nope")
    assert [(e["code"], e["message"]) for e in bad["errors"]] == [
        ("BAD_INPUT", "after is not a cursor this API returned")
    ]
    big = tree(LOG, ALICE, first=101)
    assert [(e["code"], e["message"]) for e in big["errors"]] == [
        ("BAD_INPUT", "first must be within 0-100, got 101")
    ]


@pytest.mark.parametrize(
    ("query", "args", "field", "message"),
    [
        (TRANSFER, {"id": "D", "to": "B"}, "transferMember", "a reason is required for a transfer"),
        (SUSPEND, {"id": "D", "s": True}, "suspendMember", "a reason is required for a suspension"),
        (
            SUSPEND,
            {"id": "D", "s": False},
            "suspendMember",
            "a reason is required for an unsuspension",
        ),
    ],
)
def test_a_blank_reason_is_refused_and_writes_nothing(
    tree: Gql, graph: neo4j.Driver, query: str, args: dict[str, Any], field: str, message: str
) -> None:
    got = tree(query, ALICE, reason=" \t", **args)
    assert got["data"][field] == {
        "__typename": "MutationError",
        "code": "BAD_INPUT",
        "message": message,
    }
    assert records(graph) == []
    found, _, _ = graph.execute_query(
        "MATCH (d:Member {id: 'D'})-[:SPONSORED_BY]->(s) RETURN s.id AS s, d.suspended AS x"
    )
    assert found[0].data() == {"s": "C", "x": False}


def test_a_reason_is_a_required_argument(tree: Gql) -> None:
    got = tree('mutation { suspendMember(id: "D") { __typename } }', ALICE)
    assert [e["code"] for e in got["errors"]] == ["BAD_INPUT"]
    assert got["errors"][0]["message"] == (
        "Argument 'Mutation.suspendMember(reason:)' of type 'String!' is required,"
        " but it was not provided."
    )


def test_only_admins_read_the_audit_log(tree: Gql) -> None:
    for who in (ANALYST, member_principal("A")):
        got = tree(LOG, who)
        assert [(e["code"], e["message"]) for e in got["errors"]] == [
            ("FORBIDDEN", "only admins may do this")
        ]


def test_over_http_the_actor_is_the_tokens_sub(
    api_settings: Settings, client: httpx.Client
) -> None:
    seed(api_settings, TREE, ORDERS)
    token = mint_token(SECRET, role=Role.ADMIN, sub="bob")
    headers = {"authorization": f"Bearer {token}"}
    body = {"query": TRANSFER, "variables": {"id": "D", "to": "A", "reason": "merge"}}
    assert client.post("/graphql", json=body, headers=headers).json()["data"] == {
        "transferMember": {"__typename": "Member", "id": "D", "sponsor": {"id": "A"}}
    }
    log = client.post("/graphql", json={"query": LOG}, headers=headers).json()
    assert [
        (n["node"]["actor"], n["node"]["action"]) for n in log["data"]["auditLog"]["edges"]
    ] == [("bob", "member.transfer")]


def test_the_schema_offers_no_mutation_on_audit_records() -> None:
    mutation = schema.get_type_by_name("Mutation")
    assert mutation is not None
    sdl = str(schema)
    names = [f.python_name for f in mutation.fields]  # type: ignore[union-attr]
    assert not [n for n in names if "audit" in n.lower()]
    mutation_sdl = sdl.split("type Mutation {", 1)[1].split("\n}", 1)[0]
    assert "AuditRecord" not in mutation_sdl


def test_no_api_or_cli_path_edits_or_deletes_a_record(
    tree: Gql, graph: neo4j.Driver, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Records made first stay byte for byte while every mutation and admin command runs."""
    tree(TRANSFER, ALICE, id="D", to="B", reason="first")
    tree(SUSPEND, ALICE, id="C", s=True, reason="second")
    earlier = records(graph)
    assert len(earlier) == 2
    mutations = [
        'mutation { registerMember(input: {id: "E", name: "E", joinedAt:'
        ' "2026-01-05T00:00:00+08:00", sponsorId: "A"}) { __typename } }',
        'mutation { recordOrder(input: {id: "R1", kind: RETAIL, buyerId: "E", sellerId: "B",'
        ' sku: "P1", amount: "100.00", paidAt: "2026-01-12T00:00:00+08:00"}) { __typename } }',
        'mutation { refundOrder(id: "R1", refundedAt: "2026-01-13T00:00:00+08:00")'
        " { __typename } }",
        'mutation { transferMember(id: "D", sponsorId: "C", reason: "back") { __typename } }',
        'mutation { suspendMember(id: "C", suspended: false, reason: "ok") { __typename } }',
        'mutation { suspendMember(id: "nobody", reason: "x") { __typename } }',
    ]
    for m in mutations:
        got = tree(m, ALICE)
        assert got["errors"] == [], (m, got["errors"])
    commands = [
        ("plan", "load", str(ROOT / "plans" / "default.toml"), "--actor", "carol"),
        ("settle", "--until", "2026-03-01T00:00:00+08:00", "--actor", "carol"),
        ("reconcile",),
        ("pay", "--min", "1.00", "--out", str(tmp_path / "pay.csv")),
        ("audit", "--member", "D"),
        ("db", "schema"),
        ("db", "reset", "--yes", "--actor", "carol"),
    ]
    for args in commands:
        done = downline(*args, env=cli_env)
        assert done.returncode == 0, (args, done.stderr)
    now = records(graph)
    assert now[: len(earlier)] == earlier
    assert {r["id"] for r in earlier} <= {r["id"] for r in now}
    later = [r["action"] for r in now[len(earlier) :]]
    for action in ("member.transfer", "member.unsuspend", "plan.load", "settle", "db.reset"):
        assert action in later, (action, later)


def test_the_cli_prints_a_members_trail(
    tree: Gql, cli_env: dict[str, str], graph: neo4j.Driver
) -> None:
    tree(TRANSFER, ALICE, id="D", to="B", reason="asked by D")
    tree(SUSPEND, ALICE, id="C", s=True, reason="fraud review")
    shown = downline("audit", "--member", "D", env=cli_env)
    assert shown.returncode == 0, shown.stderr
    (line,) = shown.stdout.strip().splitlines()
    fields = line.split("\t")
    assert fields[1:5] == ["alice", "member.transfer", "D", "reason: asked by D"]
    assert fields[5] == 'before: {"sponsor_id": "C"}'
    by_action = downline("audit", "--action", "member.suspend", env=cli_env)
    assert by_action.stdout.count("\n") == 1 and "\tC\t" in by_action.stdout
    none = downline("audit", "--member", "D", "--to", "2026-01-01T00:00:00+08:00", env=cli_env)
    assert none.stdout.strip() == "no audit record matches"
    bad = downline("audit", "--from", "yesterday", env=cli_env)
    assert bad.returncode == 1 and "--from:" in bad.stderr
