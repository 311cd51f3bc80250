"""Depth, alias, token and expanded-size limits, including attempts to hide past them in
fragments spread many times."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import strawberry
from graphql import get_introspection_query

from api.auth import Role, mint_token
from api.limits import MAX_ALIASES, MAX_DEPTH, MAX_FIELDS, MAX_TOKENS
from api.loaders import Context
from api.schema import build_schema
from contract.settings import Settings
from graph.db import connect_async
from tests.api.conftest import ADMIN, SECRET, Gql, seed


def refused(result: dict[str, Any], words: str) -> None:
    assert result["data"] is None
    assert [e["code"] for e in result["errors"]] == ["BAD_INPUT"] * len(result["errors"])
    assert any(words in e["message"] for e in result["errors"]), result["errors"]


def nested(depth: int) -> str:
    """member { sponsor { sponsor { ... id } } } reaching ``depth`` levels."""
    return '{ member(id: "A") ' + "{ sponsor " * (depth - 1) + "{ id }" + " }" * (depth - 1) + " }"


def test_depth_within_limit_runs(gql: Gql) -> None:
    result = gql(nested(MAX_DEPTH))
    assert result["errors"] == [] and result["data"] == {"member": None}


def test_depth_over_limit_is_refused(gql: Gql) -> None:
    refused(gql(nested(MAX_DEPTH + 1)), "exceeds maximum operation depth")


def test_depth_hidden_in_nested_fragments_is_refused(gql: Gql) -> None:
    # Each fragment adds two levels; chained, they reach far past the limit.
    frags = "".join(
        f"fragment F{i} on Member {{ sponsor {{ sponsor {{ ...F{i + 1} }} }} }}\n" for i in range(8)
    )
    frags += "fragment F8 on Member { id }\n"
    refused(gql('{ member(id: "A") { ...F0 } }\n' + frags), "exceeds maximum operation depth")


def test_aliases_over_limit_are_refused(gql: Gql) -> None:
    fields = " ".join(f"a{i}: id" for i in range(MAX_ALIASES + 1))
    refused(gql(f'{{ member(id: "A") {{ {fields} }} }}'), "aliases")


def test_aliases_hidden_in_a_fragment_spread_many_times_are_refused(gql: Gql) -> None:
    # 5 aliases in the fragment, spread 10 times under different parents: 50 aliases.
    spreads = " ".join(f'm{i}: member(id: "A") {{ ...F }}' for i in range(7))
    query = f"{{ {spreads} }}\nfragment F on Member {{ a: id b: id c: id d: id e: id }}"
    refused(gql(query), "aliases")


def test_tokens_over_limit_are_refused(gql: Gql) -> None:
    fields = " ".join(["id"] * MAX_TOKENS)
    refused(gql(f'{{ member(id: "A") {{ {fields} }} }}'), "token")


def test_fragment_bomb_is_refused_quickly(gql: Gql) -> None:
    """Ten fragments each spreading the next ten times: 10^10 fields once expanded. Refused by
    size before any rule walks the expansion (which would never finish)."""
    frags = "".join(
        f"fragment F{i} on Member {{ " + " ".join([f"...F{i + 1}"] * 10) + " }\n" for i in range(10)
    )
    frags += "fragment F10 on Member { id name }\n"
    result = gql('{ member(id: "A") { ...F0 } }\n' + frags)
    refused(result, f"at most {MAX_FIELDS} are allowed")


def test_fragment_cycle_is_reported_not_looped(gql: Gql) -> None:
    query = (
        '{ member(id: "A") { ...F } }\n'
        "fragment F on Member { sponsor { ...G } }\nfragment G on Member { sponsor { ...F } }"
    )
    refused(gql(query), "Cannot spread fragment")


@pytest.mark.parametrize("first", [100, 101])
def test_page_size_is_capped_over_http(
    api_settings: Settings, client: httpx.Client, first: int
) -> None:
    seed(api_settings, [("A", None, "2026-01-01T00:00:00+08:00")])
    token = mint_token(SECRET, role=Role.ADMIN)
    q = f'{{ member(id: "A") {{ directRecruits(first: {first}) {{ totalCount }} }} }}'
    body = client.post(
        "/graphql", json={"query": q}, headers={"Authorization": f"Bearer {token}"}
    ).json()
    if first == 100:
        assert body == {"data": {"member": {"directRecruits": {"totalCount": 0}}}}
    else:
        assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"


def test_a_remembered_verdict_is_the_same_each_time(gql: Gql) -> None:
    """Each text is judged once per process; the second asking gets the same answer."""
    for _ in range(2):
        refused(gql(nested(MAX_DEPTH + 1)), "exceeds maximum operation depth")
        assert gql(nested(MAX_DEPTH))["errors"] == []
        refused(gql('{ member(id: "A") { nope } }'), "Cannot query field 'nope'")


def test_parse_errors_are_reported_each_time(gql: Gql) -> None:
    for _ in range(2):
        refused(gql('{ member(id: "A") { id }'), "Syntax Error")


def test_verdicts_are_kept_per_schema(api_settings: Settings, graph: object) -> None:
    """One text, asked of a schema with introspection and of one without, in turn."""
    query = "{ __schema { queryType { name } } }"
    open_, closed = build_schema(), build_schema(introspection=False)

    async def ask(s: strawberry.Schema) -> list[str]:
        async with connect_async(api_settings) as driver:
            ctx = Context(driver=driver, settings=api_settings, principal=ADMIN)
            result = await s.execute(query, context_value=ctx)
        return [e.message for e in result.errors or []]

    for _ in range(2):
        assert asyncio.run(ask(open_)) == []
        assert any("introspection" in m.lower() for m in asyncio.run(ask(closed)))


def test_the_standard_introspection_query_is_within_the_limits(gql: Gql) -> None:
    """What GraphiQL sends first; costed by its fields, it was refused as TOO_COSTLY."""
    got = gql(get_introspection_query())
    assert got["errors"] == []
    names = {t["name"] for t in got["data"]["__schema"]["types"]}
    assert {"Member", "Query", "Decimal", "DateTime"} <= names


def test_introspection_fields_inside_a_data_query_do_not_lift_its_cost(gql: Gql) -> None:
    many = " ".join(
        f"a{i}: topInfluencers(limit: 100) {{ member {{ upline(maxDepth: 100) {{ id }} }} }}"
        for i in range(2)
    )
    got = gql(f"{{ __schema {{ queryType {{ name }} }} {many} }}")
    assert [e["code"] for e in got["errors"]] == ["TOO_COSTLY"]
