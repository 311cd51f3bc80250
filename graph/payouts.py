"""The payout ledger: reading payouts, members' balances, payout batches, totals per tier.

Payouts and reversals are never edited. A member's balance is the sum of its ledger lines
(payouts and reversals) that no payout batch has paid yet; a batch pays a line by linking it,
``(:PayoutBatch)-[:PAYS]->(:Payout)``, so every balance is the sum of the lines behind it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import neo4j

from graph.db import read
from graph.errors import BadInput

KINDS = ("RETAIL", "GIFT_PACKAGE")
TIERS = (1, 2, 3)


@dataclass(frozen=True)
class PayoutLine:
    order_id: str
    member_id: str
    tier: int
    kind: str
    amount: int
    reversal: bool
    run_id: str


@dataclass(frozen=True)
class BatchLine:
    member_id: str
    amount: int


@dataclass(frozen=True)
class PayoutBatch:
    id: str | None
    """None when no member's balance reached the minimum (nothing was written)."""
    minimum: int
    lines: tuple[BatchLine, ...]

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
# by member_id, one run's by run_id, a window on paid_at (its order's; every line has one, and
# an open end is the widest DateTime value). Only the balances read the whole ledger, once.
_EXPORT_LINES = """
RETURN p.order_id AS order_id, p.member_id AS member_id, p.tier AS tier, p.kind AS kind,
       p.amount AS amount, p.reversal AS reversal, p.run_id AS run_id
ORDER BY order_id, tier, reversal
"""

EXPORT = (
    """
MATCH (p:Payout) USING INDEX SEEK p:Payout(paid_at)
WHERE p.paid_at >= $start AND p.paid_at < $end
"""
    + _EXPORT_LINES
)

EXPORT_RUN = (
    """
MATCH (p:Payout) USING INDEX SEEK p:Payout(run_id)
WHERE p.run_id = $run_id AND p.paid_at >= $start AND p.paid_at < $end
"""
    + _EXPORT_LINES
)

# A paid line is linked from its batch; only batches have PAYS, so the check names no label.
BALANCES = """
MATCH (p:Payout)
WHERE NOT EXISTS { (p)<-[:PAYS]-() }
RETURN p.member_id AS member_id, sum(p.amount) AS balance
ORDER BY member_id
"""

BALANCE = """
MATCH (p:Payout) USING INDEX SEEK p:Payout(member_id)
WHERE p.member_id = $member_id AND NOT EXISTS { (p)<-[:PAYS]-() }
RETURN sum(p.amount) AS balance
"""

# The ledger node is locked first, so two batches opened at once run one after the other, and
# the second sees the lines the first paid: a balance is paid exactly once.
LOCK_LEDGER = """
MERGE (l:PayoutLedger {id: 'ledger'})
SET l.last_batch_at = datetime()
"""

OPEN_BATCH = """
MATCH (p:Payout)
WHERE NOT EXISTS { (p)<-[:PAYS]-() }
WITH p.member_id AS member_id, collect(p) AS lines, sum(p.amount) AS balance
WHERE balance >= $minimum
WITH collect({member_id: member_id, lines: lines, balance: balance}) AS due
WHERE size(due) > 0
CREATE (b:PayoutBatch {id: $batch_id, created_at: datetime(), minimum: $minimum,
                       members: size(due), total: reduce(t = 0, d IN due | t + d.balance)})
WITH b, due
UNWIND due AS d
CALL (b, d) {
  UNWIND d.lines AS line
  CREATE (b)-[:PAYS]->(line)
}
RETURN d.member_id AS member_id, d.balance AS amount
ORDER BY member_id
"""

SUMMARY_MEMBER = """
MATCH (p:Payout) USING INDEX SEEK p:Payout(member_id)
WHERE p.member_id = $member_id AND p.paid_at >= $start AND p.paid_at < $end
RETURN p.tier AS tier, p.kind AS kind, sum(p.amount) AS amount,
       sum(CASE WHEN p.reversal THEN -1 ELSE 1 END) AS count
"""

SUMMARY_PLATFORM = """
MATCH (p:Payout) USING INDEX SEEK p:Payout(paid_at)
WHERE p.paid_at >= $start AND p.paid_at < $end
RETURN p.tier AS tier, p.kind AS kind, sum(p.amount) AS amount,
       sum(CASE WHEN p.reversal THEN -1 ELSE 1 END) AS count
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


def balances(driver: neo4j.Driver, *, database: str = "neo4j") -> dict[str, int]:
    """member id -> balance (fen) for every member with unpaid ledger lines."""
    records, _, _ = driver.execute_query(
        BALANCES, database_=database, routing_=neo4j.RoutingControl.READ
    )
    return {r["member_id"]: r["balance"] for r in records}


def balance(driver: neo4j.Driver, member_id: str, *, database: str = "neo4j") -> int:
    records, _, _ = driver.execute_query(
        BALANCE, member_id=member_id, database_=database, routing_=neo4j.RoutingControl.READ
    )
    return int(records[0]["balance"] or 0)


def open_batch(
    driver: neo4j.Driver, *, minimum: int, database: str = "neo4j", batch_id: str | None = None
) -> PayoutBatch:
    """Pays every member whose balance is at least ``minimum`` fen their whole balance, once."""
    if minimum <= 0:
        raise BadInput(f"the minimum must be above zero, got {minimum} fen")
    new_id = batch_id or f"batch-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"

    def work(tx: neo4j.ManagedTransaction) -> list[BatchLine]:
        tx.run(LOCK_LEDGER).consume()
        result = tx.run(OPEN_BATCH, minimum=minimum, batch_id=new_id)
        return [BatchLine(r["member_id"], r["amount"]) for r in result]

    with driver.session(database=database) as session:
        lines = session.execute_write(work)
    return PayoutBatch(id=new_id if lines else None, minimum=minimum, lines=tuple(lines))


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
