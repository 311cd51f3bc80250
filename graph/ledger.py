"""A member's money: its ledger lines, its balance, what is pending, and its statement.

Every read of the ledger a member or finance sees lives here. A ledger line is a payout or a
reversal, written by settlement as a relationship from the order to the member paid,
``(:Order)-[:PAID|REVERSED {tier, amount}]->(:Member)`` (the reversal's amount negative; all else
is read from the order: ``LINE``), or an adjustment (``:Adjustment``, written by an admin); a
payout batch pays a member by a ``:Payment`` of an amount. So:

- balance = Σ ledger lines − Σ payments (it goes negative when a reversal follows a payment);
- withdrawing = Σ open withdrawals (requested or approved, not yet paid);
- frozen = the member's payouts that settlement froze for a risk flag still open (a payout
  line names the flags it was frozen for, set once when it was written; a reversed payout is no
  longer frozen; graph/riskdecisions.py);
- available = balance − withdrawing − frozen, never below 0: what a new withdrawal may ask for;
- pending = what settlement would pay the member for orders not settled yet, by settlement's
  own rules (the ``shares`` section of ``cypher/settlement/payouts.cypher``, graph/payrules.py,
  run as a read).

A line's time (``at``) is when it entered the ledger: its settlement run's start, or the
adjustment's time; windows and statements are on it, newest first with ties by key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

import neo4j
from neo4j.exceptions import ConstraintError

from graph import payrules
from graph.db import read
from graph.errors import BadInput

EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
OPEN_STATES = ("REQUESTED", "APPROVED")

# Every money write (a withdrawal request or decision, an adjustment, a payout batch) locks this
# node first, so they run one after the other and each sees the balance the last one left.
LOCK_LEDGER = """
MERGE (l:PayoutLedger {id: 'ledger'})
SET l.locked_at = datetime()
"""

# A money write that reads a balance keeps settlement out while it runs: settlement inserts
# lines into members' relationship chains, and on Neo4j 5.26 a read of a chain another
# transaction is inserting into may miss or repeat lines (neo4j/neo4j#13741; docs/model.md,
# "The ledger's shape"). Creating the run lock's node (and deleting it again) in this transaction
# holds its unique key until it commits: a run that begins meanwhile waits, one that began first
# makes it fail.
SETTLEMENT_RUN = "OPTIONAL MATCH (l:SettlementLock {id: 'settlement'}) RETURN l.run_id AS running"
HOLD_SETTLEMENT = """
CREATE (l:SettlementLock {id: 'settlement', run_id: $holder})
DELETE l
"""


class SettlementRunning(BadInput):
    """A settlement run holds its lock: money that depends on a balance waits for it."""

    code = "SETTLEMENT_RUNNING"


def _running(what: str, run_id: str | None) -> SettlementRunning:
    which = f"settlement run {run_id} is" if run_id else "a settlement run began and is"
    return SettlementRunning(f"{which} running; {what} after it finished (nothing was written)")


async def lock_ledger(tx: neo4j.AsyncManagedTransaction, what: str) -> None:
    """LOCK_LEDGER, then keeps settlement out until ``tx`` ends; raises SettlementRunning
    (``what``: what to do again, e.g. "request the withdrawal") while a run holds its lock."""
    await (await tx.run(LOCK_LEDGER)).consume()
    row = await (await tx.run(SETTLEMENT_RUN)).single(strict=True)
    if row["running"] is not None:
        raise _running(what, row["running"])
    try:
        await (await tx.run(HOLD_SETTLEMENT, holder=f"money:{what}")).consume()
    except ConstraintError as exc:
        raise _running(what, None) from exc


def lock_ledger_sync(tx: neo4j.ManagedTransaction, what: str) -> None:
    """``lock_ledger`` for the batch commands' synchronous transactions."""
    tx.run(LOCK_LEDGER).consume()
    row = tx.run(SETTLEMENT_RUN).single(strict=True)
    if row["running"] is not None:
        raise _running(what, row["running"])
    try:
        tx.run(HOLD_SETTLEMENT, holder=f"money:{what}").consume()
    except ConstraintError as exc:
        raise _running(what, None) from exc


# A payout or reversal line ``l`` of order ``o`` to member ``m`` as a map with every field a line
# has (docs/model.md, "The ledger"): the line itself holds only its tier and signed amount (and,
# rarely, what froze or reversed it), so what the order already knows is read from the order.
LINE = """{key: o.id + '|' + toString(l.tier) + CASE type(l) WHEN 'PAID' THEN '|P' ELSE '|R' END,
 order_id: o.id, member_id: m.id, tier: l.tier, kind: o.kind, amount: l.amount,
 reversal: type(l) = 'REVERSED',
 run_id: CASE type(l) WHEN 'PAID' THEN o.settled_run
         ELSE coalesce(l.decision_id, o.reversed_run) END,
 paid_at: o.paid_at, frozen_by: l.frozen_by, flag_id: l.flag_id, at: l.at,
 reverses: CASE type(l) WHEN 'REVERSED' THEN o.id + '|' + toString(l.tier) + '|P' END}"""

# The rule of frozen money, once: given ``open_flags`` (ids of open flags naming a member) and
# ``lines`` (its payouts that name a flag, and its reversals), ``frozen_lines`` are the payouts
# that name an open flag and have no reversal (of a refund, or of a confirmed flag).
FROZEN_LINES_OF = """
  WITH open_flags, lines,
       [r IN lines WHERE r.reversal | r.order_id + '|' + toString(r.tier) + '|P'] AS reversed
  WITH [p IN lines WHERE NOT p.reversal AND NOT p.key IN reversed
                         AND any(x IN coalesce(p.frozen_by, []) WHERE x IN open_flags)]
       AS frozen_lines
"""

FROZEN_SUM = (
    FROZEN_LINES_OF
    + """
  RETURN reduce(t = 0, p IN frozen_lines | t + p.amount) AS frozen
"""
)

# Every member's frozen amount (the payout batches): from the open flags (few, scanned by their
# label so the plan does not depend on the statistics), not the whole ledger.
FROZEN_BALANCES = (
    """
MATCH (f:RiskFlag) USING SCAN f:RiskFlag
WHERE f.state IS NULL
MATCH (f)-[:FLAGS]->(m)
WITH m, collect(f.id) AS open_flags
CALL (m, open_flags) {
  MATCH (m)<-[l:PAID|REVERSED]-(o)
  WHERE l.frozen_by IS NOT NULL OR type(l) = 'REVERSED'
  WITH open_flags, collect("""
    + LINE
    + """) AS lines
"""
    + FROZEN_SUM
    + """
}
WITH m.id AS member_id, frozen
WHERE frozen <> 0
RETURN member_id, frozen
"""
)

BALANCE = (
    """
CALL () {
  OPTIONAL MATCH (m:Member {id: $member_id}) USING INDEX SEEK m:Member(id)
  OPTIONAL MATCH (m)<-[l:PAID|REVERSED]-()
  RETURN coalesce(sum(l.amount), 0) AS earned
}
CALL () {
  MATCH (a:Adjustment) USING INDEX SEEK a:Adjustment(member_id)
  WHERE a.member_id = $member_id
  RETURN coalesce(sum(a.amount), 0) AS adjusted
}
CALL () {
  MATCH (x:Payment) USING INDEX SEEK x:Payment(member_id)
  WHERE x.member_id = $member_id
  RETURN coalesce(sum(x.amount), 0) AS paid
}
CALL () {
  MATCH (w:Withdrawal) USING INDEX SEEK w:Withdrawal(member_id)
  WHERE w.member_id = $member_id AND w.state IN $open_states
  RETURN coalesce(sum(w.amount), 0) AS withdrawing, count(w) AS open
}
CALL () {
  OPTIONAL MATCH (m:Member {id: $member_id}) USING INDEX SEEK m:Member(id)
  WITH m, coalesce([(m)<-[:FLAGS]-(f) WHERE f.state IS NULL | f.id], []) AS open_flags
  OPTIONAL MATCH (m)<-[l:PAID|REVERSED]-(o)
  WHERE size(open_flags) > 0 AND (l.frozen_by IS NOT NULL OR type(l) = 'REVERSED')
  WITH open_flags, collect(CASE WHEN l IS NOT NULL THEN """
    + LINE
    + """ END) AS lines
"""
    + FROZEN_SUM
    + """
}
RETURN earned, adjusted, paid, withdrawing, open, frozen
"""
)

# The whole ledger, once: only payout batches read it.
BALANCES = """
CALL () {
  MATCH (m:Member) USING SCAN m:Member
  MATCH (m)<-[l:PAID|REVERSED]-()
  RETURN m.id AS member_id, l.amount AS amount
  UNION ALL
  MATCH (a:Adjustment)
  RETURN a.member_id AS member_id, a.amount AS amount
  UNION ALL
  MATCH (x:Payment)
  RETURN x.member_id AS member_id, -x.amount AS amount
}
WITH member_id, sum(amount) AS balance
WHERE balance <> 0
RETURN member_id, balance
ORDER BY member_id
"""

# One member's entries: its ledger lines, and with $payments its payments (negative).
ENTRIES = (
    """
CALL () {
  MATCH (m:Member {id: $member_id}) USING INDEX SEEK m:Member(id)
  MATCH (m)<-[l:PAID|REVERSED]-(o)
  WITH """
    + LINE
    + """ AS p
  OPTIONAL MATCH (r:SettlementRun {id: p.run_id})
  RETURN p.key AS key, p.kind AS kind, p.order_id AS order_id, p.tier AS tier,
         p.amount AS amount, p.reversal AS reversal, p.run_id AS run_id,
         p.run_id AS reference, coalesce(r.started_at, p.at) AS at, null AS reason
  UNION ALL
  MATCH (a:Adjustment) USING INDEX SEEK a:Adjustment(member_id)
  WHERE a.member_id = $member_id
  RETURN a.id AS key, 'ADJUSTMENT' AS kind, null AS order_id, null AS tier,
         a.amount AS amount, false AS reversal, null AS run_id, a.id AS reference,
         a.at AS at, a.reason AS reason
  UNION ALL
  MATCH (x:Payment) USING INDEX SEEK x:Payment(member_id)
  WHERE $payments AND x.member_id = $member_id
  RETURN x.key AS key, 'PAYMENT' AS kind, null AS order_id, null AS tier,
         -x.amount AS amount, false AS reversal, null AS run_id, x.batch_id AS reference,
         x.at AS at, x.withdrawal_id AS reason
}
WITH key, kind, order_id, tier, amount, reversal, run_id, reference, at, reason,
     at.epochMillis AS ms
"""
)

PAGE = (
    ENTRIES
    + """
WHERE at >= $start AND at < $end
WITH * ORDER BY ms DESC, key DESC
WITH collect({key: key, kind: kind, order_id: order_id, tier: tier, amount: amount,
              reversal: reversal, run_id: run_id, reference: reference, at: at,
              reason: reason, ms: ms}) AS rows
RETURN size(rows) AS total,
       [r IN rows WHERE $after_ms IS NULL OR r.ms < $after_ms
                        OR (r.ms = $after_ms AND r.key < $after_key)][..$first + 1] AS page
"""
)

STATEMENT = (
    ENTRIES
    + """
WHERE at < $end
WITH * ORDER BY ms, key
WITH sum(CASE WHEN at < $start THEN amount ELSE 0 END) AS opening,
     collect(CASE WHEN at >= $start THEN {key: key, kind: kind, order_id: order_id, tier: tier,
             amount: amount, reversal: reversal, run_id: run_id, reference: reference, at: at,
             reason: reason, ms: ms} END) AS rows
RETURN coalesce(opening, 0) AS opening, rows
"""
)

PARTIES = """
UNWIND $order_ids AS id
MATCH (o:Order {id: id}) USING INDEX SEEK o:Order(id)
OPTIONAL MATCH (o)<-[:BOUGHT]-(buyer)
OPTIONAL MATCH (o)<-[:SOLD]-(seller)
RETURN o.id AS order_id, buyer.id AS buyer_id, buyer.name AS buyer_name,
       seller.id AS seller_id, seller.name AS seller_name
"""

# Who may be paid for an order: a gift package pays up to three sponsors above its buyer, a
# retail order its seller and two above. So a member's candidates are the gift packages bought
# one to three levels below it and the retail orders sold by it or up to two levels below.
_PENDING_HEAD = """
MATCH (me:Member {id: $member_id})
CALL (me) {
  MATCH (d)-[:SPONSORED_BY*1..3]->(me)
  MATCH (d)-[:BOUGHT]->(o)
  WHERE o.kind = 'GIFT_PACKAGE'
  RETURN o
  UNION
  MATCH (d)-[:SPONSORED_BY*0..2]->(me)
  MATCH (d)-[:SOLD]->(o)
  WHERE o.kind = 'RETAIL'
  RETURN o
}
WITH o
WHERE o.settled_run IS NULL AND o.unsettled_since IS NOT NULL AND o.refunded_at IS NULL
CALL (o) {
  MATCH (p:Plan) WHERE p.effective_from <= o.paid_at
  RETURN p AS plan ORDER BY p.effective_from DESC LIMIT 1
}
CALL (o, plan) {
"""

_PENDING_TAIL = """
  WITH tier, m, share, eligible
  WHERE eligible AND m.id = $member_id
  RETURN share
}
RETURN coalesce(sum(share), 0) AS pending
"""

# Settlement links a member to its gift packages (HOLDS_PACKAGE) as it settles them; a package
# not settled yet is not linked, so the read checks the same packages through BOUGHT.
_HOLDS = re.compile(r"-\[:HOLDS_PACKAGE\]->\(g\)")
_BOUGHT_PACKAGE = "-[:BOUGHT]->(g {kind: 'GIFT_PACKAGE'})"


@cache
def pending_query() -> str:
    """The pending read: settlement's per-order rules (who is at each tier, eligibility, shares,
    rounding) from ``payouts.cypher`` itself, so pending and settlement cannot differ."""
    rules = _HOLDS.sub(_BOUGHT_PACKAGE, payrules.SHARES)
    if rules == payrules.SHARES:
        raise LookupError("the shares section no longer checks agency through HOLDS_PACKAGE")
    return _PENDING_HEAD + rules + _PENDING_TAIL


@dataclass(frozen=True)
class Balance:
    member_id: str
    balance: int
    """Ledger lines less payments; negative when a reversal followed a payment."""
    available: int
    """What a withdrawal may ask for now: the balance less open withdrawals and frozen money,
    at least 0."""
    withdrawing: int
    """Open withdrawals (requested or approved, not yet paid)."""
    open_withdrawals: int
    pending: int
    """What settlement would pay for orders not settled yet (in the hold period or waiting)."""
    paid: int
    """Everything payout batches paid the member."""
    earned: int
    """Payouts less reversals."""
    adjusted: int
    """Adjustments, signed."""
    frozen: int = 0
    """Payouts frozen for an open risk flag: kept out of available and payout batches."""


@dataclass(frozen=True)
class LedgerLine:
    key: str
    kind: str
    """RETAIL or GIFT_PACKAGE (a payout or reversal), ADJUSTMENT, or, in statements, PAYMENT."""
    amount: int
    at: datetime
    order_id: str | None = None
    tier: int | None = None
    reversal: bool = False
    run_id: str | None = None
    """The settlement run that wrote a payout or reversal."""
    reference: str | None = None
    """The run, the adjustment's id, or the paying batch."""
    reason: str | None = None
    """An adjustment's reason; for a payment, the withdrawal it paid (if any)."""
    buyer_id: str | None = None
    buyer_name: str | None = None
    seller_id: str | None = None
    seller_name: str | None = None
    """Only for a retail order."""
    millis: int = 0


@dataclass(frozen=True)
class LedgerPage:
    lines: tuple[LedgerLine, ...]
    total: int
    has_next: bool


@dataclass(frozen=True)
class StatementLine:
    line: LedgerLine
    balance: int
    """The running balance after this line."""


@dataclass(frozen=True)
class Statement:
    member_id: str
    start: datetime | None
    end: datetime | None
    opening: int
    lines: tuple[StatementLine, ...]
    closing: int


def _line(row: dict[str, Any]) -> LedgerLine:
    return LedgerLine(
        key=row["key"],
        kind=row["kind"],
        amount=row["amount"],
        at=row["at"].to_native(),
        order_id=row["order_id"],
        tier=row["tier"],
        reversal=bool(row["reversal"]),
        run_id=row["run_id"],
        reference=row["reference"],
        reason=row["reason"],
        millis=row["ms"],
    )


async def _with_parties(
    tx: neo4j.AsyncManagedTransaction, lines: list[LedgerLine]
) -> list[LedgerLine]:
    ids = sorted({line.order_id for line in lines if line.order_id is not None})
    if not ids:
        return lines
    result = await tx.run(PARTIES, order_ids=ids)
    parties = {r["order_id"]: r.data() async for r in result}
    out = []
    for line in lines:
        p = parties.get(line.order_id) if line.order_id else None
        if p is None:
            out.append(line)
            continue
        retail = line.kind == "RETAIL"
        out.append(
            replace(
                line,
                buyer_id=p["buyer_id"],
                buyer_name=p["buyer_name"],
                seller_id=p["seller_id"] if retail else None,
                seller_name=p["seller_name"] if retail else None,
            )
        )
    return out


async def balance_in(tx: neo4j.AsyncManagedTransaction, member_id: str) -> Balance:
    """The balance without pending, inside a caller's transaction (the money writes)."""
    result = await tx.run(BALANCE, member_id=member_id, open_states=list(OPEN_STATES))
    r = await result.single(strict=True)
    total = r["earned"] + r["adjusted"] - r["paid"]
    return Balance(
        member_id=member_id,
        balance=total,
        available=max(total - r["withdrawing"] - r["frozen"], 0),
        withdrawing=r["withdrawing"],
        open_withdrawals=r["open"],
        pending=0,
        paid=r["paid"],
        earned=r["earned"],
        adjusted=r["adjusted"],
        frozen=r["frozen"],
    )


async def balance(
    driver: neo4j.AsyncDriver,
    member_id: str,
    *,
    timeout: float | None = None,
    database: str = "neo4j",
) -> Balance:
    """A member's balance, available, pending and paid (fen)."""

    async def work(tx: neo4j.AsyncManagedTransaction) -> Balance:
        found = await balance_in(tx, member_id)
        result = await tx.run(pending_query(), member_id=member_id)
        record = await result.single(strict=False)
        return replace(found, pending=0 if record is None else int(record["pending"]))

    return await read(driver, work, timeout=timeout, database=database)


def frozen_balances(tx: neo4j.ManagedTransaction) -> dict[str, int]:
    """member id -> frozen fen of every member with money frozen for an open risk flag."""
    return {r["member_id"]: r["frozen"] for r in tx.run(FROZEN_BALANCES)}


def balances(driver: neo4j.Driver, *, database: str = "neo4j") -> dict[str, int]:
    """member id -> balance (fen) of every member whose balance is not zero."""
    records, _, _ = driver.execute_query(
        BALANCES, database_=database, routing_=neo4j.RoutingControl.READ
    )
    return {r["member_id"]: r["balance"] for r in records}


async def ledger_page(
    driver: neo4j.AsyncDriver,
    member_id: str,
    *,
    start: datetime | None,
    end: datetime | None,
    first: int,
    after: tuple[int, str] | None,
    timeout: float | None = None,
    database: str = "neo4j",
) -> LedgerPage:
    """Ledger lines booked in [start, end), newest first (ties by key), ``first`` after the
    cursor ``after`` (the last line's (millis, key))."""

    async def work(tx: neo4j.AsyncManagedTransaction) -> LedgerPage:
        result = await tx.run(
            PAGE,
            member_id=member_id,
            payments=False,
            start=start or EARLIEST,
            end=end or LATEST,
            first=first,
            after_ms=None if after is None else after[0],
            after_key=None if after is None else after[1],
        )
        r = await result.single(strict=True)
        lines = [_line(row) for row in r["page"]]
        shown = await _with_parties(tx, lines[:first])
        return LedgerPage(lines=tuple(shown), total=r["total"], has_next=len(lines) > first)

    return await read(driver, work, timeout=timeout, database=database)


async def statement(
    driver: neo4j.AsyncDriver,
    member_id: str,
    *,
    start: datetime | None,
    end: datetime | None,
    timeout: float | None = None,
    database: str = "neo4j",
) -> Statement:
    """Opening balance at ``start``, every ledger line and payment booked in [start, end)
    oldest first with the running balance, and the closing balance at ``end``."""

    async def work(tx: neo4j.AsyncManagedTransaction) -> Statement:
        result = await tx.run(
            STATEMENT,
            member_id=member_id,
            payments=True,
            start=start or EARLIEST,
            end=end or LATEST,
        )
        r = await result.single(strict=True)
        lines = await _with_parties(tx, [_line(row) for row in r["rows"]])
        running = r["opening"]
        rows = []
        for line in lines:
            running += line.amount
            rows.append(StatementLine(line=line, balance=running))
        return Statement(
            member_id=member_id,
            start=start,
            end=end,
            opening=r["opening"],
            lines=tuple(rows),
            closing=running,
        )

    return await read(driver, work, timeout=timeout, database=database)
