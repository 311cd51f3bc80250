"""What every GraphQL module shares: the scalars, paging, argument checks and the mutation error.

It imports no other GraphQL module, so the type modules (api/types.py, api/growth.py,
api/money.py, ...) can all import it and none has to import another at call time.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, NewType, TypeVar, cast

import strawberry
from strawberry.types.scalar import ScalarDefinition

from api.errors import Code, bad_input
from contract.money import format_yuan, parse_timestamp, parse_yuan

F = TypeVar("F", bound=Callable[..., Any])


def field(description: str) -> Callable[[F], F]:
    """``strawberry.field(description=...)`` typed for mypy as the decorator it is."""
    return cast(Callable[[F], F], strawberry.field(description=description))


def mutation(description: str) -> Callable[[F], F]:
    return cast(Callable[[F], F], strawberry.mutation(description=description))


def _parse_money(value: object) -> int:
    if not isinstance(value, str):
        raise ValueError('Decimal values are strings in yuan, e.g. "399.00"')
    try:
        return parse_yuan(value)
    except ValueError as exc:
        raise ValueError(str(exc)) from exc


def _parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime values are ISO 8601 strings with an offset")
    return parse_timestamp(value)


def _serialize_money(value: int) -> str:
    return format_yuan(value)


def _serialize_datetime(value: datetime) -> str:
    return value.isoformat()


Money = NewType("Money", int)
"""Integer fen inside; a string in yuan with 2 decimals on the wire."""

DateTime = NewType("DateTime", datetime)
"""An aware datetime; ISO 8601 with its offset on the wire (one without an offset is refused)."""

SCALARS: dict[object, ScalarDefinition] = {
    Money: strawberry.scalar(
        name="Decimal",
        description='Money in yuan as a string with 2 decimals, e.g. "1234.50".',
        serialize=_serialize_money,
        parse_value=_parse_money,
    ),
    DateTime: strawberry.scalar(
        name="DateTime",
        description="ISO 8601 date and time with a UTC offset, e.g. 2026-11-30T00:00:00+08:00.",
        serialize=_serialize_datetime,
        parse_value=_parse_datetime,
    ),
}


@strawberry.enum
class OrderKind(Enum):
    RETAIL = "RETAIL"
    GIFT_PACKAGE = "GIFT_PACKAGE"


ErrorCode = Code
strawberry.enum(Code, name="ErrorCode")


def check_window(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and start > end:
        raise bad_input("from must not be after to")


def check_range(name: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise bad_input(f"{name} must be within {low}-{high}, got {value}")


def encode_cursor(member_id: str) -> str:
    return base64.urlsafe_b64encode(f"member:{member_id}".encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise bad_input("after is not a cursor this API returned") from exc
    prefix, _, member_id = text.partition(":")
    if prefix != "member" or not member_id:
        raise bad_input("after is not a cursor this API returned")
    return member_id


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, cursors: Sequence[str], *, has_next: bool, after: object | None) -> PageInfo:
        """A page's info from its edges' cursors, whether more follow, and the cursor it
        started after (a page after one has a page before it)."""
        return cls(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )


@strawberry.type(description="An expected failure of a mutation; nothing was written.")
class MutationError:
    code: ErrorCode
    message: str
