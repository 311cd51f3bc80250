"""The input rules every write obeys, through GraphQL or a CSV file alike.

Each check raises ``ValueError`` with a message a client may be shown (it quotes the value, cut
short when long): graph/ turns it into ``BadInput``, the CSV checks into ``file:line: reason``.
Amount text is parsed by contract.money (ASCII digits, at most 2 decimals); the limits below
are the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from contract.money import format_yuan, require_offset

MAX_ID = 64
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}", re.ASCII)
ID_RULE = "1-64 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'"

MAX_NAME = 200
# C0 and C1 controls (NUL, line breaks, tabs, DEL), the line and paragraph separators, the bidi
# marks, embeddings, overrides and isolates, and lone surrogates: characters that hide or
# reorder what a name shows. Joiners stay allowed (emoji sequences use them).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""Nothing happened on a platform before this."""
FUTURE_SLACK = timedelta(days=1)
"""How far past the clock a join, payment, refund or transfer may be dated (clock skew)."""

MAX_AMOUNT = 99_999_999_999_999
"""The default largest amount, in fen: 999,999,999,999.99 yuan (parse_yuan's 12 digits)."""


def shown(value: str) -> str:
    """A value as a message quotes it: escaped, and cut short when long."""
    if len(value) <= MAX_ID:
        return repr(value)
    return f"{value[:MAX_ID]!r}... ({len(value):,} characters)"


def is_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


def check_id(value: str, what: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(f"{what} must be {ID_RULE}, got {shown(value)}")
    return value


def check_name(value: str, what: str = "name", limit: int = MAX_NAME) -> str:
    """A name (or any text a person reads back) without surrounding spaces, not empty, at most
    ``limit`` characters, nothing hidden."""
    text = value.strip()
    if not text:
        raise ValueError(f"{what} must not be empty")
    if len(text) > limit:
        raise ValueError(f"{what} must be at most {limit} characters, got {len(text):,}")
    bad = _UNSAFE.search(text)
    if bad is not None:
        raise ValueError(
            f"{what} must not contain control or bidirectional formatting characters"
            f" (U+{ord(bad.group()):04X} at position {bad.start() + 1})"
        )
    return text


def gift_package_product(commission_bp: int) -> bool:
    """A product with no commission rate is a gift package; any other is sold retail."""
    return commission_bp == 0


def kind_problem(order_id: str, kind: str, sku: str, commission_bp: int) -> str | None:
    """Why an order of ``kind`` may not be of this product, or None when it may."""
    gift = gift_package_product(commission_bp)
    if kind == "GIFT_PACKAGE" and not gift:
        return (
            f"order {order_id} is a GIFT_PACKAGE but product {sku} is retail"
            f" (commission_bp {commission_bp}; a gift package's is 0)"
        )
    if kind == "RETAIL" and gift:
        return f"order {order_id} is RETAIL but product {sku} is a gift package (commission_bp 0)"
    return None


@dataclass(frozen=True)
class Rules:
    """The limits that depend on the deployment (Settings.rules); the rest are constants."""

    max_amount: int = MAX_AMOUNT
    """The largest order amount or product price, in fen."""

    def too_large(self, fen: int, what: str = "amount") -> str | None:
        if fen <= self.max_amount:
            return None
        return f"{what} must be at most {format_yuan(self.max_amount)} yuan, got {format_yuan(fen)}"

    def check_amount(self, fen: object, what: str = "amount") -> int:
        if isinstance(fen, bool) or not isinstance(fen, int) or fen <= 0:
            raise ValueError(f"{what} must be a positive whole number of fen, got {fen!r}")
        problem = self.too_large(fen, what)
        if problem is not None:
            raise ValueError(problem)
        return fen

    @staticmethod
    def latest(now: datetime | None = None) -> datetime:
        """The latest timestamp a write may carry, ``now`` being the clock."""
        return (now or datetime.now(UTC)) + FUTURE_SLACK

    def check_time(self, value: datetime, what: str, *, latest: datetime | None = None) -> datetime:
        """Within [2000-01-01T00:00:00Z, now + 1 day]; ``latest`` saves reading the clock."""
        try:
            require_offset(value)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from exc
        if value < EARLIEST:
            raise ValueError(f"{what}: {value.isoformat()} is before {EARLIEST.isoformat()}")
        if value > (latest or self.latest()):
            raise ValueError(f"{what}: {value.isoformat()} is more than a day in the future")
        return value


DEFAULT_RULES = Rules()
