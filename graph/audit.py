"""The audit trail: one append-only record per admin action, written in the action's own
transaction, so an action that did not commit leaves no record and one that did always has one.

Records are never edited or deleted by any API or CLI path: this module only creates and reads
them, and ``downline db reset`` keeps them (graph/reset.py) and records itself. Only the test
fixture's ``graph.db.clear`` empties them, for test isolation. ``before`` and ``after`` are
stored as JSON text, since a record keeps whatever shape the action's object had at the time.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import neo4j

from contract.rules import check_name
from graph.db import read
from graph.errors import BadInput

SYSTEM = "system"
"""The actor of an action called from code that named nobody (tests, scripts)."""
MAX_REASON = 500
MAX_PAGE = 100

RECORD = """
CREATE (a:AuditRecord {
  id: $id, at: $at, actor: $actor, action: $action, target: $target,
  before: $before, after: $after, reason: $reason
})
"""

# Newest first; (at, id) is the order and the cursor, so a page never repeats or skips a record
# however many are added meanwhile. A target's records come from the (target, at) index.
_FILTER = """
  AND ($action IS NULL OR a.action = $action)
  AND a.at >= $start AND a.at < $end
  AND ($after_at IS NULL OR a.at < $after_at OR (a.at = $after_at AND a.id < $after_id))
WITH a ORDER BY a.at DESC, a.id DESC LIMIT $limit
RETURN a {.*} AS record
"""

BY_TARGET = (
    """
MATCH (a:AuditRecord) USING INDEX SEEK a:AuditRecord(target, at)
WHERE a.target = $target AND a.at >= $start
"""
    + _FILTER
)

ALL = (
    """
MATCH (a:AuditRecord) USING INDEX SEEK a:AuditRecord(at)
WHERE a.at >= $start
"""
    + _FILTER
)

EARLIEST = datetime.fromisoformat("0001-01-02T00:00:00+00:00")
LATEST = datetime.fromisoformat("9999-12-30T00:00:00+00:00")


@dataclass(frozen=True)
class AuditEntry:
    """What an admin did, to what, as whom, and why; ``before``/``after`` are the target's
    relevant fields (None when the action created or removed the target)."""

    actor: str
    action: str
    target: str
    at: datetime
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    reason: str | None = None

    def params(self) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "before": _json(self.before),
            "after": _json(self.after),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class AuditRecord:
    """A stored entry; ``before`` and ``after`` as the JSON text they were stored as."""

    id: str
    at: datetime
    actor: str
    action: str
    target: str
    before: str | None
    after: str | None
    reason: str | None

    @property
    def cursor(self) -> str:
        text = f"audit:{self.at.isoformat()}|{self.id}"
        return base64.urlsafe_b64encode(text.encode()).decode()


@dataclass(frozen=True)
class AuditPage:
    records: tuple[AuditRecord, ...]
    has_next: bool


def _json(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def require_reason(reason: str | None, action: str, actor: str) -> str | None:
    """The rule that an admin's transfer, suspension, adjustment or rejection says why. Only
    code that names no actor (``SYSTEM``: seeding, tests) may leave the reason out."""
    if reason is None and actor == SYSTEM:
        return None
    text = (reason or "").strip()
    if not text:
        raise BadInput(f"a reason is required for {action}")
    try:
        return check_name(text, "reason", limit=MAX_REASON)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc


def record(tx: neo4j.ManagedTransaction, entry: AuditEntry) -> None:
    """Appends ``entry`` inside the caller's (synchronous) transaction."""
    tx.run(RECORD, entry.params()).consume()


async def record_async(tx: neo4j.AsyncManagedTransaction, entry: AuditEntry) -> None:
    """Appends ``entry`` inside the caller's (asynchronous) transaction."""
    result = await tx.run(RECORD, entry.params())
    await result.consume()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (at, id) a cursor from ``AuditRecord.cursor`` stands for; BadInput for any other."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, rest = text.partition(":")
        at, _, record_id = rest.partition("|")
        if prefix != "audit" or not record_id:
            raise ValueError(text)
        return datetime.fromisoformat(at), record_id
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise BadInput("after is not a cursor this API returned") from exc


def _record_from(row: Mapping[str, Any]) -> AuditRecord:
    return AuditRecord(
        id=row["id"],
        at=row["at"].to_native(),
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        before=row.get("before"),
        after=row.get("after"),
        reason=row.get("reason"),
    )


def _query(
    target: str | None,
    action: str | None,
    start: datetime | None,
    end: datetime | None,
    first: int,
    after: str | None,
) -> tuple[str, dict[str, Any]]:
    if not 0 <= first <= MAX_PAGE:
        raise BadInput(f"first must be within 0-{MAX_PAGE}, got {first}")
    if start is not None and end is not None and start > end:
        raise BadInput("from must not be after to")
    after_at, after_id = (None, None) if after is None else decode_cursor(after)
    params = {
        "target": target,
        "action": action,
        "start": start or EARLIEST,
        "end": end or LATEST,
        "after_at": after_at,
        "after_id": after_id,
        "limit": first + 1,
    }
    return (ALL if target is None else BY_TARGET), params


def _page(rows: list[Mapping[str, Any]], first: int) -> AuditPage:
    records = tuple(_record_from(r) for r in rows)
    return AuditPage(records=records[:first], has_next=len(records) > first)


async def audit_log(
    driver: neo4j.AsyncDriver,
    *,
    target: str | None = None,
    action: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    first: int = 20,
    after: str | None = None,
    timeout: float | None = None,
    database: str = "neo4j",
) -> AuditPage:
    """Records in [start, end) on ``at``, newest first, ``first`` after the cursor ``after``."""
    query, params = _query(target, action, start, end, first, after)

    async def work(tx: neo4j.AsyncManagedTransaction) -> AuditPage:
        result = await tx.run(query, params)
        return _page([r["record"] async for r in result], first)

    return await read(driver, work, timeout=timeout, database=database)


def audit_log_sync(
    driver: neo4j.Driver,
    *,
    target: str | None = None,
    action: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    first: int = MAX_PAGE,
    after: str | None = None,
    database: str = "neo4j",
) -> AuditPage:
    """As ``audit_log``, for the CLI's synchronous driver."""
    query, params = _query(target, action, start, end, first, after)
    records, _, _ = driver.execute_query(
        query, params, database_=database, routing_=neo4j.RoutingControl.READ
    )
    return _page([r["record"] for r in records], first)
