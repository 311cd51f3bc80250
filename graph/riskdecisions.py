"""Deciding a risk flag: an admin clears it (what it froze becomes available) or confirms it
(what it froze is reversed), once, with a reason, audited.

Freezing edits no ledger line. With a plan's ``freeze_flagged``, settlement writes a flagged
member's payout line ``(:Order)-[:PAID]->(:Member)`` as ever and sets, once, at its creation,
``frozen_by``: the ids of the open flags naming the member (cypher/settlement/payouts.cypher). A
payout is frozen while a flag it names is open and it has no reversal (graph/ledger.py reads it
that way: out of available and payout batches). A decision sets the flag's ``state`` (the flag is
a finding, not a ledger line) and writes a ``(:RiskDecision)-[:DECIDES]->(:RiskFlag)`` record; a
confirmation adds, per frozen payout, the reversal line of its order and tier,
``(:Order)-[:REVERSED {tier, amount, decision_id, flag_id, at}]->(:Member)``: an order and tier
have one reversal at most, so an order refunded later is never reversed twice for that tier.

Decisions lock the ledger (one after another, each sees the last one's state) and are refused
while a settlement run holds its lock, so a run never freezes for a flag decided under it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import neo4j
from neo4j.exceptions import ConstraintError

from contract.money import format_yuan
from contract.rules import check_id
from graph import risk
from graph.audit import AuditEntry, record_async, require_reason
from graph.db import read, write
from graph.errors import BadInput, NotFound
from graph.ledger import (
    FROZEN_LINES_OF,
    FROZEN_SUM,
    HOLD_SETTLEMENT,
    LINE,
    LOCK_LEDGER,
    SettlementRunning,
)

CLEAR, CONFIRM = "risk_clear", "risk_confirm"
"""The audit actions."""


class AlreadyDecided(BadInput):
    code = "ALREADY_DECIDED"


@dataclass(frozen=True)
class FrozenLine:
    key: str
    member_id: str
    order_id: str
    tier: int
    amount: int


@dataclass(frozen=True)
class RiskDecision:
    id: str
    flag: risk.RiskFlag
    """As it is after the decision (its ``state`` CLEARED or CONFIRMED)."""
    decision: str
    actor: str
    reason: str
    at: datetime
    frozen: int
    """What the flag held frozen when it was decided, fen."""
    lines: tuple[FrozenLine, ...]
    """Those payouts (PAID lines); a confirmation reversed each of them."""

    @property
    def reversed(self) -> int:
        """The reversal lines' total (negative fen); 0 for a clearance."""
        return -self.frozen if self.decision == risk.CONFIRMED else 0


CONTEXT = """
OPTIONAL MATCH (f:RiskFlag {id: $flag_id})
OPTIONAL MATCH (lock:SettlementLock)
RETURN properties(f) AS flag, lock.run_id AS running
"""

DECIDE = """
MATCH (f:RiskFlag {id: $flag_id}) USING INDEX SEEK f:RiskFlag(id)
SET f.state = $state, f.decided_at = $at, f.decided_by = $actor, f.decision_reason = $reason
CREATE (:RiskDecision {id: $decision_id, flag_id: $flag_id, decision: $state, actor: $actor,
                       reason: $reason, at: $at, frozen: $frozen})-[:DECIDES]->(f)
RETURN properties(f) AS flag
"""

# Taking the flag's write lock before reading the lines it holds (DECIDE sets the same value).
LOCK_FLAG = """
MATCH (f:RiskFlag {id: $flag_id}) USING INDEX SEEK f:RiskFlag(id)
SET f.decided_at = $at
"""

# A flagged member's lines that may be frozen for the flag ``f``: its reversals, and its payouts
# that name ``f``, each as graph/ledger.py's LINE map (what FROZEN_LINES_OF reads), expanded from
# the member.
_LINES_OF_FLAG = (
    """
  MATCH (m)<-[l:PAID|REVERSED]-(o)
  WHERE type(l) = 'REVERSED' OR f.id IN coalesce(l.frozen_by, [])
  WITH [f.id] AS open_flags, collect("""
    + LINE
    + """) AS lines
"""
)

# The payouts a flag (open: decide() checked it) holds: graph/ledger.py's rule for it alone.
FROZEN_LINES = (
    """
MATCH (f:RiskFlag {id: $flag_id}) USING INDEX SEEK f:RiskFlag(id)
MATCH (f)-[:FLAGS]->(m)
CALL (f, m) {"""
    + _LINES_OF_FLAG
    + FROZEN_LINES_OF
    + """
  UNWIND frozen_lines AS p
  RETURN p
}
RETURN p.key AS key, p.member_id AS member_id, p.order_id AS order_id, p.tier AS tier,
       p.amount AS amount
ORDER BY member_id, key
"""
)

# Per frozen payout ($lines: its order id and tier), its reversal to the same member, unless that
# tier of the order has one already. A refund's reversal (cypher/settlement/reversals.cypher)
# checks the same, and a decision holds the ledger lock and keeps runs out (HOLD_SETTLEMENT), so
# a tier is reversed once either way.
REVERSE = """
UNWIND $lines AS line
MATCH (o:Order {id: line.order_id}) USING INDEX SEEK o:Order(id)
MATCH (o)-[p:PAID {tier: line.tier}]->(m)
WHERE NOT EXISTS { (o)-[:REVERSED {tier: line.tier}]->() }
CREATE (o)-[r:REVERSED {tier: p.tier, amount: -p.amount, decision_id: $decision_id,
                        flag_id: $flag_id, at: $at}]->(m)
RETURN count(r) AS written
"""

# What each open flag holds frozen (a decided flag holds nothing).
FLAGS_FROZEN = (
    """
UNWIND $ids AS id
MATCH (f:RiskFlag {id: id}) USING INDEX SEEK f:RiskFlag(id)
WHERE f.state IS NULL
MATCH (f)-[:FLAGS]->(m)
CALL (f, m) {"""
    + _LINES_OF_FLAG
    + FROZEN_SUM
    + """
}
RETURN f.id AS id, sum(frozen) AS frozen
"""
)


def _line(row: dict[str, Any]) -> FrozenLine:
    return FrozenLine(
        key=row["key"],
        member_id=row["member_id"],
        order_id=row["order_id"],
        tier=row["tier"],
        amount=row["amount"],
    )


def _by_member(lines: tuple[FrozenLine, ...]) -> dict[str, str]:
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.member_id] = totals.get(line.member_id, 0) + line.amount
    return {m: format_yuan(v) for m, v in sorted(totals.items())}


async def decide(
    driver: neo4j.AsyncDriver,
    *,
    flag_id: str,
    confirm: bool,
    reason: str,
    actor: str,
    at: datetime,
    timeout: float | None = None,
    database: str = "neo4j",
) -> RiskDecision:
    """Clears (``confirm`` False) or confirms an open flag, audited as ``risk_clear`` or
    ``risk_confirm`` in the same transaction. Raises BadInput (a bad id or reason), NotFound,
    AlreadyDecided or SettlementRunning, writing nothing."""
    try:
        check_id(flag_id, "flagId")
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    what = "confirming a risk flag" if confirm else "clearing a risk flag"
    checked = require_reason(reason, what, actor=actor)
    if checked is None:
        raise BadInput(f"a reason is required for {what}")
    state = risk.CONFIRMED if confirm else risk.CLEARED
    decision_id = f"risk-{uuid.uuid4().hex[:16]}"

    async def work(tx: neo4j.AsyncManagedTransaction) -> RiskDecision:
        await (await tx.run(LOCK_LEDGER)).consume()
        ctx = await (await tx.run(CONTEXT, flag_id=flag_id)).single(strict=True)
        if ctx["flag"] is None:
            raise NotFound(f"risk flag {flag_id} does not exist")
        state_now = ctx["flag"].get("state")
        if state_now is not None:
            raise AlreadyDecided(
                f"risk flag {flag_id} is already {state_now}: a flag is decided once"
            )
        if ctx["running"] is not None:
            raise SettlementRunning(
                f"settlement run {ctx['running']} is running; decide the flag after it finished"
            )
        await (await tx.run(HOLD_SETTLEMENT, holder=decision_id)).consume()
        await (await tx.run(LOCK_FLAG, flag_id=flag_id, at=at)).consume()
        result = await tx.run(FROZEN_LINES, flag_id=flag_id)
        lines = tuple([_line(r.data()) async for r in result])
        frozen = sum(line.amount for line in lines)
        if confirm and lines:
            result = await tx.run(
                REVERSE,
                lines=[{"order_id": line.order_id, "tier": line.tier} for line in lines],
                decision_id=decision_id,
                flag_id=flag_id,
                at=at,
            )
            written = (await result.single(strict=True))["written"]
            assert written == len(lines), "a frozen payout was reversed meanwhile"
        result = await tx.run(
            DECIDE,
            flag_id=flag_id,
            state=state,
            at=at,
            actor=actor,
            reason=checked,
            decision_id=decision_id,
            frozen=frozen,
        )
        flag = risk.flag_from((await result.single(strict=True))["flag"])
        members = _by_member(lines)
        after: dict[str, Any] = {"state": state, "frozen": format_yuan(0), "decision": decision_id}
        if confirm:
            after |= {"reversed": format_yuan(-frozen), "reversals": len(lines)}
        else:
            after |= {"released": format_yuan(frozen)}
        await record_async(
            tx,
            AuditEntry(
                actor=actor,
                action=CONFIRM if confirm else CLEAR,
                target=flag_id,
                at=at,
                before={
                    "state": risk.OPEN,
                    "frozen": format_yuan(frozen),
                    "members": members,
                    "kind": flag.kind,
                },
                after=after,
                reason=checked,
            ),
        )
        return RiskDecision(
            id=decision_id,
            flag=flag,
            decision=state,
            actor=actor,
            reason=checked,
            at=at,
            frozen=frozen,
            lines=lines,
        )

    try:
        return await write(driver, work, timeout=timeout, database=database)
    except ConstraintError as exc:
        if "RiskDecision" in (exc.message or ""):  # a second decision, at the same instant
            raise AlreadyDecided(f"risk flag {flag_id} is already decided") from exc
        raise SettlementRunning(
            "a settlement run began while the flag was being decided; decide it after the run"
        ) from exc


async def flags_frozen(
    driver: neo4j.AsyncDriver,
    flag_ids: list[str],
    *,
    timeout: float | None = None,
    database: str = "neo4j",
) -> dict[str, int]:
    """flag id -> fen it holds frozen (open flags only; a flag absent here holds nothing)."""

    async def work(tx: neo4j.AsyncManagedTransaction) -> dict[str, int]:
        result = await tx.run(FLAGS_FROZEN, ids=flag_ids)
        return {r["id"]: int(r["frozen"]) async for r in result}

    return await read(driver, work, timeout=timeout, database=database)


__all__ = [
    "CLEAR",
    "CONFIRM",
    "AlreadyDecided",
    "FrozenLine",
    "RiskDecision",
    "SettlementRunning",
    "decide",
    "flags_frozen",
]
