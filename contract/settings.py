"""One typed settings object, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from contract.money import format_yuan, parse_yuan
from contract.rules import MAX_AMOUNT, Rules

MIN_SECRET_BYTES = 32


class SettingsError(RuntimeError):
    """A required setting is missing or malformed."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"expected true or false, got {value!r}")


def _flag(env: dict[str, str], name: str) -> bool:
    value = env.get(name, "").strip()
    if not value:
        return False
    try:
        return _bool(value)
    except SettingsError as exc:
        raise SettingsError(f"{name}: {exc}") from exc


def _text(env: dict[str, str], name: str, default: str) -> str:
    value = env.get(name)
    if value is None:
        return default
    if not value.strip() or value != value.strip():
        raise SettingsError(f"{name} must be a non-empty value without surrounding spaces")
    return value


def _positive(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise SettingsError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)


def _seconds(env: dict[str, str], name: str, default: float, what: str = "seconds") -> float:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise SettingsError(f"{name} must be a number of {what} above 0, got {value!r}")
    return seconds


def _bytes(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isascii() or not value.isdigit() or int(value) < 1024:
        raise SettingsError(
            f"{name} must be a whole number of bytes of at least 1024, got {value!r}"
        )
    return int(value)


def _yuan(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        fen = parse_yuan(value)
    except ValueError:
        fen = 0
    if not 0 < fen <= MAX_AMOUNT:
        raise SettingsError(
            f"{name} must be an amount in yuan above 0 and at most {format_yuan(MAX_AMOUNT)},"
            f" got {value!r}"
        )
    return fen


@dataclass(frozen=True, kw_only=True)
class Settings:
    neo4j_uri: str = "bolt://127.0.0.1:7687"
    neo4j_user: str = "neo4j"
    neo4j_password: str | None = None
    neo4j_database: str = "neo4j"
    neo4j_data_dir: Path = Path("var") / "neo4j"  # relative to where downline runs
    neo4j_heap: str = "2g"
    neo4j_pagecache: str = "2g"
    query_timeout_s: float = 10.0
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    jwt_secret: str | None = None
    graphiql: bool = True
    introspection: bool = True
    access_log: bool = True
    settle_batch: int = 5_000
    """Orders per settlement transaction (tests make runs slow and interruptible with it)."""
    settle_concurrency: int = 2
    """Reversal batches written at once (each core takes one); payout batches run one at a
    time (cypher/settlement/payouts.cypher says why)."""
    max_order_amount: int = MAX_AMOUNT
    """The largest order amount (and product price) a write accepts, in fen."""
    dev: bool = False
    """A development machine: a short JWT secret is accepted (``make run`` sets it)."""
    max_body_bytes: int = 64 * 1024
    """The largest GraphQL request body; a bigger one is refused with 413 before parsing."""
    max_query_cost: int = 20_000
    """The most a query may cost: each field 1, times the maximum sizes of the lists above it."""
    request_deadline_s: float = 5.0
    """How long one GraphQL request may take in all; past it, what is still running is TIMEOUT."""
    jwt_issuer: str = "downline"
    jwt_audience: str = "downline-api"
    token_max_member_s: float = 24 * 3600.0
    token_max_analyst_s: float = 12 * 3600.0
    token_max_admin_s: float = 12 * 3600.0
    member_check_s: float = 10.0
    """How long a member token's "exists and not suspended" answer is reused (its staleness)."""
    rate_per_token: float = 5000.0
    """Requests per second one token may make, on average."""
    rate_burst: int = 10000
    """Requests one token may make at once before the rate applies."""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        defaults = cls()
        try:
            return cls(
                neo4j_uri=e.get("NEO4J_URI", defaults.neo4j_uri),
                neo4j_user=e.get("NEO4J_USER", defaults.neo4j_user),
                neo4j_password=e.get("NEO4J_PASSWORD") or None,
                neo4j_database=e.get("NEO4J_DATABASE", defaults.neo4j_database),
                neo4j_data_dir=Path(e.get("DOWNLINE_NEO4J_DIR", str(defaults.neo4j_data_dir))),
                neo4j_heap=e.get("NEO4J_HEAP", defaults.neo4j_heap),
                neo4j_pagecache=e.get("NEO4J_PAGECACHE", defaults.neo4j_pagecache),
                query_timeout_s=_seconds(e, "DOWNLINE_QUERY_TIMEOUT", defaults.query_timeout_s),
                api_host=e.get("DOWNLINE_HOST", defaults.api_host),
                api_port=_positive(e, "DOWNLINE_PORT", defaults.api_port),
                jwt_secret=e.get("DOWNLINE_JWT_SECRET") or None,
                graphiql=_bool(e.get("DOWNLINE_GRAPHIQL", "true")),
                introspection=_bool(e.get("DOWNLINE_INTROSPECTION", "true")),
                access_log=_bool(e.get("DOWNLINE_ACCESS_LOG", "true")),
                settle_batch=_positive(e, "DOWNLINE_SETTLE_BATCH", defaults.settle_batch),
                settle_concurrency=_positive(
                    e, "DOWNLINE_SETTLE_CONCURRENCY", defaults.settle_concurrency
                ),
                max_order_amount=_yuan(e, "DOWNLINE_MAX_ORDER_AMOUNT", defaults.max_order_amount),
                dev=_flag(e, "DOWNLINE_DEV"),
                max_body_bytes=_bytes(e, "DOWNLINE_MAX_BODY", defaults.max_body_bytes),
                max_query_cost=_positive(e, "DOWNLINE_MAX_QUERY_COST", defaults.max_query_cost),
                request_deadline_s=_seconds(
                    e, "DOWNLINE_REQUEST_DEADLINE", defaults.request_deadline_s
                ),
                jwt_issuer=_text(e, "DOWNLINE_JWT_ISSUER", defaults.jwt_issuer),
                jwt_audience=_text(e, "DOWNLINE_JWT_AUDIENCE", defaults.jwt_audience),
                token_max_member_s=_seconds(
                    e, "DOWNLINE_TOKEN_MAX_MEMBER", defaults.token_max_member_s
                ),
                token_max_analyst_s=_seconds(
                    e, "DOWNLINE_TOKEN_MAX_ANALYST", defaults.token_max_analyst_s
                ),
                token_max_admin_s=_seconds(
                    e, "DOWNLINE_TOKEN_MAX_ADMIN", defaults.token_max_admin_s
                ),
                member_check_s=_seconds(e, "DOWNLINE_MEMBER_CHECK", defaults.member_check_s),
                rate_per_token=_seconds(
                    e, "DOWNLINE_RATE_LIMIT", defaults.rate_per_token, "requests per second"
                ),
                rate_burst=_positive(e, "DOWNLINE_RATE_BURST", defaults.rate_burst),
            )
        except ValueError as exc:
            raise SettingsError(f"bad setting: {exc}") from exc

    @property
    def rules(self) -> Rules:
        """The input rules of this deployment (contract/rules.py)."""
        return Rules(max_amount=self.max_order_amount)

    @property
    def bolt_port(self) -> int:
        port = urlparse(self.neo4j_uri).port
        return port if port is not None else 7687

    @property
    def bolt_host(self) -> str:
        return urlparse(self.neo4j_uri).hostname or "127.0.0.1"

    def require_password(self) -> str:
        if not self.neo4j_password:
            raise SettingsError(
                "NEO4J_PASSWORD is not set: export it (make run and make test use 'downline-dev')"
            )
        return self.neo4j_password

    def require_jwt_secret(self) -> str:
        """The secret, at least 32 bytes (an HS256 key shorter than its hash is guessable)
        unless ``dev`` (DOWNLINE_DEV) is set."""
        if not self.jwt_secret:
            raise SettingsError(
                "DOWNLINE_JWT_SECRET is not set: the API signs and checks tokens with it"
            )
        size = len(self.jwt_secret.encode())
        if size < MIN_SECRET_BYTES and not self.dev:
            raise SettingsError(
                f"DOWNLINE_JWT_SECRET is {size} bytes; at least {MIN_SECRET_BYTES} are needed"
                " (DOWNLINE_DEV=1 accepts a short one on a development machine)"
            )
        return self.jwt_secret

    def token_max_lifetime(self, role: str) -> float:
        """The longest a token of ``role`` (admin, analyst, member) may live, in seconds."""
        return {
            "member": self.token_max_member_s,
            "analyst": self.token_max_analyst_s,
            "admin": self.token_max_admin_s,
        }[role]
