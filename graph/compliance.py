"""The compliance view: where members' income comes from, and proof that no payout path is
longer than three tiers (domain.md: recruiting pay, team pay and chains over three levels are
what regulators look for).

Income is the payout ledger netted: the PAID lines of the orders paid in [start, end) and the
REVERSED lines that cancel them (a line has no date of its own: it is its order's ``paid_at``).
Shares are integer basis points of integer fen, rounded down, and 0 when there is no income to
share. Manual adjustments are not earned income: they are shown apart (``adjustments``, signed,
booked in [start, end) on their own time) and count in no share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import neo4j

from graph.cypherfiles import CYPHER, section
from graph.growth import EARLIEST, LATEST, share_bp

COMPLIANCE_FILE = CYPHER / "analytics" / "compliance.cypher"

RECRUITING_BP = 5_000
TEAM_PAY_BP = 5_000
MAX_TIER = 3
MAX_LISTED = 100


@dataclass(frozen=True)
class IncomeMix:
    """Net income in fen and what it is made of.

    ``team_pay`` is tiers 2 and 3 of both kinds: pay on other members' sales and recruits.
    ``self_purchase`` is retail income, any tier, from orders whose buyer is their seller."""

    total: int
    gift_package: int
    retail: int
    team_pay: int
    self_purchase: int
    gift_package_bp: int
    """gift_package / total: income from recruiting."""
    team_pay_bp: int
    """team_pay / total."""
    self_purchase_bp: int
    """self_purchase / retail."""

    @classmethod
    def of(cls, total: int, gift: int, retail: int, team: int, self_purchase: int) -> IncomeMix:
        return cls(
            total=total,
            gift_package=gift,
            retail=retail,
            team_pay=team,
            self_purchase=self_purchase,
            gift_package_bp=share_bp(gift, total),
            team_pay_bp=share_bp(team, total),
            self_purchase_bp=share_bp(self_purchase, retail),
        )


@dataclass(frozen=True)
class PathViolation:
    order_id: str
    member_id: str
    tier: int
    expected_member_id: str | None
    """Who the rules put at that tier in today's tree (None: nobody, or no such tier)."""
    reason: str
    """'tier' (a tier outside 1-3) or 'path' (not the member the tier's hops lead to)."""


@dataclass(frozen=True)
class PathCheck:
    """Every payout (reversals mirror their payouts) of the window checked against the rules:
    tier k is k-1 hops above the seller (retail) or the buyer's sponsor (gift package)."""

    payouts_checked: int
    max_tier: int
    """The longest payout path seen, in tiers (0 when nothing was paid)."""
    violation_count: int
    violations: tuple[PathViolation, ...]
    """The first ``limit`` of them, by order and tier."""

    @property
    def ok(self) -> bool:
        return self.violation_count == 0 and self.max_tier <= MAX_TIER


@dataclass(frozen=True)
class MemberCompliance:
    member_id: str
    income: IncomeMix
    mostly_recruiting: bool
    """gift_package_bp above the recruiting threshold."""
    mostly_team_pay: bool
    """team_pay_bp above the team-pay threshold."""
    paths: PathCheck
    adjustments: int = 0
    """Net manual adjustments (fen, signed) booked in the window: not earned income."""


@dataclass(frozen=True)
class FlaggedMember:
    member_id: str
    income: IncomeMix
    mostly_recruiting: bool
    mostly_team_pay: bool


@dataclass(frozen=True)
class PlatformCompliance:
    income: IncomeMix
    members_paid: int
    """Members with a positive net income in the window."""
    recruiting_bp: int
    team_pay_bp: int
    flagged_count: int
    flagged: tuple[FlaggedMember, ...]
    """The first ``limit`` flagged members, by income (highest first), then id."""
    paths: PathCheck
    adjustments: int = 0
    """Net manual adjustments (fen, signed) booked in the window: not earned income."""


# A line is (o)-[l:PAID|REVERSED]->(m). A member's lines are expanded from the member (its id,
# a unique key), the platform's from the orders of the window on paid_at: named indexes, so the
# plan does not depend on the statistics (docs/model.md, "Query plans"). Every other node is
# reached by expansion, without a label.
def _member_lines(types: str) -> str:
    return f"""
MATCH (m:Member {{id: $member_id}}) USING INDEX SEEK m:Member(id)
MATCH (m)<-[l:{types}]-(o)
WHERE o.paid_at >= $start AND o.paid_at < $end
"""


def _platform_lines(types: str) -> str:
    return f"""
MATCH (o:Order) USING INDEX SEEK o:Order(paid_at)
WHERE o.paid_at >= $start AND o.paid_at < $end AND o.settled_run IS NOT NULL
MATCH (o)-[l:{types}]->(m)
"""


_LINES = "PAID|REVERSED"

# Per member first, so the flags and the platform totals come from the same sums. The rules
# (income, payee, violation) are sections of cypher/analytics/compliance.cypher, written once.
_PER_MEMBER = f"""
WITH m.id AS member_id,
{section(COMPLIANCE_FILE, "income")}
"""

MEMBER_INCOME = (
    _member_lines(_LINES)
    + _PER_MEMBER
    + """
RETURN total, gift_package, retail, team_pay, self_purchase
"""
)

PLATFORM_INCOME = (
    _platform_lines(_LINES)
    + _PER_MEMBER
    + """
RETURN coalesce(sum(total), 0) AS total, coalesce(sum(gift_package), 0) AS gift_package,
       coalesce(sum(retail), 0) AS retail, coalesce(sum(team_pay), 0) AS team_pay,
       coalesce(sum(self_purchase), 0) AS self_purchase,
       count(CASE WHEN total > 0 THEN 1 END) AS members_paid
"""
)

FLAGGED = (
    _platform_lines(_LINES)
    + _PER_MEMBER
    + """
WITH member_id, total, gift_package, retail, team_pay, self_purchase,
     total > 0 AND gift_package * 10000 / total > $recruiting_bp AS mostly_recruiting,
     total > 0 AND team_pay * 10000 / total > $team_pay_bp AS mostly_team_pay
WHERE mostly_recruiting OR mostly_team_pay
WITH member_id, total, gift_package, retail, team_pay, self_purchase, mostly_recruiting,
     mostly_team_pay
ORDER BY total DESC, member_id
WITH collect({member_id: member_id, total: total, gift_package: gift_package, retail: retail,
              team_pay: team_pay, self_purchase: self_purchase,
              mostly_recruiting: mostly_recruiting, mostly_team_pay: mostly_team_pay}) AS rows
RETURN size(rows) AS flagged, rows[..$limit] AS rows
"""
)

# Only PAID lines are checked (a REVERSED line mirrors its PAID line). Walking up from the
# order's first tier costs two hops per line. The check reads today's tree: a payout made
# before an admin transfer of its chain is reported, and worth a look. With a $viewer (a member
# token's member), a violation is listed only when it names nobody outside the viewer's
# downline: its order's buyer or seller and the member the rules now put at its tier are the
# viewer or below it (a walk up from each, bounded by the tree's depth, and only for the few
# payouts in violation: CASE evaluates one branch). It is still counted.
_PATH_CHECK = f"""
{section(COMPLIANCE_FILE, "payee")}
WITH o, l, m, buyer, seller, at_tier,
{section(COMPLIANCE_FILE, "violation")} AS reason
WITH o, l, m, at_tier.id AS expected, reason,
     CASE WHEN reason IS NULL THEN false
          WHEN $viewer IS NULL THEN true
          ELSE (at_tier IS NULL
                OR EXISTS {{ (at_tier)-[:SPONSORED_BY*0..]->(v) WHERE v.id = $viewer }})
               AND (EXISTS {{ (buyer)-[:SPONSORED_BY*0..]->(v) WHERE v.id = $viewer }}
                    OR EXISTS {{ (seller)-[:SPONSORED_BY*0..]->(v) WHERE v.id = $viewer }})
     END AS shown
ORDER BY o.id, l.tier
WITH count(l) AS checked, coalesce(max(l.tier), 0) AS max_tier, count(reason) AS violations,
     collect(CASE WHEN shown THEN {{order_id: o.id, member_id: m.id,
             tier: l.tier, expected: expected, reason: reason}} END) AS bad
RETURN checked, max_tier, violations, bad[..$limit] AS listed
"""

# A member's lines are expanded as everywhere else (PAID|REVERSED) and its PAID ones kept: a
# member has few reversals, and every member read then has one plan shape.
MEMBER_PATHS = _member_lines(_LINES) + "  AND type(l) = 'PAID'\n" + _PATH_CHECK
PATHS = _platform_lines("PAID") + _PATH_CHECK

MEMBER_ADJUSTMENTS = """
MATCH (a:Adjustment) USING INDEX SEEK a:Adjustment(member_id)
WHERE a.member_id = $member_id AND a.at >= $start AND a.at < $end
RETURN coalesce(sum(a.amount), 0) AS adjusted
"""

PLATFORM_ADJUSTMENTS = """
MATCH (a:Adjustment) USING INDEX SEEK a:Adjustment(at)
WHERE a.at >= $start AND a.at < $end
RETURN coalesce(sum(a.amount), 0) AS adjusted
"""


async def _one(tx: neo4j.AsyncManagedTransaction, query: str, **params: Any) -> Any:
    result = await tx.run(query, params)
    return await result.single(strict=False)


def _window(start: datetime | None, end: datetime | None) -> dict[str, datetime]:
    return {"start": start or EARLIEST, "end": end or LATEST}


async def _paths(
    tx: neo4j.AsyncManagedTransaction,
    member_id: str | None,
    window: dict[str, Any],
    limit: int,
    viewer: str | None = None,
) -> PathCheck:
    query = PATHS if member_id is None else MEMBER_PATHS
    r = await _one(tx, query, member_id=member_id, limit=limit, viewer=viewer, **window)
    return PathCheck(
        payouts_checked=r["checked"],
        max_tier=r["max_tier"],
        violation_count=r["violations"],
        violations=tuple(
            PathViolation(
                order_id=v["order_id"],
                member_id=v["member_id"],
                tier=v["tier"],
                expected_member_id=v["expected"],
                reason=v["reason"],
            )
            for v in r["listed"]
        ),
    )


def _mix(r: Any) -> IncomeMix:
    if r is None:
        return IncomeMix.of(0, 0, 0, 0, 0)
    return IncomeMix.of(
        r["total"], r["gift_package"], r["retail"], r["team_pay"], r["self_purchase"]
    )


async def member_compliance(
    driver: neo4j.AsyncDriver,
    *,
    member_id: str,
    start: datetime | None,
    end: datetime | None,
    recruiting_bp: int = RECRUITING_BP,
    team_pay_bp: int = TEAM_PAY_BP,
    limit: int = MAX_LISTED,
    viewer: str | None = None,
    database: str = "neo4j",
    timeout: float | None = None,
) -> MemberCompliance:
    """One member's income mix, its flags, and the paths of the payouts it received.

    With ``viewer`` (a member id), the violations listed are only those whose order (its buyer
    or seller) and expected member are ``viewer`` or in its downline; all are counted."""

    @neo4j.unit_of_work(timeout=timeout)
    async def work(tx: neo4j.AsyncManagedTransaction) -> MemberCompliance:
        window = _window(start, end)
        income = _mix(await _one(tx, MEMBER_INCOME, member_id=member_id, **window))
        return MemberCompliance(
            member_id=member_id,
            income=income,
            mostly_recruiting=income.total > 0 and income.gift_package_bp > recruiting_bp,
            mostly_team_pay=income.total > 0 and income.team_pay_bp > team_pay_bp,
            paths=await _paths(tx, member_id, window, limit, viewer),
            adjustments=(await _one(tx, MEMBER_ADJUSTMENTS, member_id=member_id, **window))[
                "adjusted"
            ],
        )

    async with driver.session(database=database) as session:
        return await session.execute_read(work)


async def platform_compliance(
    driver: neo4j.AsyncDriver,
    *,
    start: datetime | None,
    end: datetime | None,
    recruiting_bp: int = RECRUITING_BP,
    team_pay_bp: int = TEAM_PAY_BP,
    limit: int = MAX_LISTED,
    database: str = "neo4j",
    timeout: float | None = None,
) -> PlatformCompliance:
    """The platform's income mix, the members flagged, and the path check of every payout."""

    @neo4j.unit_of_work(timeout=timeout)
    async def work(tx: neo4j.AsyncManagedTransaction) -> PlatformCompliance:
        window = _window(start, end)
        total = await _one(tx, PLATFORM_INCOME, member_id=None, **window)
        flagged = await _one(
            tx,
            FLAGGED,
            member_id=None,
            recruiting_bp=recruiting_bp,
            team_pay_bp=team_pay_bp,
            limit=limit,
            **window,
        )
        rows = [] if flagged is None else flagged["rows"]
        return PlatformCompliance(
            income=_mix(total),
            members_paid=total["members_paid"],
            recruiting_bp=recruiting_bp,
            team_pay_bp=team_pay_bp,
            flagged_count=0 if flagged is None else flagged["flagged"],
            flagged=tuple(
                FlaggedMember(
                    member_id=row["member_id"],
                    income=_mix(row),
                    mostly_recruiting=row["mostly_recruiting"],
                    mostly_team_pay=row["mostly_team_pay"],
                )
                for row in rows
            ),
            paths=await _paths(tx, None, window, limit),
            adjustments=(await _one(tx, PLATFORM_ADJUSTMENTS, **window))["adjusted"],
        )

    async with driver.session(database=database) as session:
        return await session.execute_read(work)
