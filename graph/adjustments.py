"""Manual adjustments: a signed ledger line an admin adds, with a reason, to correct a balance.

An adjustment is never a tier and never an order's payout, so settlement's books (the pools,
``cypher/reconcile.cypher``) do not see it; balances, statements, the export and payout batches
do. It is written under the ledger lock with its audit record, in one transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import neo4j

from contract.money import format_yuan
from contract.rules import DEFAULT_RULES, Rules
from graph.audit import AuditEntry, record_async, require_reason
from graph.db import write
from graph.errors import BadInput, NotFound
from graph.ledger import balance_in, lock_ledger


@dataclass(frozen=True)
class Adjustment:
    id: str
    member_id: str
    amount: int
    """Signed fen: positive owes the member more, negative less."""
    reason: str
    actor: str
    at: datetime


MEMBER_EXISTS = "MATCH (m:Member {id: $member_id}) RETURN m.id AS id"

CREATE = """
CREATE (a:Adjustment {id: $id, member_id: $member_id, amount: $amount, reason: $reason,
                      actor: $actor, at: $at})
RETURN a {.id, .member_id, .amount, .reason, .actor, .at} AS a
"""


def _adjustment(row: dict[str, Any]) -> Adjustment:
    return Adjustment(
        id=row["id"],
        member_id=row["member_id"],
        amount=row["amount"],
        reason=row["reason"],
        actor=row["actor"],
        at=row["at"].to_native(),
    )


def check_adjustment(amount: int, reason: str, actor: str, rules: Rules = DEFAULT_RULES) -> str:
    """The input rules of an adjustment; returns the reason as stored."""
    if amount == 0:
        raise BadInput("amount must not be 0.00: an adjustment changes the balance")
    problem = rules.too_large(abs(amount))
    if problem is not None:
        raise BadInput(problem)
    checked = require_reason(reason, "an adjustment", actor=actor)
    assert checked is not None  # a given reason is never None
    return checked


async def adjust_balance(
    driver: neo4j.AsyncDriver,
    *,
    member_id: str,
    amount: int,
    reason: str,
    actor: str,
    at: datetime,
    rules: Rules = DEFAULT_RULES,
    timeout: float | None = None,
    database: str = "neo4j",
) -> Adjustment:
    """Adds ``amount`` (signed fen) to the member's ledger, audited as ``adjust``."""
    reason = check_adjustment(amount, reason, actor, rules)

    async def work(tx: neo4j.AsyncManagedTransaction) -> Adjustment:
        await lock_ledger(tx, "adjust the balance")
        if await (await tx.run(MEMBER_EXISTS, member_id=member_id)).single() is None:
            raise NotFound(f"member {member_id} does not exist")
        before = await balance_in(tx, member_id)
        result = await tx.run(
            CREATE,
            id=f"adj-{uuid.uuid4().hex[:16]}",
            member_id=member_id,
            amount=amount,
            reason=reason,
            actor=actor,
            at=at,
        )
        made = _adjustment((await result.single(strict=True))["a"])
        await record_async(
            tx,
            AuditEntry(
                actor=actor,
                action="adjust",
                target=member_id,
                at=at,
                before={"balance": format_yuan(before.balance)},
                after={
                    "balance": format_yuan(before.balance + amount),
                    "adjustment": made.id,
                    "amount": format_yuan(amount),
                },
                reason=reason,
            ),
        )
        return made

    return await write(driver, work, timeout=timeout, database=database)
