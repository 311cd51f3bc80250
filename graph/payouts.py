"""The payout ledger: the export, payout batches, totals per tier.

Payouts, reversals and adjustments are never edited. A payout batch pays amounts, not lines:
``(:PayoutBatch)-[:PAYS]->(:Payment {member_id, amount})``, and a member's balance is its ledger
lines less its payments (graph/ledger.py, where every balance read lives). A batch pays every
approved withdrawal whose balance still covers it, and with a minimum also every other member
whose balance reaches it (the sweep of the payout batches before withdrawals existed).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import neo4j

from contract.money import format_yuan
from graph import ledger
from graph.audit import AuditEntry, record
from graph.db import read
from graph.errors import BadInput

KINDS = ("RETAIL", "GIFT_PACKAGE")
TIERS = (1, 2, 3)


@dataclass(frozen=True)
class PayoutLine:
    """A line of the export; an adjustment's has kind ADJUSTMENT, no order or tier, and its
    adjustment id as ``run_id``."""

    order_id: str | None
    member_id: str
    tier: int | None
    kind: str
    amount: int
    reversal: bool
    run_id: str


@dataclass(frozen=True)
class BatchLine:
    member_id: str
    amount: int
    withdrawal_id: str | None = None
    """The approved withdrawal this pays; None for a balance paid by the minimum."""


@dataclass(frozen=True)
class Unpaid:
    """An approved withdrawal the balance no longer covers (a reversal came after approval, or
    money frozen for a risk flag; ``balance`` is less that frozen money); it stays approved until
    the balance covers it again or an admin rejects it."""

    withdrawal_id: str
    member_id: str
    amount: int
    balance: int


@dataclass(frozen=True)
class PayoutBatch:
    id: str | None
    """None when nothing was due (nothing was written)."""
    minimum: int | None
    lines: tuple[BatchLine, ...]
    unpaid: tuple[Unpaid, ...] = ()

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


@dataclass(frozen=True)
class TierKindTotal:
    """Net fen per tier and kind; ``count`` is payouts minus reversals (live payouts)."""

    tier: int
    kind: str
    amount: int
    count: int


@dataclass(frozen=True)
class TierPayoutSummary:
    member_id: str | None
    lines: tuple[TierKindTotal, ...]
    """Tiers 1-3 x RETAIL, GIFT_PACKAGE: always all six, zeros included."""
    total: int
    platform_retained: int | None
    """Only for the whole platform (member_id None): retained of settled, unreversed orders."""


# Every ledger read starts from a named index (docs/model.md, "Query plans"): one member's lines
# by expansion from the member (Member(id)), one run's from the orders it settled or reversed
# (Order(settled_run), Order(reversed_run)), a window from the orders paid in it
# (Order(paid_at); an open end is the widest DateTime value). Only the balances read the whole
# ledger, once.
_EXPORT_LINES = """
RETURN o.id AS order_id, m.id AS member_id, l.tier AS tier, o.kind AS kind,
       l.amount AS amount, type(l) = 'REVERSED' AS reversal,
       CASE type(l) WHEN 'PAID' THEN o.settled_run
            ELSE coalesce(l.decision_id, o.reversed_run) END AS run_id
"""

EXPORT = (
    """
MATCH (o:Order) USING INDEX SEEK o:Order(paid_at)
WHERE o.paid_at >= $start AND o.paid_at < $end AND o.settled_run IS NOT NULL
MATCH (o)-[l:PAID|REVERSED]->(m)
"""
    + _EXPORT_LINES
    + "ORDER BY order_id, tier, reversal"
)

# A run's lines: the payouts of the orders it settled, the reversals of the orders it reversed,
# and, for a risk decision's id, the reversals that decision wrote.
EXPORT_RUN = (
    """
CALL () {
  MATCH (o:Order) USING INDEX SEEK o:Order(settled_run)
  WHERE o.settled_run = $run_id AND o.paid_at >= $start AND o.paid_at < $end
  MATCH (o)-[l:PAID]->(m)
"""
    + _EXPORT_LINES
    + """
  UNION ALL
  MATCH (o:Order) USING INDEX SEEK o:Order(reversed_run)
  WHERE o.reversed_run = $run_id AND o.paid_at >= $start AND o.paid_at < $end
  MATCH (o)-[l:REVERSED]->(m)
  WHERE l.decision_id IS NULL
"""
    + _EXPORT_LINES
    + """
  UNION ALL
  MATCH (d:RiskDecision) USING SCAN d:RiskDecision
  WHERE d.id = $run_id
  MATCH (d)-[:DECIDES]->()-[:FLAGS]->(m)
  MATCH (m)<-[l:REVERSED]-(o)
  WHERE l.decision_id = $run_id AND o.paid_at >= $start AND o.paid_at < $end
"""
    + _EXPORT_LINES
    + """
}
RETURN order_id, member_id, tier, kind, amount, reversal, run_id
ORDER BY order_id, tier, reversal
"""
)

EXPORT_ADJUSTMENTS = """
MATCH (a:Adjustment) USING INDEX SEEK a:Adjustment(at)
WHERE a.at >= $start AND a.at < $end
RETURN null AS order_id, a.member_id AS member_id, null AS tier, 'ADJUSTMENT' AS kind,
       a.amount AS amount, false AS reversal, a.id AS run_id
ORDER BY a.at, a.id
"""

BALANCES = ledger.BALANCES
BALANCE = ledger.BALANCE
LOCK_LEDGER = ledger.LOCK_LEDGER

APPROVED = """
MATCH (w:Withdrawal) USING INDEX SEEK w:Withdrawal(state)
WHERE w.state = 'APPROVED'
RETURN w.id AS id, w.member_id AS member_id, w.amount AS amount
ORDER BY member_id, id
"""

OPEN_MEMBERS = """
MATCH (w:Withdrawal) USING INDEX SEEK w:Withdrawal(state)
WHERE w.state IN $open_states
RETURN collect(DISTINCT w.member_id) AS members
"""

# Payment keys are unique: a withdrawal's payment is keyed by the withdrawal, so it can never be
# paid twice whatever happens to the batch around it.
OPEN_BATCH = """
CREATE (b:PayoutBatch {id: $batch_id, created_at: $at, minimum: $minimum,
                       members: size($due), total: reduce(t = 0, d IN $due | t + d.amount)})
WITH b
UNWIND $due AS d
CREATE (b)-[:PAYS]->(:Payment {key: d.key, member_id: d.member_id, amount: d.amount,
                               batch_id: $batch_id, withdrawal_id: d.withdrawal_id, at: $at})
WITH d
WHERE d.withdrawal_id IS NOT NULL
MATCH (w:Withdrawal {id: d.withdrawal_id})
SET w.state = 'PAID', w.paid_at = $at, w.batch_id = $batch_id
"""

SUMMARY_MEMBER = """
MATCH (m:Member {id: $member_id}) USING INDEX SEEK m:Member(id)
MATCH (m)<-[l:PAID|REVERSED]-(o)
WHERE o.paid_at >= $start AND o.paid_at < $end
RETURN l.tier AS tier, o.kind AS kind, sum(l.amount) AS amount,
       sum(CASE type(l) WHEN 'REVERSED' THEN -1 ELSE 1 END) AS count
"""

SUMMARY_PLATFORM = """
MATCH (o:Order) USING INDEX SEEK o:Order(paid_at)
WHERE o.paid_at >= $start AND o.paid_at < $end AND o.settled_run IS NOT NULL
MATCH (o)-[l:PAID|REVERSED]->()
RETURN l.tier AS tier, o.kind AS kind, sum(l.amount) AS amount,
       sum(CASE type(l) WHEN 'REVERSED' THEN -1 ELSE 1 END) AS count
"""

RETAINED = """
MATCH (o:Order) USING INDEX SEEK o:Order(paid_at)
WHERE o.paid_at >= $start AND o.paid_at < $end
  AND o.settled_run IS NOT NULL AND o.reversed_run IS NULL
RETURN coalesce(sum(o.retained), 0) AS retained
"""
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def export_lines(
    driver: neo4j.Driver,
    *,
    run_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    database: str = "neo4j",
) -> Iterator[PayoutLine]:
    """Payouts and reversals, ordered by order, tier, payout before reversal."""
    with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as session:
        result = session.run(
            EXPORT if run_id is None else EXPORT_RUN,
            run_id=run_id,
            start=start or EARLIEST,
            end=end or LATEST,
        )
        for r in result:
            yield PayoutLine(**r.data())
        if run_id is None:
            result = session.run(EXPORT_ADJUSTMENTS, start=start or EARLIEST, end=end or LATEST)
            for r in result:
                yield PayoutLine(**r.data())


balances = ledger.balances


def balance(driver: neo4j.Driver, member_id: str, *, database: str = "neo4j") -> int:
    """A member's balance (ledger lines less payments), fen."""
    records, _, _ = driver.execute_query(
        BALANCE,
        member_id=member_id,
        open_states=list(ledger.OPEN_STATES),
        database_=database,
        routing_=neo4j.RoutingControl.READ,
    )
    r = records[0]
    return int(r["earned"] + r["adjusted"] - r["paid"])


def _member_balance(tx: neo4j.ManagedTransaction, member_id: str) -> tuple[int, int]:
    """The member's balance and what of it is frozen for an open risk flag (never paid)."""
    r = tx.run(BALANCE, member_id=member_id, open_states=list(ledger.OPEN_STATES)).single(
        strict=True
    )
    return int(r["earned"] + r["adjusted"] - r["paid"]), int(r["frozen"])


def _due(
    tx: neo4j.ManagedTransaction, minimum: int | None
) -> tuple[list[dict[str, Any]], list[Unpaid]]:
    """What this batch pays: approved withdrawals the balance covers, then (with a minimum) the
    balances of members without an open withdrawal that reach it. Money frozen for an open
    risk flag is never paid: it counts neither towards a withdrawal nor towards the minimum."""
    due: list[dict[str, Any]] = []
    unpaid: list[Unpaid] = []
    for w in tx.run(APPROVED).data():
        owed, frozen = _member_balance(tx, w["member_id"])
        if owed - frozen < w["amount"]:
            unpaid.append(Unpaid(w["id"], w["member_id"], w["amount"], owed - frozen))
            continue
        due.append(
            {
                "key": w["id"],
                "member_id": w["member_id"],
                "amount": w["amount"],
                "withdrawal_id": w["id"],
                "balance": owed,
            }
        )
    if minimum is not None:
        row = tx.run(OPEN_MEMBERS, open_states=list(ledger.OPEN_STATES)).single(strict=True)
        waiting = set(row["members"])
        held = ledger.frozen_balances(tx)
        for r in tx.run(BALANCES):
            payable = r["balance"] - held.get(r["member_id"], 0)
            if r["member_id"] in waiting or payable < minimum:
                continue
            due.append(
                {
                    "key": None,
                    "member_id": r["member_id"],
                    "amount": payable,
                    "withdrawal_id": None,
                    "balance": r["balance"],
                }
            )
    due.sort(key=lambda d: (d["member_id"], d["withdrawal_id"] or ""))
    return due, unpaid


def open_batch(
    driver: neo4j.Driver,
    *,
    actor: str,
    minimum: int | None = None,
    at: datetime | None = None,
    database: str = "neo4j",
    batch_id: str | None = None,
) -> PayoutBatch:
    """Pays every approved withdrawal the balance covers, and with ``minimum`` (fen) every other
    balance that reaches it, exactly once, in one transaction with one ``pay`` audit record per
    member paid."""
    if minimum is not None and minimum <= 0:
        raise BadInput(f"the minimum must be above zero, got {minimum} fen")
    when = at or datetime.now(UTC)
    new_id = batch_id or f"batch-{when.astimezone(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"

    def work(tx: neo4j.ManagedTransaction) -> tuple[list[BatchLine], list[Unpaid]]:
        ledger.lock_ledger_sync(tx, "open the payout batch")
        due, unpaid = _due(tx, minimum)
        if not due:
            return [], unpaid
        for d in due:
            d["key"] = d["key"] or f"{new_id}|{d['member_id']}"
        tx.run(OPEN_BATCH, due=due, batch_id=new_id, minimum=minimum, at=when).consume()
        for d in due:
            record(
                tx,
                AuditEntry(
                    actor=actor,
                    action="pay",
                    target=d["member_id"],
                    at=when,
                    before={"balance": format_yuan(d["balance"]), "withdrawal": d["withdrawal_id"]},
                    after={
                        "balance": format_yuan(d["balance"] - d["amount"]),
                        "paid": format_yuan(d["amount"]),
                        "batch": new_id,
                        "withdrawal": d["withdrawal_id"],
                    },
                ),
            )
        return [BatchLine(d["member_id"], d["amount"], d["withdrawal_id"]) for d in due], unpaid

    with driver.session(database=database) as session:
        lines, unpaid = session.execute_write(work)
    return PayoutBatch(
        id=new_id if lines else None, minimum=minimum, lines=tuple(lines), unpaid=tuple(unpaid)
    )


async def tier_payouts(
    driver: neo4j.AsyncDriver,
    *,
    member_id: str | None,
    start: datetime | None,
    end: datetime | None,
    timeout: float | None = None,
    database: str = "neo4j",
) -> TierPayoutSummary:
    """Net payouts per tier and kind for one member or the whole platform, in [start, end) on
    the paid_at of the payout's order; reversals count against the payouts they cancel."""

    async def work(tx: neo4j.AsyncManagedTransaction) -> TierPayoutSummary:
        window = {"start": start or EARLIEST, "end": end or LATEST}
        if member_id is None:
            result = await tx.run(SUMMARY_PLATFORM, window)
        else:
            result = await tx.run(SUMMARY_MEMBER, window, member_id=member_id)
        found = {(r["tier"], r["kind"]): r async for r in result}
        lines = tuple(
            TierKindTotal(
                tier=tier,
                kind=kind,
                amount=found[(tier, kind)]["amount"] if (tier, kind) in found else 0,
                count=found[(tier, kind)]["count"] if (tier, kind) in found else 0,
            )
            for tier in TIERS
            for kind in KINDS
        )
        retained: int | None = None
        if member_id is None:
            result = await tx.run(RETAINED, window)
            record = await result.single(strict=True)
            retained = int(record["retained"])
        return TierPayoutSummary(
            member_id=member_id,
            lines=lines,
            total=sum(line.amount for line in lines),
            platform_retained=retained,
        )

    return await read(driver, work, timeout=timeout, database=database)
