"""downline serve: the GraphQL API under uvicorn."""

from __future__ import annotations

from datetime import timedelta

import typer
import uvicorn

from api.auth import Role, mint_token
from contract.settings import Settings, SettingsError
from downline.commands.common import fail, out, settings

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def factory() -> object:
    """For uvicorn workers (each a process with its own driver): the app from the environment."""
    from api.app import create_app

    return create_app(Settings.from_env())


def _hours(lifetime: timedelta) -> str:
    hours = lifetime.total_seconds() / 3600
    return f"{hours:g}h"


def command(
    host: str | None = typer.Option(None, "--host", help="Bind address (DOWNLINE_HOST)."),
    port: int | None = typer.Option(None, "--port", help="Port (DOWNLINE_PORT)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes."),
    access_log: bool | None = typer.Option(
        None,
        "--access-log/--no-access-log",
        help="One log line per request (DOWNLINE_ACCESS_LOG, default on); off under heavy load.",
    ),
) -> None:
    """Serves /graphql (GraphiQL when enabled), /healthz, /readyz and /metrics."""
    config = settings()
    bind = host or config.api_host
    listen = port or config.api_port
    try:
        secret = config.require_jwt_secret()
        config.require_password()
    except SettingsError as exc:
        fail(str(exc))
    url = f"http://{bind}:{listen}/graphql"
    if config.graphiql and bind in LOOPBACK:
        lifetime = timedelta(seconds=min(12 * 3600.0, config.token_max_admin_s))
        token = mint_token(
            secret,
            role=Role.ADMIN,
            ttl=lifetime,
            issuer=config.jwt_issuer,
            audience=config.jwt_audience,
        )
        out.print(f"Dashboard: http://{bind}:{listen}/ (paste the token below)", highlight=False)
        out.print(f"GraphiQL: {url}", highlight=False)
        out.print(
            f"Admin token ({_hours(lifetime)});"
            ' in GraphiQL set headers {"Authorization": "Bearer <token>"}:'
        )
        out.print(token, soft_wrap=True, highlight=False)
    else:
        out.print(f"GraphQL API: {url}", highlight=False)
    uvicorn.run(
        "downline.commands.serve:factory",
        factory=True,
        host=bind,
        port=listen,
        workers=workers,
        log_level="info",
        access_log=config.access_log if access_log is None else access_log,
        proxy_headers=False,
    )
