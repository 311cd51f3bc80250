"""Withdrawals (提现): a member asks to be paid, finance approves or rejects, a payout batch pays.

A request reserves its amount: it is at least the minimum of the plan in effect now, at most
the member's available balance, and a member has one open (requested or approved) request at a
time. Every request and decision locks the ledger (``graph.ledger.LOCK_LEDGER``) inside its
transaction, so two requests sent at once are decided one after the other on the same balance.
An idempotency key names a request per member: sending it again returns that request and never
makes a second; a refused request writes nothing, so its key stays free.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import neo4j

from contract.money import format_yuan
from contract.rules import check_id
from graph.audit import AuditEntry, record_async, require_reason
from graph.db import read, write
from graph.errors import BadInput, NotFound
from graph.ledger import LOCK_LEDGER, OPEN_STATES, balance_in, lock_ledger
from graph.plans import DEFAULT_MIN_WITHDRAWAL

REQUESTED, APPROVED, REJECTED, PAID = "REQUESTED", "APPROVED", "REJECTED", "PAID"


class BelowMinimum(BadInput):
    code = "BELOW_MINIMUM"


class InsufficientBalance(BadInput):
    code = "INSUFFICIENT_BALANCE"


class WithdrawalOpen(BadInput):
    code = "WITHDRAWAL_OPEN"


class IdempotencyConflict(BadInput):
    code = "IDEMPOTENCY_CONFLICT"


class WrongState(BadInput):
    """Only a requested withdrawal can be approved or rejected."""

    code = "WRONG_STATE"


@dataclass(frozen=True)
class Withdrawal:
    id: str
    member_id: str
    amount: int
    state: str
    idempotency_key: str
    requested_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str | None = None
    paid_at: datetime | None = None
    batch_id: str | None = None


FIELDS = """w {.id, .member_id, .amount, .state, .idempotency_key, .requested_at, .decided_at,
           .decided_by, .reason, .paid_at, .batch_id}"""

REQUEST_CONTEXT = f"""
OPTIONAL MATCH (same:Withdrawal {{key: $key}})
WITH same
OPTIONAL MATCH (m:Member {{id: $member_id}})
CALL () {{
  OPTIONAL MATCH (p:Plan) WHERE p.effective_from <= $now
  RETURN p.min_withdrawal AS minimum ORDER BY p.effective_from DESC LIMIT 1
}}
WITH same AS w, m, minimum
RETURN CASE WHEN w IS NULL THEN null ELSE {FIELDS} END AS same,
       m IS NOT NULL AS member, minimum
"""

CREATE = f"""
CREATE (w:Withdrawal {{id: $id, key: $key, member_id: $member_id, amount: $amount,
                      state: 'REQUESTED', idempotency_key: $idempotency_key,
                      requested_at: $now}})
RETURN {FIELDS} AS w
"""

READ = f"MATCH (w:Withdrawal {{id: $id}}) RETURN {FIELDS} AS w"

DECIDE = f"""
MATCH (w:Withdrawal {{id: $id}})
WHERE w.state = 'REQUESTED'
SET w.state = $state, w.decided_at = $now, w.decided_by = $actor, w.reason = $reason
RETURN {FIELDS} AS w
"""

MEMBER_WITHDRAWALS = f"""
MATCH (w:Withdrawal) USING INDEX SEEK w:Withdrawal(member_id)
WHERE w.member_id = $member_id
RETURN {FIELDS} AS w
ORDER BY w.requested_at DESC, w.id DESC
"""

# Oldest first, so finance decides in the order members asked; (requested_at, id) is the order
# and the cursor, so a page never repeats or skips a request however many are decided meanwhile.
OPEN_WITHDRAWALS = f"""
MATCH (w:Withdrawal) USING INDEX SEEK w:Withdrawal(state)
WHERE w.state IN $open_states
  AND ($after_at IS NULL OR w.requested_at > $after_at
       OR (w.requested_at = $after_at AND w.id > $after_id))
WITH w ORDER BY w.requested_at, w.id LIMIT $limit
OPTIONAL MATCH (m:Member {{id: w.member_id}})
RETURN {FIELDS} AS w, m.name AS member_name
"""

COUNT_OPEN = """
MATCH (w:Withdrawal) USING INDEX SEEK w:Withdrawal(state)
WHERE w.state IN $open_states
RETURN count(w) AS total
"""


@dataclass(frozen=True)
class OpenWithdrawal:
    withdrawal: Withdrawal
    member_name: str | None


@dataclass(frozen=True)
class OpenWithdrawalPage:
    rows: tuple[OpenWithdrawal, ...]
    has_next: bool
    total: int


def _native(value: Any) -> Any:
    return None if value is None else value.to_native()


def withdrawal_from(row: dict[str, Any]) -> Withdrawal:
    return Withdrawal(
        id=row["id"],
        member_id=row["member_id"],
        amount=row["amount"],
        state=row["state"],
        idempotency_key=row["idempotency_key"],
        requested_at=row["requested_at"].to_native(),
        decided_at=_native(row.get("decided_at")),
        decided_by=row.get("decided_by"),
        reason=row.get("reason"),
        paid_at=_native(row.get("paid_at")),
        batch_id=row.get("batch_id"),
    )


def _checked(check: Any, *args: Any) -> Any:
    try:
        return check(*args)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc


async def request_withdrawal(
    driver: neo4j.AsyncDriver,
    *,
    member_id: str,
    amount: int,
    idempotency_key: str,
    now: datetime,
    timeout: float | None = None,
    database: str = "neo4j",
) -> Withdrawal:
    """Requests ``amount`` fen for ``member_id``, or returns the request ``idempotency_key``
    already made. Raises BadInput subclasses with their codes, writing nothing."""
    _checked(check_id, idempotency_key, "idempotencyKey")
    if amount <= 0:
        raise BadInput(f"amount must be above 0.00, got {format_yuan(amount)}")
    key = f"{member_id}|{idempotency_key}"

    async def work(tx: neo4j.AsyncManagedTransaction) -> Withdrawal:
        await lock_ledger(tx, "request the withdrawal")
        ctx = await (await tx.run(REQUEST_CONTEXT, key=key, member_id=member_id, now=now)).single(
            strict=True
        )
        if ctx["same"] is not None:
            same = withdrawal_from(ctx["same"])
            if same.amount != amount:
                raise IdempotencyConflict(
                    f"idempotencyKey {idempotency_key} was used for a withdrawal of"
                    f" {format_yuan(same.amount)}, not {format_yuan(amount)}; use a new key"
                )
            return same
        if not ctx["member"]:
            raise NotFound(f"member {member_id} does not exist")
        minimum = ctx["minimum"] or DEFAULT_MIN_WITHDRAWAL
        if amount < minimum:
            raise BelowMinimum(
                f"a withdrawal must be at least {format_yuan(minimum)}, got {format_yuan(amount)}"
            )
        found = await balance_in(tx, member_id)
        if found.open_withdrawals:
            raise WithdrawalOpen(
                "another withdrawal is open (requested or approved, not yet paid);"
                " wait for it to be paid or rejected"
            )
        if amount > found.available:
            raise InsufficientBalance(
                f"the available balance is {format_yuan(found.available)}, less than"
                f" {format_yuan(amount)}"
            )
        result = await tx.run(
            CREATE,
            id=f"wd-{uuid.uuid4().hex[:16]}",
            key=key,
            member_id=member_id,
            amount=amount,
            idempotency_key=idempotency_key,
            now=now,
        )
        return withdrawal_from((await result.single(strict=True))["w"])

    return await write(driver, work, timeout=timeout, database=database)


async def decide_withdrawal(
    driver: neo4j.AsyncDriver,
    *,
    withdrawal_id: str,
    approve: bool,
    actor: str,
    now: datetime,
    reason: str | None = None,
    timeout: float | None = None,
    database: str = "neo4j",
) -> Withdrawal:
    """Approves, or rejects with a reason, a requested withdrawal; audited in the same
    transaction (``withdrawal.approve`` / ``withdrawal.reject``)."""
    if not approve:
        reason = require_reason(reason or "", "a rejection", actor=actor)
    elif reason is not None:
        reason = require_reason(reason, "an approval", actor=actor)
    state = APPROVED if approve else REJECTED

    async def work(tx: neo4j.AsyncManagedTransaction) -> Withdrawal:
        await (await tx.run(LOCK_LEDGER)).consume()
        row = await (await tx.run(READ, id=withdrawal_id)).single(strict=False)
        if row is None:
            raise NotFound(f"withdrawal {withdrawal_id} does not exist")
        before = withdrawal_from(row["w"])
        if before.state != REQUESTED:
            raise WrongState(
                f"withdrawal {withdrawal_id} is {before.state}: only a REQUESTED one can be"
                f" {'approved' if approve else 'rejected'}"
            )
        result = await tx.run(
            DECIDE, id=withdrawal_id, state=state, now=now, actor=actor, reason=reason
        )
        after = withdrawal_from((await result.single(strict=True))["w"])
        await record_async(
            tx,
            AuditEntry(
                actor=actor,
                action="withdrawal.approve" if approve else "withdrawal.reject",
                target=after.member_id,
                at=now,
                before={"withdrawal": after.id, "state": before.state, "amount": before.amount},
                after={"withdrawal": after.id, "state": after.state, "amount": after.amount},
                reason=reason,
            ),
        )
        return after

    return await write(driver, work, timeout=timeout, database=database)


async def member_withdrawals(
    driver: neo4j.AsyncDriver,
    member_id: str,
    *,
    timeout: float | None = None,
    database: str = "neo4j",
) -> list[Withdrawal]:
    """A member's requests, newest first, in every state."""

    async def work(tx: neo4j.AsyncManagedTransaction) -> list[Withdrawal]:
        result = await tx.run(MEMBER_WITHDRAWALS, member_id=member_id)
        return [withdrawal_from(r["w"]) async for r in result]

    return await read(driver, work, timeout=timeout, database=database)


async def open_withdrawals(
    driver: neo4j.AsyncDriver,
    *,
    first: int = 20,
    after: tuple[datetime, str] | None = None,
    timeout: float | None = None,
    database: str = "neo4j",
) -> OpenWithdrawalPage:
    """Requested and approved withdrawals platform-wide, oldest first, ``first`` after the
    (requested_at, id) ``after``: what finance still has to decide or pay."""
    after_at, after_id = (None, None) if after is None else after

    async def work(tx: neo4j.AsyncManagedTransaction) -> OpenWithdrawalPage:
        states = list(OPEN_STATES)
        result = await tx.run(
            OPEN_WITHDRAWALS,
            open_states=states,
            after_at=after_at,
            after_id=after_id,
            limit=first + 1,
        )
        rows = [OpenWithdrawal(withdrawal_from(r["w"]), r["member_name"]) async for r in result]
        total = await (await tx.run(COUNT_OPEN, open_states=states)).single(strict=True)
        return OpenWithdrawalPage(
            rows=tuple(rows[:first]), has_next=len(rows) > first, total=total["total"]
        )

    return await read(driver, work, timeout=timeout, database=database)


__all__ = [
    "APPROVED",
    "OPEN_STATES",
    "PAID",
    "REJECTED",
    "REQUESTED",
    "BelowMinimum",
    "IdempotencyConflict",
    "InsufficientBalance",
    "OpenWithdrawal",
    "OpenWithdrawalPage",
    "Withdrawal",
    "WithdrawalOpen",
    "WrongState",
    "decide_withdrawal",
    "member_withdrawals",
    "open_withdrawals",
    "request_withdrawal",
]
