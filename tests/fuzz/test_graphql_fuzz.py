"""Schema-driven fuzzing of the real app over HTTP (issue 16).

schemathesis reads the schema the app serves (its SDL as api/schema.py builds it now, so fields
other engineers add are fuzzed too) and generates operations for every query and mutation:
6 in 10 schema-valid, 3 in 10 schema-invalid, 1 in 10 a valid ``recordOrder``. Each is sent with
an admin, analyst or member token to the real app under uvicorn on the real Neo4j, seeded with a
small network. The ``Decimal``, ``DateTime`` and ``Date`` scalars have strategies of their own
(mostly valid yuan and ISO 8601 text, some not), and ``ID`` and ``String`` draw the seed's ids
and SKUs often enough that writes such as ``recordOrder`` get past "not found".

Every response must be under 500, JSON, with every error coded and none ``INTERNAL``, no
unmasked internals in any message, and within the request deadline plus 1 s. A refused mutation
(an error on the mutation itself or a ``MutationError``) must leave the graph exactly as it was;
an accepted one that wrote something is undone by resetting the graph to the seed.

``DOWNLINE_FUZZ_CASES`` sets the number of cases (300 in ``make test``; ``python -m bench.fuzz``
runs 5,000); ``DOWNLINE_FUZZ_REPORT`` names a JSON file for the tallies.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import graphql
import httpx
import neo4j
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.graphql import nodes

from api.auth import Role, mint_token
from api.errors import Code
from api.schema import sdl
from contract.money import format_yuan
from contract.settings import Settings
from graph import plans, settlement
from graph.db import clear, connect_async
from graph.withdrawals import request_withdrawal
from tests.api.conftest import seed, ts
from tests.cli import ROOT
from tests.serving import app_url

CASES = int(os.environ.get("DOWNLINE_FUZZ_CASES", "300"))
SECRET = "fuzz-tests-secret-long-enough-for-hs256-signing"
DEADLINE_S = 10.0
"""The request deadline the app runs with here: past it the app answers TIMEOUT, and a response
later than this plus 1 s fails. Longer than production's 5 s so that the replanning after each
reset (up to 9 s on a busy machine, tests/api/conftest.py) does not turn cases into TIMEOUTs."""

TREE = [
    ("A", None, "2026-01-01T00:00:00+08:00"),
    ("B", "A", "2026-01-02T00:00:00+08:00"),
    ("C", "B", "2026-01-03T00:00:00+08:00"),
    ("D", "B", "2026-01-04T00:00:00+08:00"),
    ("E", "C", "2026-01-05T00:00:00+08:00"),
    ("F", None, "2026-01-06T00:00:00+08:00"),
]
ORDERS = [
    ("GA", "GIFT_PACKAGE", "A", None, 39_900, "2026-01-10T00:00:00+08:00"),
    ("GB", "GIFT_PACKAGE", "B", None, 39_900, "2026-02-01T00:00:00+08:00"),
    ("GC", "GIFT_PACKAGE", "C", None, 39_900, "2026-02-02T00:00:00+08:00"),
    ("R1", "RETAIL", "C", "B", 10_000, "2026-02-05T00:00:00+08:00"),
    ("R2", "RETAIL", "E", "C", 10_000, "2026-02-06T00:00:00+08:00"),
    ("R3", "RETAIL", "D", None, 10_000, "2026-02-07T00:00:00+08:00", "2026-02-08T00:00:00+08:00"),
]
MEMBER = "B"
"""The member token's member: it has an upline, a downline and a balance."""
SEED_IDS = [m for m, _, _ in TREE] + [o[0] for o in ORDERS] + ["P1", "GIFT", "default"]
SEED_TEXT = ["P1", "GIFT", "fuzz", "RETAIL", "member.transfer", "A", "B"]

# Python's and the driver's words: a message holding one is an internal that was not masked.
UNMASKED = re.compile(
    r"Traceback|File \"|Neo\.[A-Z][a-z]+Error|neo4j\.|NoneType|object has no attribute"
    r"|object is not (subscriptable|iterable|callable)|unsupported operand|KeyError|IndexError"
    r"|positional argument|unexpected keyword argument|\.py\b|strawberry\."
)
CODES = {c.value for c in Code}


def _yuan() -> st.SearchStrategy[graphql.ValueNode]:
    valid = st.integers(min_value=1, max_value=10**8).map(format_yuan)
    odd = st.sampled_from(
        ["0.00", "-1.00", "1.234", "1e3", "", " 1.00", "99999999999999999.99", "٣.٠٠", "NaN"]
    )
    return st.one_of(valid, valid, valid, odd, st.text(max_size=20)).map(nodes.String)


def _timestamps() -> st.SearchStrategy[graphql.ValueNode]:
    zones = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))])
    valid = st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 11, 30), timezones=zones
    ).map(datetime.isoformat)
    odd = st.sampled_from(
        [
            "2026-01-01T00:00:00",  # no offset
            "1999-12-31T23:59:59+00:00",  # before the platforms existed
            "2999-01-01T00:00:00+00:00",  # far future
            "0001-01-01T00:00:00+14:00",  # outside what UTC holds
            "2026-13-01T00:00:00Z",
            "yesterday",
            "",
        ]
    )
    return st.one_of(valid, valid, valid, odd, st.text(max_size=30)).map(nodes.String)


def _dates() -> st.SearchStrategy[graphql.ValueNode]:
    valid = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)).map(date.isoformat)
    odd = st.sampled_from(["2026-02-30", "2026-01-01T00:00:00Z", "20260101", ""])
    return st.one_of(valid, valid, odd, st.text(max_size=12)).map(nodes.String)


def _ids() -> st.SearchStrategy[graphql.ValueNode]:
    fresh = st.from_regex(r"\AFZ[A-Za-z0-9_.:-]{1,8}\Z")
    return st.one_of(st.sampled_from(SEED_IDS), fresh, st.text(max_size=70)).map(nodes.String)


def _strings() -> st.SearchStrategy[graphql.ValueNode]:
    return st.one_of(st.sampled_from(SEED_TEXT), st.text(max_size=60)).map(nodes.String)


def register_scalars(client_schema: graphql.GraphQLSchema) -> list[str]:
    """Our strategies for the project's scalars (and ID, String); any scalar added since gets
    plain text, so a new one is fuzzed instead of stopping the run. Returns those names."""
    schemathesis.graphql.scalar("Decimal", _yuan())
    schemathesis.graphql.scalar("DateTime", _timestamps())
    schemathesis.graphql.scalar("Date", _dates())
    schemathesis.graphql.scalar("ID", _ids())
    schemathesis.graphql.scalar("String", _strings())
    known = {"Decimal", "DateTime", "Date", "ID", "String", "Int", "Float", "Boolean"}
    unknown = sorted(
        name
        for name, t in client_schema.type_map.items()
        if isinstance(t, graphql.GraphQLScalarType) and name not in known
    )
    for name in unknown:
        schemathesis.graphql.scalar(name, st.text(max_size=30).map(nodes.String))
    return unknown


def seed_network(settings: Settings, driver: neo4j.Driver) -> None:
    """The seed every case starts from: six members, gift packages and retail orders, the
    default plan, one settlement run and an open withdrawal of A."""
    seed(settings, TREE, ORDERS)
    plans.store_plan(driver, plans.read_plan_file(ROOT / "plans" / "default.toml"))
    settlement.settle(driver, cutoff=ts("2026-03-01T00:00:00+08:00"))

    async def withdraw() -> None:
        async with connect_async(settings) as d:
            await request_withdrawal(
                d,
                member_id="A",
                amount=10_000,
                idempotency_key="seed",
                now=ts("2026-03-02T00:00:00Z"),
            )

    asyncio.run(withdraw())


FINGERPRINT_NODES = "MATCH (n) RETURN labels(n) AS labels, properties(n) AS props"
FINGERPRINT_RELS = (
    "MATCH (a)-[r]->(b) RETURN type(r) AS type, elementId(a) AS a, elementId(b) AS b,"
    " properties(r) AS props"
)


def fingerprint(driver: neo4j.Driver, database: str) -> tuple[Counter[str], Counter[str]]:
    """Every node and relationship with its labels or type and properties: the counts the
    issue asks to compare, and what a refused write might have changed in place."""
    nodes_, _, _ = driver.execute_query(FINGERPRINT_NODES, database_=database)
    rels, _, _ = driver.execute_query(FINGERPRINT_RELS, database_=database)
    return (
        Counter(repr((sorted(r["labels"]), sorted(r["props"].items()))) for r in nodes_),
        Counter(repr((r["type"], r["a"], r["b"], sorted(r["props"].items()))) for r in rels),
    )


def counts(print_: tuple[Counter[str], Counter[str]]) -> tuple[int, int]:
    return sum(print_[0].values()), sum(print_[1].values())


@dataclass
class Tally:
    cases: int = 0
    by_role: Counter[str] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    by_mode: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    reached: Counter[str] = field(default_factory=Counter)
    """Mutations whose arguments got past the scalars and validation into the resolver."""
    resets: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    slowest_s: float = 0.0
    fallback_scalars: list[str] = field(default_factory=list)
    first_refusal: dict[str, str] = field(default_factory=dict)
    """Per mutation, the first reason it was refused: what to look at when nothing is accepted."""

    def as_json(self) -> dict[str, Any]:
        return {
            k: dict(sorted(v.items())) if isinstance(v, Counter) else v
            for k, v in vars(self).items()
        }


def _with(node: Any, **changes: Any) -> Any:
    """A copy of a (frozen) graphql-core AST node with some fields changed."""
    return type(node)(**{**{k: getattr(node, k) for k in node.keys if k != "loc"}, **changes})


def with_typename(body: str) -> tuple[str, str | None]:
    """The document with ``__typename`` asked of its root field (to tell a MutationError from
    a write), and that field's response key; unchanged when it does not parse."""
    try:
        document = graphql.parse(body)
    except graphql.GraphQLError:
        return body, None
    for i, definition in enumerate(document.definitions):
        if not isinstance(definition, graphql.OperationDefinitionNode):
            continue
        selections = definition.selection_set.selections
        root = selections[0] if selections else None
        if not isinstance(root, graphql.FieldNode):
            return body, None
        key = (root.alias or root.name).value
        if root.selection_set is None:
            return body, key
        typename = graphql.FieldNode(name=graphql.NameNode(value="__typename"))
        inner = _with(root.selection_set, selections=(*root.selection_set.selections, typename))
        operation = _with(
            definition,
            selection_set=_with(
                definition.selection_set,
                selections=(_with(root, selection_set=inner), *selections[1:]),
            ),
        )
        definitions = (*document.definitions[:i], operation, *document.definitions[i + 1 :])
        return graphql.print_ast(_with(document, definitions=definitions)), key
    return body, None


def refused(payload: dict[str, Any], key: str | None) -> bool:
    """Whether the mutation was not carried out: an error about the request or the mutation
    field itself (not about a field read after the write), no result, or a MutationError."""
    errors = payload.get("errors") or []
    if any(not e.get("path") or len(e["path"]) == 1 for e in errors):
        return True
    if errors:
        # Only fields read from the result failed: the mutation returned, so it was carried
        # out, even when a non-null field's error nulled the whole result.
        return False
    data = payload.get("data")
    if not isinstance(data, dict) or key is None:
        return True
    result = data.get(key)
    return not isinstance(result, dict) or result.get("__typename") == "MutationError"


def check_response(response: httpx.Response, elapsed: float, label: str) -> dict[str, Any]:
    assert response.status_code < 500, f"{label}: HTTP {response.status_code}: {response.text}"
    assert response.headers.get("content-type", "").startswith("application/json"), (
        f"{label}: {response.headers.get('content-type')}: {response.text[:500]}"
    )
    payload = response.json()
    assert isinstance(payload, dict), f"{label}: {payload!r}"
    for error in payload.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in CODES, f"{label}: an error without a known code: {error}"
        assert code != Code.INTERNAL, f"{label}: INTERNAL: {error}"
        message = str(error.get("message", ""))
        assert not UNMASKED.search(message), f"{label}: unmasked message: {message!r}"
    assert elapsed < DEADLINE_S + 1.0, f"{label}: answered in {elapsed:.2f}s"
    return payload


@pytest.fixture
def fuzz_settings(settings: Settings) -> Settings:
    return replace(settings, jwt_secret=SECRET, request_deadline_s=DEADLINE_S)


@pytest.fixture
def served(fuzz_settings: Settings, graph: neo4j.Driver) -> Iterator[str]:
    seed_network(fuzz_settings, graph)
    with app_url(fuzz_settings) as base:
        yield base


def test_fuzz_graphql_over_http(served: str, fuzz_settings: Settings, graph: neo4j.Driver) -> None:
    database = fuzz_settings.neo4j_database
    tokens = {
        "admin": mint_token(SECRET, role=Role.ADMIN, sub="fuzz"),
        "analyst": mint_token(SECRET, role=Role.ANALYST, sub="fuzz"),
        "member": mint_token(SECRET, role=Role.MEMBER, member_id=MEMBER),
    }
    # The SDL of the schema the app serves (api/schema.py, as built now): the full introspection
    # query schemathesis would send costs more than DOWNLINE_MAX_QUERY_COST allows.
    schema = schemathesis.graphql.from_file(sdl())
    tally = Tally(fallback_scalars=register_scalars(schema.client_schema))
    positive = schema.as_strategy(GenerationMode.POSITIVE)
    negative = schema.as_strategy(GenerationMode.NEGATIVE)
    # recordOrder's input needs an existing buyer, a fitting SKU and sane money and times all at
    # once: it gets extra cases so some of them are written.
    record_order = schema["Mutation"]["recordOrder"].as_strategy(GenerationMode.POSITIVE)
    mix = [positive] * 6 + [negative] * 3 + [record_order]
    cases = st.integers(min_value=0, max_value=len(mix) - 1).flatmap(mix.__getitem__)
    seeded = counts(fingerprint(graph, database))

    with httpx.Client(base_url=served, timeout=DEADLINE_S + 30) as client:

        @settings(
            max_examples=CASES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(role=st.sampled_from(sorted(tokens)), case=cases)
        def one(role: str, case: Any) -> None:
            operation = case.operation.definition
            label = f"{role} {case.operation.label}"
            mutation = operation.is_mutation
            body, key = with_typename(str(case.body))
            before = fingerprint(graph, database) if mutation else None
            started = time.perf_counter()
            response = client.post(
                "/graphql",
                json={"query": body},
                headers={"Authorization": f"Bearer {tokens[role]}"},
            )
            elapsed = time.perf_counter() - started
            tally.cases += 1
            tally.by_role[role] += 1
            tally.by_operation[case.operation.label] += 1
            tally.by_mode[str(case.meta.generation.mode) if case.meta else "?"] += 1
            tally.statuses[str(response.status_code)] += 1
            tally.slowest_s = max(tally.slowest_s, elapsed)
            payload = check_response(response, elapsed, f"{label}\n{body}")
            for error in payload.get("errors") or []:
                tally.codes[str((error.get("extensions") or {}).get("code"))] += 1
            if not mutation:
                return
            data = payload.get("data")
            if isinstance(data, dict) or any(e.get("path") for e in payload.get("errors") or []):
                tally.reached[case.operation.label] += 1
            after = fingerprint(graph, database)
            assert before is not None
            if refused(payload, key):
                tally.refused[case.operation.label] += 1
                tally.first_refusal.setdefault(case.operation.label, json.dumps(payload)[:300])
                assert counts(after) == counts(before), (
                    f"{label}: a refused mutation changed the counts {counts(before)} ->"
                    f" {counts(after)}\n{body}\n{payload}"
                )
                assert after == before, f"{label}: a refused mutation wrote\n{body}\n{payload}"
                return
            tally.accepted[case.operation.label] += 1
            if after != before:
                clear(graph, database)
                seed_network(fuzz_settings, graph)
                tally.resets += 1
                assert counts(fingerprint(graph, database)) == seeded

        one()

    report = os.environ.get("DOWNLINE_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps(tally.as_json(), indent=2) + "\n", encoding="utf-8")
    assert tally.cases >= CASES
    assert set(tally.by_role) == set(tokens)
    # The scalars are taught: recordOrder's Decimal and DateTime arguments reach the resolver.
    assert tally.reached["Mutation.recordOrder"] > 0, tally.as_json()
