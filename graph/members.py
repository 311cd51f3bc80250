"""Members and the sponsor tree: register, transfer, suspend, read.

Every write checks its input and writes inside one transaction, so a refusal writes nothing;
an admin's transfer or suspension is audited (graph/audit.py) in that same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import neo4j

from contract.importfiles import IDENTIFIER_KINDS, check_identifier
from contract.rules import DEFAULT_RULES, Rules, check_id, check_name
from graph import audit
from graph.db import fetch_one as _one
from graph.db import write
from graph.errors import BadInput, Conflict, NotFound


class MemberExists(Conflict):
    """The id asked for is taken (the API words this differently for a member token)."""

    def __init__(self, member_id: str) -> None:
        super().__init__(f"member {member_id} already exists")
        self.member_id = member_id


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    joined_at: datetime
    sponsor_id: str | None
    suspended: bool


# Every anchor names its unique index (USING INDEX SEEK): on a store sampled while empty the
# planner was seen to scan the whole Member(id) index instead of seeking the key, and a plan
# must not depend on the statistics (docs/model.md, "Query plans").

MEMBER_FIELDS = """
    id: m.id, name: m.name, joined_at: m.joined_at, suspended: coalesce(m.suspended, false),
    sponsor_id: [(m)-[:SPONSORED_BY]->(s) | s.id][0]
"""

READ_MEMBER = f"""
MATCH (m:Member {{id: $id}}) USING INDEX SEEK m:Member(id)
RETURN m {{ {MEMBER_FIELDS} }} AS member
"""

MEMBER_EXISTS = "MATCH (m:Member {id: $id}) USING INDEX SEEK m:Member(id) RETURN m.id AS id"

SPONSOR_JOINED = """
MATCH (s:Member {id: $id}) USING INDEX SEEK s:Member(id)
RETURN s.joined_at AS joined_at
"""

READ_MEMBERS = f"""
UNWIND $ids AS id
MATCH (m:Member {{id: id}}) USING INDEX SEEK m:Member(id)
RETURN m {{ {MEMBER_FIELDS} }} AS member
"""

CREATE_MEMBER = f"""
CREATE (m:Member {{id: $id, name: $name, joined_at: $joined_at, suspended: false}})
WITH m
OPTIONAL MATCH (s:Member {{id: $sponsor_id}}) USING INDEX SEEK s:Member(id)
FOREACH (_ IN CASE WHEN s IS NULL THEN [] ELSE [1] END | CREATE (m)-[:SPONSORED_BY]->(s))
RETURN m {{ {MEMBER_FIELDS} }} AS member
"""

# Identity signals (docs/model.md, "Identity signals"): one shared node per (kind, value).
ADD_IDENTIFIERS = """
MATCH (m:Member {id: $id}) USING INDEX SEEK m:Member(id)
UNWIND $identifiers AS row
MERGE (i:Identifier {kind: row.kind, value: row.value})
MERGE (m)-[:USES]->(i)
"""

# Walking up from the new sponsor is bounded by the tree's depth, unlike walking the downline.
# The moved member is sought before the check: a labelled {id} node inside it was planned as a
# scan of the whole Member(id) index on a store sampled empty (docs/model.md, "Query plans").
WOULD_CYCLE = """
MATCH (s:Member {id: $sponsor_id}) USING INDEX SEEK s:Member(id)
OPTIONAL MATCH (m:Member {id: $id}) USING INDEX SEEK m:Member(id)
RETURN m IS NOT NULL AND EXISTS { (s)-[:SPONSORED_BY*0..]->(m) } AS cycle,
       s.joined_at AS sponsor_joined_at, m.joined_at AS member_joined_at
"""

TRANSFER = f"""
MATCH (m:Member {{id: $id}}), (s:Member {{id: $sponsor_id}})
  USING INDEX SEEK m:Member(id) USING INDEX SEEK s:Member(id)
OPTIONAL MATCH (m)-[old:SPONSORED_BY]->()
DELETE old
CREATE (m)-[:SPONSORED_BY {{since: $at}}]->(s)
SET m.transferred_at = $at
RETURN m {{ {MEMBER_FIELDS} }} AS member
"""

SUSPEND = f"""
MATCH (m:Member {{id: $id}}) USING INDEX SEEK m:Member(id)
SET m.suspended = $suspended
RETURN m {{ {MEMBER_FIELDS} }} AS member
"""


def member_from(record: dict[str, Any]) -> Member:
    return Member(
        id=record["id"],
        name=record["name"],
        joined_at=record["joined_at"].to_native(),
        sponsor_id=record["sponsor_id"],
        suspended=bool(record["suspended"]),
    )


@contextmanager
def bad_input() -> Iterator[None]:
    """Around the contract's rules (contract/rules.py): a ValueError becomes BadInput."""
    try:
        yield
    except ValueError as exc:
        raise BadInput(str(exc)) from exc


async def register_member(
    driver: neo4j.AsyncDriver,
    *,
    member_id: str,
    name: str,
    joined_at: datetime,
    sponsor_id: str | None,
    identifiers: Mapping[str, str | None] | None = None,
    rules: Rules = DEFAULT_RULES,
    timeout: float | None = None,
    database: str = "neo4j",
) -> Member:
    """Checks the input (contract/rules.py), then the sponsor, then whether the id is taken:
    a refusal about the sponsor never depends on whether ``member_id`` exists.

    ``identifiers`` maps kinds of contract.importfiles.IDENTIFIER_KINDS to the member's identity
    signals (None or missing: none of that kind), written as shared (:Identifier) nodes."""
    signals: list[dict[str, str]] = []
    with bad_input():
        check_id(member_id, "member id")
        name = check_name(name)
        rules.check_time(joined_at, "joinedAt")
        if sponsor_id is not None:
            check_id(sponsor_id, "sponsor id")
        for kind, value in (identifiers or {}).items():
            if kind not in IDENTIFIER_KINDS:
                raise ValueError(f"unknown identifier kind {kind!r}")
            if value is not None:
                signals.append({"kind": kind, "value": check_identifier(value, kind)})
    if sponsor_id == member_id:
        raise BadInput(f"member {member_id} cannot sponsor itself")

    async def work(tx: neo4j.AsyncManagedTransaction) -> Member:
        if sponsor_id is not None:
            sponsor = await _one(tx, SPONSOR_JOINED, id=sponsor_id)
            if sponsor is None:
                raise NotFound(f"sponsor {sponsor_id} does not exist")
            if sponsor["joined_at"].to_native() > joined_at:
                raise BadInput(f"member {member_id} cannot join before its sponsor {sponsor_id}")
        if await _one(tx, MEMBER_EXISTS, id=member_id):
            raise MemberExists(member_id)
        created = await _one(
            tx,
            CREATE_MEMBER,
            id=member_id,
            name=name,
            joined_at=joined_at,
            sponsor_id=sponsor_id,
        )
        assert created is not None
        if signals:
            await (await tx.run(ADD_IDENTIFIERS, id=member_id, identifiers=signals)).consume()
        return member_from(created["member"])

    return await write(driver, work, timeout=timeout, database=database)


async def transfer_member(
    driver: neo4j.AsyncDriver,
    *,
    member_id: str,
    new_sponsor_id: str,
    at: datetime,
    reason: str | None = None,
    actor: str = audit.SYSTEM,
    now: datetime | None = None,
    rules: Rules = DEFAULT_RULES,
    timeout: float | None = None,
    database: str = "neo4j",
) -> Member:
    """An admin move of a member (and its whole downline) under a new sponsor; never a cycle,
    and dated no earlier than the member and the new sponsor joined. ``now`` is when the audit
    record says it happened (default: the clock)."""
    with bad_input():
        check_id(member_id, "member id")
        check_id(new_sponsor_id, "sponsor id")
    if member_id == new_sponsor_id:
        raise BadInput(f"member {member_id} cannot sponsor itself")
    with bad_input():
        rules.check_time(at, "at")
    why = audit.require_reason(reason, "a transfer", actor)

    async def work(tx: neo4j.AsyncManagedTransaction) -> Member:
        found = await _one(tx, READ_MEMBER, id=member_id)
        if found is None:
            raise NotFound(f"member {member_id} does not exist")
        before = member_from(found["member"])
        check = await _one(tx, WOULD_CYCLE, id=member_id, sponsor_id=new_sponsor_id)
        if check is None:
            raise NotFound(f"sponsor {new_sponsor_id} does not exist")
        if check["cycle"]:
            raise Conflict(
                f"moving {member_id} under {new_sponsor_id} would make a cycle:"
                f" {new_sponsor_id} is in {member_id}'s downline"
            )
        for who, joined in (
            (member_id, check["member_joined_at"].to_native()),
            (new_sponsor_id, check["sponsor_joined_at"].to_native()),
        ):
            if at < joined:
                raise BadInput(
                    f"the transfer of {member_id} is dated {at.isoformat()}, before {who}"
                    f" joined ({joined.isoformat()})"
                )
        moved = await _one(tx, TRANSFER, id=member_id, sponsor_id=new_sponsor_id, at=at)
        assert moved is not None
        after = member_from(moved["member"])
        await audit.record_async(
            tx,
            audit.AuditEntry(
                actor=actor,
                action="member.transfer",
                target=member_id,
                at=now or datetime.now(UTC),
                before={"sponsor_id": before.sponsor_id},
                after={"sponsor_id": after.sponsor_id, "at": at.isoformat()},
                reason=why,
            ),
        )
        return after

    return await write(driver, work, timeout=timeout, database=database)


async def set_suspended(
    driver: neo4j.AsyncDriver,
    *,
    member_id: str,
    suspended: bool,
    reason: str | None = None,
    actor: str = audit.SYSTEM,
    now: datetime | None = None,
    timeout: float | None = None,
    database: str = "neo4j",
) -> Member:
    """Suspends (or reinstates) a member; audited as member.suspend or member.unsuspend."""
    with bad_input():
        check_id(member_id, "member id")
    action = "member.suspend" if suspended else "member.unsuspend"
    why = audit.require_reason(reason, "a suspension" if suspended else "an unsuspension", actor)

    async def work(tx: neo4j.AsyncManagedTransaction) -> Member:
        found = await _one(tx, READ_MEMBER, id=member_id)
        if found is None:
            raise NotFound(f"member {member_id} does not exist")
        changed = await _one(tx, SUSPEND, id=member_id, suspended=suspended)
        assert changed is not None
        after = member_from(changed["member"])
        await audit.record_async(
            tx,
            audit.AuditEntry(
                actor=actor,
                action=action,
                target=member_id,
                at=now or datetime.now(UTC),
                before={"suspended": bool(found["member"]["suspended"])},
                after={"suspended": after.suspended},
                reason=why,
            ),
        )
        return after

    return await write(driver, work, timeout=timeout, database=database)


async def get_member(
    driver: neo4j.AsyncDriver, member_id: str, *, database: str = "neo4j"
) -> Member | None:
    async def work(tx: neo4j.AsyncManagedTransaction) -> Member | None:
        found = await _one(tx, READ_MEMBER, id=member_id)
        return None if found is None else member_from(found["member"])

    async with driver.session(database=database) as session:
        return await session.execute_read(work)
