"""Settlement preview: what a run would pay, or what a candidate plan would have paid, writing
nothing.

Both read the rules from the settlement files themselves (graph/payrules.py):
- without a candidate, the orders a run at the cutoff would settle (``pending``) and reverse
  (``refunded``), priced by ``shares`` under the stored plans. A run first links new gift
  packages (``links``), which agency reads; the preview does the same inside a transaction that
  it rolls back, so it sees what the run would see and commits nothing;
- with a candidate plan, the orders already settled and not reversed, paid in [start, cutoff),
  priced by ``shares`` under the candidate (its tiers, shares, cost and self-purchase rule; not
  its hold period or effective date, since these orders have settled), and compared with the
  committed ledger per tier, kind and member.
Money is integer fen; the compliance mix uses graph/compliance.py's thresholds and shares.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import neo4j

from contract.money import require_offset
from graph import payrules
from graph.compliance import RECRUITING_BP, TEAM_PAY_BP, IncomeMix
from graph.errors import BadInput
from graph.growth import share_bp
from graph.plans import Plan, PlanRefused, plan_from_mapping
from graph.settlement import check_cutoff

KINDS = ("RETAIL", "GIFT_PACKAGE")
TIERS = (1, 2, 3)
TOP = 10
EARLIEST = datetime.fromisoformat("0001-01-02T00:00:00+00:00")

_TIER_ROWS = """
  RETURN pool, collect({tier: tier, member_id: CASE WHEN eligible THEN m.id END,
                        amount: CASE WHEN eligible THEN share ELSE 0 END}) AS tiers
"""

SETTLE = f"""
{payrules.PENDING_ORDERS}
CALL (o, plan) {{
{payrules.SHARES}
{_TIER_ROWS}
}}
RETURN o.id AS order_id, o.kind AS kind, coalesce(o.buyer_id = o.seller_id, false) AS own,
       pool, tiers
"""

REVERSE = f"""
{payrules.REFUNDED_ORDERS}
CALL (o) {{
{payrules.REVERSED_PAYOUTS}
  RETURN collect({{tier: p.tier, member_id: m.id, amount: -p.amount}}) AS tiers
}}
RETURN o.id AS order_id, o.kind AS kind, coalesce(o.buyer_id = o.seller_id, false) AS own,
       tiers
"""

# The committed side: an order's payout lines, expanded from the order (reversed orders are left
# out on both sides, since they net to zero under any plan).
CANDIDATE = f"""
MATCH (o:Order) USING INDEX SEEK o:Order(paid_at)
WHERE o.paid_at >= $start AND o.paid_at < $end
  AND o.settled_run IS NOT NULL AND o.reversed_run IS NULL
WITH o, $plan AS plan
CALL (o, plan) {{
{payrules.SHARES}
{_TIER_ROWS}
}}
CALL (o) {{
  MATCH (o)-[p:PAID]->(m)
  RETURN collect({{tier: p.tier, member_id: m.id, amount: p.amount}}) AS committed
}}
RETURN o.id AS order_id, o.kind AS kind, coalesce(o.buyer_id = o.seller_id, false) AS own,
       pool, tiers, o.retained AS committed_retained, committed
"""


@dataclass(frozen=True)
class PreviewLine:
    """One ledger line a run would write (a payout, or a reversal with a negative amount)."""

    order_id: str
    member_id: str
    tier: int
    kind: str
    amount: int
    reversal: bool


@dataclass(frozen=True)
class PreviewTotal:
    """As a run's RunTotal: per tier and kind, what is paid and what is reversed."""

    tier: int
    kind: str
    paid: int
    payouts: int
    reversed: int
    reversals: int


@dataclass(frozen=True)
class MemberAmount:
    member_id: str
    amount: int


@dataclass(frozen=True)
class ComplianceMix:
    """graph/compliance.py's view of a set of lines: the platform's income mix, and the share
    of members paid who would be flagged (a share above a threshold)."""

    income: IncomeMix
    members_paid: int
    flagged: int
    flagged_bp: int
    recruiting_bp: int
    team_pay_bp: int


@dataclass(frozen=True)
class Difference:
    """``tier``/``kind``/``member_id`` say what is compared (None: all of it)."""

    tier: int | None
    kind: str | None
    member_id: str | None
    preview: int
    committed: int

    @property
    def difference(self) -> int:
        return self.preview - self.committed


@dataclass(frozen=True)
class Comparison:
    """A candidate plan against the committed ledger, for the same orders."""

    tiers: tuple[Difference, ...]
    kinds: tuple[Difference, ...]
    members: tuple[Difference, ...]
    """Every member whose amount differs, largest difference (in absolute value) first."""
    retained: Difference
    compliance: ComplianceMix
    """The committed ledger's mix, to set beside the preview's."""


@dataclass(frozen=True)
class SettlementPreview:
    cutoff: datetime
    plan_id: str | None
    """The candidate plan's id; None for a preview of the next run under the stored plans."""
    orders: int
    orders_reversed: int
    pool: int
    paid: int
    reversed: int
    retained: int
    totals: tuple[PreviewTotal, ...]
    top: tuple[MemberAmount, ...]
    compliance: ComplianceMix
    comparison: Comparison | None
    lines: tuple[PreviewLine, ...]
    """Every line, when asked for (``lines=True``); empty otherwise."""


def parse_plan(text: str) -> Plan:
    """A candidate plan from TOML text, checked by the same rules as ``downline plan load``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanRefused(f"the plan is not valid TOML: {exc}") from exc
    return plan_from_mapping(data)


def _plan_map(plan: Plan) -> dict[str, Any]:
    """The fields ``shares`` reads, as a map standing where a Plan node stands in a run."""
    return {
        "id": plan.id,
        "self_purchase": plan.self_purchase,
        "retail_override_bp": list(plan.retail_override_bp),
        "gift_cost_bp": plan.gift_cost_bp,
        "gift_shares_bp": list(plan.gift_shares_bp),
    }


class _Book:
    """Sums lines as they stream in: per tier and kind, per member, and the income mix."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.lines: list[PreviewLine] = []
        self.totals: dict[tuple[int, str], list[int]] = {
            (t, k): [0, 0, 0, 0] for t in TIERS for k in KINDS
        }
        self.members: dict[str, int] = defaultdict(int)
        self.mix: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])

    def add(
        self,
        order_id: str,
        kind: str,
        own: bool,
        tiers: Iterable[Mapping[str, Any]],
        *,
        reversal: bool = False,
    ) -> int:
        """Adds an order's lines; returns what they pay."""
        paid = 0
        for t in tiers:
            member, amount = t["member_id"], int(t["amount"])
            if member is None or amount == 0:
                continue
            tier = int(t["tier"])
            paid += amount
            total = self.totals[(tier, kind)]
            total[2 if reversal else 0] += amount
            total[3 if reversal else 1] += 1
            self.members[member] += amount
            mix = self.mix[member]
            mix[0] += amount
            mix[1 if kind == "GIFT_PACKAGE" else 2] += amount
            if tier >= 2:
                mix[3] += amount
            if kind == "RETAIL" and own:
                mix[4] += amount
            if self.keep:
                self.lines.append(PreviewLine(order_id, member, tier, kind, amount, reversal))
        return paid

    def total_lines(self) -> tuple[PreviewTotal, ...]:
        return tuple(PreviewTotal(t, k, *self.totals[(t, k)]) for t in TIERS for k in KINDS)

    def top(self, limit: int) -> tuple[MemberAmount, ...]:
        ranked = sorted(self.members.items(), key=lambda kv: (-kv[1], kv[0]))
        return tuple(MemberAmount(m, a) for m, a in ranked[:limit])

    def compliance(self) -> ComplianceMix:
        income = IncomeMix.of(*(sum(v[i] for v in self.mix.values()) for i in range(5)))
        paid = flagged = 0
        for total, gift, _retail, team, _own in self.mix.values():
            if total <= 0:
                continue
            paid += 1
            if share_bp(gift, total) > RECRUITING_BP or share_bp(team, total) > TEAM_PAY_BP:
                flagged += 1
        return ComplianceMix(
            income=income,
            members_paid=paid,
            flagged=flagged,
            flagged_bp=share_bp(flagged, paid),
            recruiting_bp=RECRUITING_BP,
            team_pay_bp=TEAM_PAY_BP,
        )


def _differences(preview: _Book, committed: _Book, retained: tuple[int, int]) -> Comparison:
    def of(tier: int | None, kind: str | None) -> Difference:
        def paid(book: _Book) -> int:
            return sum(
                v[0] + v[2]
                for (t, k), v in book.totals.items()
                if (tier is None or t == tier) and (kind is None or k == kind)
            )

        return Difference(tier, kind, None, paid(preview), paid(committed))

    members = [
        Difference(None, None, m, preview.members.get(m, 0), committed.members.get(m, 0))
        for m in set(preview.members) | set(committed.members)
    ]
    changed = [d for d in members if d.difference != 0]
    changed.sort(key=lambda d: (-abs(d.difference), d.member_id or ""))
    return Comparison(
        tiers=tuple(of(t, None) for t in TIERS),
        kinds=tuple(of(None, k) for k in KINDS),
        members=tuple(changed),
        retained=Difference(None, None, None, retained[0], retained[1]),
        compliance=committed.compliance(),
    )


async def preview(
    driver: neo4j.AsyncDriver,
    *,
    cutoff: datetime,
    plan: Plan | None = None,
    start: datetime | None = None,
    top: int = TOP,
    lines: bool = False,
    timeout: float | None = None,
    database: str = "neo4j",
) -> SettlementPreview:
    """What settlement at ``cutoff`` would pay (no ``plan``), or what ``plan`` would have paid
    for the orders already settled that were paid in [start, cutoff), against the committed
    ledger. Raises SettlementRefused as ``settle`` would (no plan stored; a cutoff before the
    last finished run's) for a preview of the next run. Writes nothing."""
    require_offset(cutoff)
    if top < 0:
        raise BadInput(f"top must not be negative, got {top}")
    book = _Book(lines)
    orders = reversed_orders = pool = retained = 0
    comparison: Comparison | None = None
    async with driver.session(database=database) as session:
        if plan is None:
            await check_cutoff(session, cutoff)
            # A write transaction, for the package links a run would write first; never
            # committed.
            tx = await session.begin_transaction(timeout=timeout)
            try:
                params = {"cutoff": cutoff.isoformat()}
                await (await tx.run(payrules.LINKS, params)).consume()
                async for r in await tx.run(SETTLE, params):
                    orders += 1
                    pool += r["pool"]
                    retained += r["pool"] - book.add(r["order_id"], r["kind"], r["own"], r["tiers"])
                async for r in await tx.run(REVERSE, params):
                    reversed_orders += 1
                    book.add(r["order_id"], r["kind"], r["own"], r["tiers"], reversal=True)
            finally:
                await tx.rollback()
        else:
            committed = _Book(False)
            was_retained = 0
            window: dict[str, Any] = {"start": start or EARLIEST, "end": cutoff}
            window["plan"] = _plan_map(plan)
            tx = await session.begin_transaction(timeout=timeout)
            try:
                async for r in await tx.run(CANDIDATE, window):
                    orders += 1
                    pool += r["pool"]
                    retained += r["pool"] - book.add(r["order_id"], r["kind"], r["own"], r["tiers"])
                    committed.add(r["order_id"], r["kind"], r["own"], r["committed"])
                    was_retained += r["committed_retained"] or 0
            finally:
                await tx.rollback()
            comparison = _differences(book, committed, (retained, was_retained))
    totals = book.total_lines()
    return SettlementPreview(
        cutoff=cutoff,
        plan_id=None if plan is None else plan.id,
        orders=orders,
        orders_reversed=reversed_orders,
        pool=pool,
        paid=sum(t.paid for t in totals),
        reversed=sum(t.reversed for t in totals),
        retained=retained,
        totals=totals,
        top=book.top(top),
        compliance=book.compliance(),
        comparison=comparison,
        lines=tuple(book.lines),
    )
