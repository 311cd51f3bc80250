"""downline token and downline serve, run as users run them."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from api.auth import Role, decode_token
from graph.server import free_port
from tests.api.conftest import SECRET
from tests.cli import ROOT, downline


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return {**cli_env, "DOWNLINE_JWT_SECRET": SECRET}


def test_token_for_a_member(env: dict[str, str]) -> None:
    result = downline("token", "--role", "member", "--member", "M7", "--ttl", "2h", env=env)
    assert result.returncode == 0, result.stderr
    principal = decode_token(SECRET, result.stdout.strip())
    assert principal.role is Role.MEMBER and principal.member_id == "M7"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--role", "member"), "needs --member"),
        (("--role", "admin", "--member", "X"), "only for --role member"),
        (("--role", "admin", "--ttl", "soon"), "not a duration"),
        (("--role", "root"), "root"),
    ],
)
def test_token_refuses_bad_arguments(
    env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    result = downline("token", *args, env=env)
    assert result.returncode != 0
    assert message in result.stderr


def test_token_needs_the_secret(env: dict[str, str]) -> None:
    result = downline("token", "--role", "admin", env={**env, "DOWNLINE_JWT_SECRET": ""})
    assert result.returncode == 1
    assert "DOWNLINE_JWT_SECRET is not set" in result.stderr


def test_serve_prints_an_admin_token_and_serves(env: dict[str, str]) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "downline", "serve", "--port", str(port)],
        env={**env, "PYTHONUNBUFFERED": "1"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        assert lines[0].startswith(f"Dashboard: http://127.0.0.1:{port}/ ")
        assert lines[1].strip() == f"GraphiQL: http://127.0.0.1:{port}/graphql"
        token = lines[3].strip()
        assert decode_token(SECRET, token).role is Role.ADMIN
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(200):
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            body = client.post(
                "/graphql",
                json={"query": '{ member(id: "none") { id } }'},
                headers={"Authorization": f"Bearer {token}"},
            ).json()
        assert body == {"data": {"member": None}}
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_serve_without_graphiql_prints_no_token(env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "downline", "serve", "--port", str(free_port())],
        env={**env, "PYTHONUNBUFFERED": "1", "DOWNLINE_GRAPHIQL": "false"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("GraphQL API: ")
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize(
    ("args", "extra", "logged"),
    [
        ((), {}, True),
        (("--no-access-log",), {}, False),
        ((), {"DOWNLINE_ACCESS_LOG": "false"}, False),
        (("--access-log",), {"DOWNLINE_ACCESS_LOG": "false"}, True),
    ],
)
def test_serve_access_log_switch(
    env: dict[str, str], args: tuple[str, ...], extra: dict[str, str], logged: bool
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "downline", "serve", "--port", str(port), *args],
        env={**env, **extra, "PYTHONUNBUFFERED": "1", "DOWNLINE_GRAPHIQL": "false"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(400):
                try:
                    assert client.get("/healthz").status_code == 200
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            assert client.get("/readyz").status_code == 200
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "Application startup complete" in output
    assert ('"GET /readyz HTTP/1.1" 200' in output) is logged
