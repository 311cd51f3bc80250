"""downline token: mint a bearer token for local use (GraphiQL, curl)."""

from __future__ import annotations

import re
from datetime import timedelta

import typer

from api.auth import Role, mint_token
from contract.settings import SettingsError
from downline.commands.common import fail, out, settings

_TTL = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_ttl(text: str) -> timedelta:
    """'90s', '15m', '1h', '7d'."""
    match = _TTL.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration like 15m, 1h or 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def command(
    role: Role = typer.Option(..., "--role", help="admin, analyst or member."),
    member: str | None = typer.Option(None, "--member", help="The member id (role member)."),
    sub: str | None = typer.Option(
        None, "--sub", help="Who holds a staff token (admin, analyst); the audit trail names them."
    ),
    ttl: str = typer.Option(
        "1h",
        "--ttl",
        help="How long it is valid: 15m, 1h, 12h; at most DOWNLINE_TOKEN_MAX_<ROLE> seconds.",
    ),
) -> None:
    """Prints a signed JWT (HS256, DOWNLINE_JWT_SECRET) for the API."""
    if role is Role.MEMBER and not member:
        fail("a member token needs --member ID")
    if role is not Role.MEMBER and member:
        fail("--member is only for --role member")
    if role is Role.MEMBER and sub:
        fail("--sub is only for --role admin or analyst; a member token names --member")
    config = settings()
    try:
        lifetime = parse_ttl(ttl)
        secret = config.require_jwt_secret()
    except (ValueError, SettingsError) as exc:
        fail(str(exc))
    longest = config.token_max_lifetime(role.value)
    if lifetime.total_seconds() > longest:
        variable = f"DOWNLINE_TOKEN_MAX_{role.value.upper()}"
        fail(
            f"--ttl {ttl} is longer than a {role.value} token may live:"
            f" at most {longest:g} seconds ({variable})"
        )
    token = mint_token(
        secret,
        role=role,
        member_id=member,
        sub=sub,
        ttl=lifetime,
        issuer=config.jwt_issuer,
        audience=config.jwt_audience,
    )
    out.print(token, soft_wrap=True)
