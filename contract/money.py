"""Money and time at the edges: yuan text to integer fen and back, ISO timestamps with offsets.

Inside the system money is integer fen and rates integer basis points; these helpers are the
only place text becomes money, so no float ever touches it.
"""

from __future__ import annotations

import re
from datetime import datetime

_YUAN = re.compile(r"^(-?)(\d{1,12})(?:\.(\d{1,2}))?$")


def parse_yuan(text: str) -> int:
    """'399', '399.5', '399.50' -> 39950 fen; refuses more than 2 decimals, signs, exponents."""
    match = _YUAN.match(text.strip())
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
    if not value.isdigit():
        raise ValueError(f"{text!r} is not a whole number of basis points")
    bp = int(value)
    if bp > 10_000:
        raise ValueError(f"{bp} bp is above 10000 (100%)")
    return bp


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 with a UTC offset; a timestamp without one is refused, never guessed."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO 8601 timestamp") from exc
    require_offset(value, text)
    return value


def require_offset(value: datetime, label: object = None) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        shown = label if label is not None else value.isoformat()
        raise ValueError(f"{shown!r} has no UTC offset (write e.g. 2026-11-30T00:00:00+08:00)")
    return value
