"""The HTTP API under abuse (issue 16): body size, variable shape, query cost, the request
deadline, token lifetimes, issuer and audience, members that no longer stand, a short secret, and
per-token rate limits. Each test failed on the code before these limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import neo4j
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from api.app import create_app
from api.auth import InvalidToken, Role, TokenPolicy, decode_token, mint_token
from api.body import MAX_JSON_DEPTH, MAX_JSON_ITEMS
from api.loaders import Context
from api.schema import schema
from contract.settings import Settings, SettingsError
from graph.db import connect_async
from tests.api.conftest import ADMIN, SECRET, seed, serving
from tests.cli import downline
from tests.serving import app_url

TREE = [("A", None, "2026-01-01T00:00:00+08:00"), ("B", "A", "2026-01-02T00:00:00+08:00")]
Q = '{ member(id: "A") { id } }'
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def admin() -> str:
    return mint_token(SECRET, role=Role.ADMIN)


def execute(settings: Settings, query: str, **variables: Any) -> list[tuple[str, str]]:
    """(code, message) of each error of ``query`` run by an admin under ``settings``."""

    async def go() -> list[tuple[str, str]]:
        async with connect_async(settings) as driver:
            ctx = Context(driver=driver, settings=settings, principal=ADMIN)
            result = await schema.execute(query, variable_values=variables, context_value=ctx)
        return [((e.extensions or {}).get("code", ""), e.message) for e in result.errors or []]

    return asyncio.run(go())


# 1. Request bodies over the configured size: 413 before parsing.


@pytest.fixture
def small_body(api_settings: Settings, graph: neo4j.Driver) -> Iterator[httpx.Client]:
    seed(api_settings, TREE)
    with serving(replace(api_settings, max_body_bytes=2048)) as client:
        yield client


def test_a_body_over_the_size_is_413_by_its_content_length(small_body: httpx.Client) -> None:
    body = json.dumps({"query": Q + " # " + "x" * 3000})
    r = small_body.post(
        "/graphql", content=body, headers={**bearer(admin()), "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json() == {
        "errors": [
            {"message": "the request body is over 2048 bytes", "extensions": {"code": "TOO_LARGE"}}
        ]
    }


def test_a_body_over_the_size_is_413_without_a_token_too(small_body: httpx.Client) -> None:
    r = small_body.post("/graphql", json={"query": Q + " # " + "x" * 3000})
    assert r.status_code == 413


def test_a_chunked_body_is_counted_as_it_streams(small_body: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "{ member(id: \\"A\\") { id } } # '
        for _ in range(4):
            yield b"x" * 1000
        yield b'"}'

    r = small_body.post(
        "/graphql",
        content=chunks(),
        headers={**bearer(admin()), "Content-Type": "application/json"},
    )
    assert "content-length" not in r.request.headers
    assert r.request.headers["transfer-encoding"] == "chunked"
    assert r.status_code == 413
    assert r.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"


def test_a_chunked_body_within_the_size_is_served(small_body: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "{ member(id: \\"A\\") '
        yield b'{ id } }"}'

    r = small_body.post(
        "/graphql",
        content=chunks(),
        headers={**bearer(admin()), "Content-Type": "application/json"},
    )
    assert r.json() == {"data": {"member": {"id": "A"}}}


# 2. Variables: depth and size.


def test_variables_nested_a_thousand_deep_are_bad_input(client: httpx.Client) -> None:
    nested = "[" * 1000 + "]" * 1000
    body = '{"query": "query($x: ID!) { member(id: $x) { id } }", "variables": {"x": ' + nested
    r = client.post(
        "/graphql",
        content=body + "}}",
        headers={**bearer(admin()), "Content-Type": "application/json"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "errors": [
            {
                "message": f"the request's JSON nests 1002 levels deep;"
                f" at most {MAX_JSON_DEPTH} are allowed",
                "extensions": {"code": "BAD_INPUT"},
            }
        ]
    }


def test_variables_with_too_many_values_are_bad_input(client: httpx.Client) -> None:
    body = {
        "query": 'query($x: [ID!]) { member(id: "A") { id } }',
        "variables": {"x": ["1"] * (MAX_JSON_ITEMS + 1)},
    }
    r = client.post("/graphql", json=body, headers=bearer(admin()))
    assert r.json()["errors"] == [
        {
            "message": f"the request holds more than {MAX_JSON_ITEMS} values;"
            " at most that many are allowed",
            "extensions": {"code": "BAD_INPUT"},
        }
    ]


def test_brackets_inside_strings_are_not_nesting(
    api_settings: Settings, client: httpx.Client
) -> None:
    seed(api_settings, TREE)
    query = '{ member(id: "A") { id } } # ' + "[{" * 500
    r = client.post("/graphql", json={"query": query}, headers=bearer(admin()))
    assert r.json() == {"data": {"member": {"id": "A"}}}


# 3. Query cost.


def upline_nested(levels: int) -> str:
    return '{ member(id: "A") ' + "{ upline " * levels + "{ id }" + " }" * levels + " }"


def test_upline_nested_in_itself_is_too_costly(api_settings: Settings, graph: neo4j.Driver) -> None:
    # The issue's 5 levels: 100^5 members at most, each with an id.
    errors = execute(api_settings, upline_nested(5))
    assert errors == [
        (
            "TOO_COSTLY",
            "the query may cost 10101010102 (each field 1, times the most items of every list"
            " above it); at most 20000 is allowed",
        )
    ]


def test_every_alias_counts(api_settings: Settings, graph: neo4j.Driver) -> None:
    one = (
        "r{i}: directRecruits(first: 100)"
        " {{ edges {{ node {{ id name joinedAt isAgent suspended }} }} }}"
    )
    fields = " ".join(one.format(i=i) for i in range(30))
    # Each alias 1 + 100 × (edges 1 + node 1 + its 5 fields) = 701; 30 of them under member.
    errors = execute(api_settings, f'{{ member(id: "A") {{ {fields} }} }}')
    assert [code for code, _ in errors] == ["TOO_COSTLY"]
    assert errors[0][1].startswith("the query may cost 21031 ")


def test_a_size_given_by_a_variable_counts_as_its_maximum(
    api_settings: Settings, graph: neo4j.Driver
) -> None:
    tight = replace(api_settings, max_query_cost=250)
    literal = '{ member(id: "A") { directRecruits(first: 20) { edges { node { id } } } } }'
    assert execute(tight, literal) == []
    variable = (
        'query($n: Int) { member(id: "A") { directRecruits(first: $n) { edges { node { id } } } } }'
    )
    errors = execute(tight, variable, n=20)
    assert [code for code, _ in errors] == ["TOO_COSTLY"]
    assert errors[0][1].startswith("the query may cost 302 ")


def test_the_maximum_cost_is_configured(api_settings: Settings, graph: neo4j.Driver) -> None:
    q = '{ member(id: "A") { upline { id name } } }'  # 1 + 1 + 100 × 2
    assert execute(replace(api_settings, max_query_cost=202), q) == []
    errors = execute(replace(api_settings, max_query_cost=201), q)
    assert errors == [
        (
            "TOO_COSTLY",
            "the query may cost 202 (each field 1, times the most items of every list above it);"
            " at most 201 is allowed",
        )
    ]


def test_too_costly_over_http(api_settings: Settings, client: httpx.Client) -> None:
    r = client.post("/graphql", json={"query": upline_nested(9)}, headers=bearer(admin()))
    body = r.json()
    assert r.status_code == 200 and body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["TOO_COSTLY"]


# 4. The request's deadline.


def test_thirty_aliased_subtree_revenues_stop_at_the_deadline(
    api_settings: Settings, graph: neo4j.Driver
) -> None:
    seed(api_settings, TREE, [("O1", "RETAIL", "B", "B", 10_000, "2026-02-01T00:00:00+08:00")])
    fields = " ".join(f'r{i}: subtreeRevenue(memberId: "A") {{ orderCount }}' for i in range(30))
    query = f"{{ {fields} }}"
    assert execute(api_settings, query) == []
    past_due = replace(api_settings, request_deadline_s=0.001)
    errors = execute(past_due, query)
    assert errors == [("TIMEOUT", "the query took too long and was stopped")] * 30


def test_the_deadline_over_http(api_settings: Settings, graph: neo4j.Driver) -> None:
    seed(api_settings, TREE)
    with serving(replace(api_settings, request_deadline_s=0.001)) as client:
        body = client.post("/graphql", json={"query": Q}, headers=bearer(admin())).json()
    assert body["data"] == {"member": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["TIMEOUT"]


# 6. Tokens: lifetime per role, issuer and audience, members that stand.


@pytest.mark.parametrize(
    ("role", "member", "hours"),
    [(Role.MEMBER, "M1", 24), (Role.ANALYST, None, 12), (Role.ADMIN, None, 12)],
)
def test_a_token_lives_at_most_its_roles_maximum(
    role: Role, member: str | None, hours: int
) -> None:
    longest = mint_token(SECRET, role=role, member_id=member, ttl=timedelta(hours=hours), now=NOW)
    assert decode_token(SECRET, longest, now=NOW.timestamp()).role is role
    longer = mint_token(
        SECRET, role=role, member_id=member, ttl=timedelta(hours=hours, seconds=1), now=NOW
    )
    with pytest.raises(InvalidToken, match=rf"^a {role.value} token may live at most "):
        decode_token(SECRET, longer, now=NOW.timestamp())


def test_an_admin_token_expiring_in_the_year_3000_is_refused(
    api_settings: Settings, client: httpx.Client
) -> None:
    seed(api_settings, TREE)
    forever = mint_token(SECRET, role=Role.ADMIN, ttl=datetime(3000, 1, 1, tzinfo=UTC) - NOW)
    r = client.post("/graphql", json={"query": Q}, headers=bearer(forever))
    assert r.status_code == 401
    assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "role": "admin",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 60,
        "iss": "downline",
        "aud": "downline-api",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"iss": "someone-else"}, "Invalid issuer"),
        ({"iss": None}, 'Token is missing the "iss" claim'),
        ({"aud": "another-api"}, "Audience doesn't match"),
        ({"aud": None}, 'Token is missing the "aud" claim'),
        ({"iat": None}, 'Token is missing the "iat" claim'),
    ],
)
def test_issuer_audience_and_issue_time_are_required(changes: dict[str, Any], message: str) -> None:
    good = jwt.encode(_claims(), SECRET, algorithm="HS256")
    assert decode_token(SECRET, good, now=NOW.timestamp()).role is Role.ADMIN
    bad = jwt.encode(_claims(**changes), SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken, match=f"^{message}$"):
        decode_token(SECRET, bad, now=NOW.timestamp())


def test_issuer_and_audience_are_configured(api_settings: Settings, graph: neo4j.Driver) -> None:
    seed(api_settings, TREE)
    ours = replace(api_settings, jwt_issuer="platform-sso", jwt_audience="downline-prod")
    policy = TokenPolicy.from_settings(ours)
    assert (policy.issuer, policy.audience) == ("platform-sso", "downline-prod")
    theirs = mint_token(SECRET, role=Role.ADMIN, issuer="platform-sso", audience="downline-prod")
    with serving(ours) as client:
        assert (
            client.post("/graphql", json={"query": Q}, headers=bearer(admin())).status_code == 401
        )
        r = client.post("/graphql", json={"query": Q}, headers=bearer(theirs))
    assert r.json() == {"data": {"member": {"id": "A"}}}


def test_a_member_token_for_a_member_that_does_not_exist_is_refused(
    api_settings: Settings, client: httpx.Client
) -> None:
    seed(api_settings, TREE)
    ghost = mint_token(SECRET, role=Role.MEMBER, member_id="NOBODY")
    r = client.post(
        "/graphql", json={"query": '{ member(id: "NOBODY") { id } }'}, headers=bearer(ghost)
    )
    assert r.status_code == 401
    assert r.json() == {
        "errors": [
            {
                "message": "the token's member does not exist or is suspended",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }


def test_a_suspended_members_token_is_refused_once_its_answer_is_stale(
    api_settings: Settings, graph: neo4j.Driver
) -> None:
    seed(api_settings, TREE)
    settings = replace(api_settings, member_check_s=10.0)
    now = [NOW.timestamp()]
    member = mint_token(SECRET, role=Role.MEMBER, member_id="B", ttl=timedelta(hours=1), now=NOW)
    staff = mint_token(SECRET, role=Role.ADMIN, ttl=timedelta(hours=1), now=NOW)
    mine = {"query": '{ member(id: "B") { id } }'}

    def suspend(flag: bool) -> None:
        word = str(flag).lower()
        q = (
            f'mutation {{ suspendMember(id: "B", suspended: {word}, reason: "hardening test")'
            " { __typename } }"
        )
        body = client.post("/graphql", json={"query": q}, headers=bearer(staff)).json()
        assert body == {"data": {"suspendMember": {"__typename": "Member"}}}

    with app_url(settings, clock=lambda: now[0]) as base, httpx.Client(base_url=base) as client:
        assert client.post("/graphql", json=mine, headers=bearer(member)).status_code == 200
        suspend(True)
        # The answer is remembered for member_check_s: at most that stale.
        now[0] += 9.0
        stale = client.post("/graphql", json=mine, headers=bearer(member))
        assert stale.json() == {"data": {"member": {"id": "B"}}}
        now[0] += 1.0
        refused = client.post("/graphql", json=mine, headers=bearer(member))
        assert refused.status_code == 401
        suspend(False)
        now[0] += 10.0
        again = client.post("/graphql", json=mine, headers=bearer(member))
    assert again.json() == {"data": {"member": {"id": "B"}}}


def test_downline_token_mints_what_the_api_accepts(
    cli_env: dict[str, str], api_settings: Settings
) -> None:
    env = {**cli_env, "DOWNLINE_JWT_SECRET": SECRET}
    result = downline("token", "--role", "member", "--member", "M7", "--ttl", "24h", env=env)
    assert result.returncode == 0, result.stderr
    policy = TokenPolicy.from_settings(api_settings)
    assert decode_token(policy, result.stdout.strip()).member_id == "M7"
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert (claims["iss"], claims["aud"]) == ("downline", "downline-api")

    too_long = downline("token", "--role", "admin", "--ttl", "13h", env=env)
    assert too_long.returncode == 1
    assert (
        "--ttl 13h is longer than a admin token may live: at most 43200 seconds"
        " (DOWNLINE_TOKEN_MAX_ADMIN)"
    ) in too_long.stderr

    issued = downline(
        "token",
        "--role",
        "analyst",
        env={**env, "DOWNLINE_JWT_ISSUER": "sso", "DOWNLINE_JWT_AUDIENCE": "api"},
    )
    claims = jwt.decode(issued.stdout.strip(), options={"verify_signature": False})
    assert (claims["iss"], claims["aud"]) == ("sso", "api")


# 7. A short secret is refused at start unless DOWNLINE_DEV is set.

SHORT = "only-31-bytes-long-secret-12345"


def test_a_short_secret_is_refused() -> None:
    assert len(SHORT.encode()) == 31
    with pytest.raises(SettingsError) as found:
        Settings(jwt_secret=SHORT).require_jwt_secret()
    assert str(found.value) == (
        "DOWNLINE_JWT_SECRET is 31 bytes; at least 32 are needed"
        " (DOWNLINE_DEV=1 accepts a short one on a development machine)"
    )
    assert Settings(jwt_secret=SHORT + "6").require_jwt_secret() == SHORT + "6"
    assert Settings(jwt_secret=SHORT, dev=True).require_jwt_secret() == SHORT
    with pytest.raises(SettingsError, match="DOWNLINE_JWT_SECRET is 31 bytes"):
        create_app(Settings(jwt_secret=SHORT, neo4j_password="x"))


@pytest.mark.parametrize("command", [("token", "--role", "admin"), ("serve", "--port", "1")])
def test_serve_and_token_refuse_a_short_secret(
    cli_env: dict[str, str], command: tuple[str, ...]
) -> None:
    env = {**cli_env, "DOWNLINE_JWT_SECRET": SHORT, "DOWNLINE_DEV": "0"}
    result = downline(*command, env=env, timeout=60)
    assert result.returncode == 1
    assert "DOWNLINE_JWT_SECRET is 31 bytes; at least 32 are needed" in result.stderr


def test_the_dev_flag_accepts_a_short_secret(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "DOWNLINE_JWT_SECRET": SHORT, "DOWNLINE_DEV": "1"}
    result = downline("token", "--role", "admin", env=env)
    assert result.returncode == 0, result.stderr
    with pytest.warns(InsecureKeyLengthWarning, match="31 bytes long"):
        assert decode_token(SHORT, result.stdout.strip()).role is Role.ADMIN


# 8. Per-token rate limits.


def test_a_token_over_its_rate_gets_429_with_retry_after(
    api_settings: Settings, graph: neo4j.Driver
) -> None:
    seed(api_settings, TREE)
    settings = replace(api_settings, rate_per_token=0.5, rate_burst=2)
    now = [NOW.timestamp()]
    one = mint_token(SECRET, role=Role.ADMIN, now=NOW)
    other = mint_token(SECRET, role=Role.ANALYST, now=NOW)
    body = {"query": Q}
    with app_url(settings, clock=lambda: now[0]) as base, httpx.Client(base_url=base) as client:
        statuses = [
            client.post("/graphql", json=body, headers=bearer(one)).status_code for _ in range(2)
        ]
        limited = client.post("/graphql", json=body, headers=bearer(one))
        assert client.post("/graphql", json=body, headers=bearer(other)).status_code == 200
        now[0] += 1.0
        still = client.post("/graphql", json=body, headers=bearer(one))
        now[0] += 1.0
        later = client.post("/graphql", json=body, headers=bearer(one))
    assert statuses == [200, 200]
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert limited.json() == {
        "errors": [
            {
                "message": "too many requests for this token; retry in 2 s",
                "extensions": {"code": "RATE_LIMITED"},
            }
        ]
    }
    assert still.status_code == 429 and still.headers["retry-after"] == "1"
    assert later.json() == {"data": {"member": {"id": "A"}}}


# Every new setting: a bad value is refused by name.


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "DOWNLINE_MAX_BODY",
            "12k",
            "DOWNLINE_MAX_BODY must be a whole number of bytes of at least 1024, got '12k'",
        ),
        (
            "DOWNLINE_MAX_QUERY_COST",
            "0",
            "DOWNLINE_MAX_QUERY_COST must be a whole number of at least 1, got '0'",
        ),
        (
            "DOWNLINE_REQUEST_DEADLINE",
            "-1",
            "DOWNLINE_REQUEST_DEADLINE must be a number of seconds above 0, got '-1'",
        ),
        (
            "DOWNLINE_TOKEN_MAX_MEMBER",
            "1d",
            "DOWNLINE_TOKEN_MAX_MEMBER must be a number of seconds above 0, got '1d'",
        ),
        (
            "DOWNLINE_MEMBER_CHECK",
            "0",
            "DOWNLINE_MEMBER_CHECK must be a number of seconds above 0, got '0'",
        ),
        (
            "DOWNLINE_RATE_LIMIT",
            "nan",
            "DOWNLINE_RATE_LIMIT must be a number of requests per second above 0, got 'nan'",
        ),
        (
            "DOWNLINE_RATE_BURST",
            "1.5",
            "DOWNLINE_RATE_BURST must be a whole number of at least 1, got '1.5'",
        ),
        ("DOWNLINE_DEV", "maybe", "DOWNLINE_DEV: expected true or false, got 'maybe'"),
        (
            "DOWNLINE_JWT_AUDIENCE",
            " ",
            "DOWNLINE_JWT_AUDIENCE must be a non-empty value without surrounding spaces",
        ),
    ],
)
def test_a_bad_setting_is_refused_by_name(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as found:
        Settings.from_env({name: value})
    assert str(found.value) == message


def test_the_new_settings_are_read() -> None:
    s = Settings.from_env(
        {
            "DOWNLINE_MAX_BODY": "2048",
            "DOWNLINE_MAX_QUERY_COST": "500",
            "DOWNLINE_REQUEST_DEADLINE": "2.5",
            "DOWNLINE_JWT_ISSUER": "sso",
            "DOWNLINE_JWT_AUDIENCE": "api",
            "DOWNLINE_TOKEN_MAX_MEMBER": "3600",
            "DOWNLINE_TOKEN_MAX_ANALYST": "1800",
            "DOWNLINE_TOKEN_MAX_ADMIN": "900",
            "DOWNLINE_MEMBER_CHECK": "5",
            "DOWNLINE_RATE_LIMIT": "20",
            "DOWNLINE_RATE_BURST": "40",
            "DOWNLINE_DEV": "1",
        }
    )
    assert (s.max_body_bytes, s.max_query_cost, s.request_deadline_s) == (2048, 500, 2.5)
    assert (s.jwt_issuer, s.jwt_audience) == ("sso", "api")
    assert [s.token_max_lifetime(r) for r in ("member", "analyst", "admin")] == [3600, 1800, 900]
    assert (s.member_check_s, s.rate_per_token, s.rate_burst, s.dev) == (5, 20, 40, True)
    d = Settings.from_env({})
    assert (d.max_body_bytes, d.max_query_cost, d.request_deadline_s, d.dev) == (
        65536,
        20000,
        5.0,
        False,
    )
    assert (d.rate_per_token, d.rate_burst) == (5000.0, 10000)
