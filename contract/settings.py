"""One typed settings object, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from contract.money import format_yuan, parse_yuan
from contract.rules import MAX_AMOUNT, Rules


class SettingsError(RuntimeError):
    """A required setting is missing or malformed."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"expected true or false, got {value!r}")


def _positive(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise SettingsError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise SettingsError(f"{name} must be a number of seconds above 0, got {value!r}")
    return seconds


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
    """Settlement batches written at once: batches never conflict, so each core takes one."""
    max_order_amount: int = MAX_AMOUNT
    """The largest order amount (and product price) a write accepts, in fen."""

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
        if not self.jwt_secret:
            raise SettingsError(
                "DOWNLINE_JWT_SECRET is not set: the API signs and checks tokens with it"
            )
        return self.jwt_secret
