"""Money and time at the edges: yuan text to integer fen and back, ISO timestamps with offsets.

Inside the system money is integer fen and rates integer basis points; these helpers are the
only place text becomes money, so no float ever touches it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# ASCII digits only: \d alone also takes Arabic-Indic, fullwidth and Devanagari digits, which
# int() reads as the same number. fullmatch, because $ also matches before a final newline.
_YUAN = re.compile(r"(-?)([0-9]{1,12})(?:\.([0-9]{1,2}))?")


def parse_yuan(text: str) -> int:
    """'399', '399.5', '399.50' -> 39950 fen; refuses more than 2 decimals, exponents, spaces
    and digits other than ASCII's."""
    match = _YUAN.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not an amount in yuan with at most 2 decimals")
    sign, whole, frac = match.groups()
    fen = int(whole) * 100 + int((frac or "").ljust(2, "0"))
    return -fen if sign else fen


def format_yuan(fen: int) -> str:
    """39950 -> '399.50'; -150 -> '-1.50'."""
    sign = "-" if fen < 0 else ""
    whole, frac = divmod(abs(fen), 100)
    return f"{sign}{whole}.{frac:02d}"


def parse_bp(text: str) -> int:
    value = text.strip()
    if not value.isascii() or not value.isdigit():
        raise ValueError(f"{text!r} is not a whole number of basis points")
    bp = int(value)
    if bp > 10_000:
        raise ValueError(f"{bp} bp is above 10000 (100%)")
    return bp


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 with a UTC offset; a timestamp without one is refused, never guessed, and so is
    one outside what UTC can hold (0001-01-01T00:00:00+14:00 is in year 0 there)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO 8601 timestamp") from exc
    require_offset(value, text)
    try:
        value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{text!r} is out of range (years 1-9999 in UTC)") from exc
    return value


def require_offset(value: datetime, label: object = None) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        shown = label if label is not None else value.isoformat()
        raise ValueError(f"{shown!r} has no UTC offset (write e.g. 2026-11-30T00:00:00+08:00)")
    return value
