"""The audit trail: one append-only record per admin action, written in the action's own
transaction, so an action that did not commit leaves no record and one that did always has one.

Records are never edited or deleted by any API or CLI path; ``downline db reset`` is itself
recorded after the reset. ``before`` and ``after`` are stored as JSON text, since a record keeps
whatever shape the action's object had at the time.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import neo4j

RECORD = """
CREATE (a:AuditRecord {
  id: $id, at: $at, actor: $actor, action: $action, target: $target,
  before: $before, after: $after, reason: $reason
})
"""


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


def _json(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def record(tx: neo4j.ManagedTransaction, entry: AuditEntry) -> None:
    """Appends ``entry`` inside the caller's (synchronous) transaction."""
    tx.run(RECORD, entry.params()).consume()


async def record_async(tx: neo4j.AsyncManagedTransaction, entry: AuditEntry) -> None:
    """Appends ``entry`` inside the caller's (asynchronous) transaction."""
    result = await tx.run(RECORD, entry.params())
    await result.consume()
