"""Bearer JWTs (HS256): who is asking, minting tokens, and refusing requests without one."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

import jwt
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import Code, classify, send_error
from contract.settings import Settings

ALGORITHM = "HS256"
ISSUER = Settings.jwt_issuer
AUDIENCE = Settings.jwt_audience
TOKEN_CACHE_SIZE = 4096
"""Tokens kept verified; a client sends the same token with every request until it expires."""


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    MEMBER = "member"


@dataclass(frozen=True)
class Principal:
    role: Role
    member_id: str | None
    sub: str | None = None
    """The token's subject: the member for a member token, the person for a staff token."""

    @property
    def actor(self) -> str:
        """Who the audit trail names for this principal's actions."""
        return self.sub or self.member_id or self.role.value

    @property
    def is_staff(self) -> bool:
        """Admins and analysts see the whole platform."""
        return self.role in (Role.ADMIN, Role.ANALYST)


NOBODY = Principal(Role.MEMBER, None)
"""Sees nothing: a member without an id."""


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class TokenPolicy:
    """What a token must carry to be accepted: its signature, issuer, audience, and a lifetime
    (exp - iat) no longer than its role's maximum."""

    secret: str
    issuer: str = ISSUER
    audience: str = AUDIENCE
    max_member_s: float = Settings.token_max_member_s
    max_analyst_s: float = Settings.token_max_analyst_s
    max_admin_s: float = Settings.token_max_admin_s

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenPolicy:
        return cls(
            secret=settings.require_jwt_secret(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            max_member_s=settings.token_max_member_s,
            max_analyst_s=settings.token_max_analyst_s,
            max_admin_s=settings.token_max_admin_s,
        )

    def max_lifetime(self, role: Role) -> float:
        return {
            Role.MEMBER: self.max_member_s,
            Role.ANALYST: self.max_analyst_s,
            Role.ADMIN: self.max_admin_s,
        }[role]


def mint_token(
    secret: str,
    *,
    role: Role,
    member_id: str | None = None,
    sub: str | None = None,
    ttl: timedelta = timedelta(hours=1),
    now: datetime | None = None,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
) -> str:
    """A token for a member (``member_id``) or for staff (``sub``: who, for the audit trail)."""
    if role is Role.MEMBER and not member_id:
        raise ValueError("a member token needs the member's id")
    if role is Role.MEMBER and sub:
        raise ValueError("a member token's subject is its member id")
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "role": role.value,
        "iat": issued,
        "exp": issued + ttl,
        "iss": issuer,
        "aud": audience,
    }
    if member_id or sub:
        claims["sub"] = member_id or sub
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


@lru_cache(maxsize=TOKEN_CACHE_SIZE)
def _verified(policy: TokenPolicy, token: str) -> tuple[Principal, float, float]:
    """The principal, issue time and expiry (epoch seconds) of a well-signed token; raises for
    any other.

    Cached: the signature and claims of a given token never change, so only its times need
    checking again (``decode_token``, against its clock). Refusals raise, and are never cached.
    """
    try:
        claims = jwt.decode(
            token,
            policy.secret,
            algorithms=[ALGORITHM],
            issuer=policy.issuer,
            audience=policy.audience,
            options={
                "require": ["exp", "iat", "iss", "aud", "role"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    try:
        role = Role(claims["role"])
    except ValueError as exc:
        raise InvalidToken(f"unknown role {claims['role']!r}") from exc
    sub = claims.get("sub")
    if sub is not None and not isinstance(sub, str):
        raise InvalidToken("sub must be a string")
    if role is Role.MEMBER and not sub:
        raise InvalidToken("a member token needs sub")
    try:
        issued, expires = float(claims["iat"]), float(claims["exp"])
    except (TypeError, ValueError) as exc:
        raise InvalidToken("iat and exp must be numbers") from exc
    longest = policy.max_lifetime(role)
    if expires - issued > longest:
        raise InvalidToken(f"a {role.value} token may live at most {longest:g} seconds")
    if role is Role.MEMBER:
        return Principal(role=role, member_id=sub, sub=sub), issued, expires
    return Principal(role=role, member_id=None, sub=sub), issued, expires


def decode_token(secret: str | TokenPolicy, token: str, now: float | None = None) -> Principal:
    """Who a token speaks for: its signature checked once per token, its times every time.
    A bare secret means the default policy (issuer, audience, lifetimes) with that secret."""
    policy = TokenPolicy(secret) if isinstance(secret, str) else secret
    principal, issued, expires = _verified(policy, token)
    at = time.time() if now is None else now
    if at < issued:
        raise InvalidToken("The token is not yet valid (iat)")
    if at >= expires:
        raise InvalidToken("Signature has expired")
    return principal


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = bytes(value).decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def _wants_ide(scope: Scope) -> bool:
    """The GraphiQL page itself: a browser GET without a query; it sends the token per request."""
    if scope.get("method") != "GET" or b"query=" in scope.get("query_string", b""):
        return False
    accept = b"".join(v for k, v in scope.get("headers", []) if k == b"accept")
    return b"text/html" in accept


Standing = Callable[[Scope, str], Awaitable[bool]]
"""Whether a member token's member exists and is not suspended (api/standing.py)."""


class RequireToken:
    """ASGI wrapper: 401 without a valid token, or with a member token whose member does not
    exist or is suspended; puts the Principal and the token in ``scope['state']``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: str | TokenPolicy,
        allow_ide: bool,
        clock: Callable[[], float] = time.time,
        standing: Standing | None = None,
    ) -> None:
        self.app = app
        self.policy = TokenPolicy(secret) if isinstance(secret, str) else secret
        self.allow_ide = allow_ide
        self.clock = clock
        self.standing = standing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.allow_ide and _wants_ide(scope):
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        if token is None:
            await _unauthorized(send, "missing bearer token")
            return
        try:
            principal = decode_token(self.policy, token, now=self.clock())
        except InvalidToken:
            await _unauthorized(send, "invalid or expired token")
            return
        if principal.member_id is not None and self.standing is not None:
            try:
                in_good_standing = await self.standing(scope, principal.member_id)
            except Exception as exc:
                found = classify(exc)
                if found is None:
                    raise
                await send_error(send, 200, found[0], found[1])
                return
            if not in_good_standing:
                await _unauthorized(send, "the token's member does not exist or is suspended")
                return
        state = scope.setdefault("state", {})
        state["principal"] = principal
        state["token"] = token
        await self.app(scope, receive, send)


async def _unauthorized(send: Send, message: str) -> None:
    await send_error(
        send,
        401,
        Code.UNAUTHENTICATED,
        message,
        [(b"www-authenticate", b'Bearer realm="downline"')],
    )
