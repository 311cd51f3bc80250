"""GraphQL for the growth signals and the compliance view (graph/growth.py, graph/compliance.py).

Types are built from the graph's records. The Member fields live on ``Member`` in api/types.py
and call the resolvers here; the platform-wide fields, whose rows link back to a Member, are in
api/platform.py. So this module never imports api/types.py.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry
from strawberry.types import Info

from api.limits import MAX_PAGE
from api.loaders import Context
from api.scalars import DateTime, Money, check_range, check_window
from graph import compliance, growth

From = Annotated[DateTime | None, strawberry.argument(name="from")]
MAX_DAYS = 366


@strawberry.type
class WeekRecruits:
    week: date = strawberry.field(description="The Monday (UTC+08:00) the week starts on.")
    recruits: int


@strawberry.type(description="Members who joined a member's downline, per week of joining.")
class FissionSpeed:
    member_id: strawberry.ID
    total: int
    weeks: list[WeekRecruits] = strawberry.field(
        description="Every week the window touches, zeros included."
    )

    @classmethod
    def from_record(cls, r: growth.FissionSpeed) -> FissionSpeed:
        return cls(
            member_id=strawberry.ID(r.member_id),
            total=r.total,
            weeks=[WeekRecruits(week=w.week, recruits=w.recruits) for w in r.weeks],
        )


@strawberry.type(
    description="Of a member's direct recruits who joined in the window, those who became"
    " agents within `days` of joining."
)
class Activation:
    member_id: strawberry.ID
    days: int
    recruits: int
    activated: int
    share_bp: int = strawberry.field(description="activated / recruits, bp, rounded down.")

    @classmethod
    def from_record(cls, r: growth.Activation) -> Activation:
        return cls(
            member_id=strawberry.ID(r.member_id),
            days=r.days,
            recruits=r.recruits,
            activated=r.activated,
            share_bp=r.share_bp,
        )


@strawberry.type
class Cohort:
    month: date = strawberry.field(
        description="The first day of the month (UTC+08:00) its agents became agents."
    )
    agents: int
    active: list[int] = strawberry.field(
        description="active[k]: agents who bought a retail order, never refunded, k months"
        " after the cohort month; only months already begun."
    )
    share_bp: list[int] = strawberry.field(description="active[k] / agents, bp, rounded down.")


@strawberry.type
class CohortRetention:
    member_id: strawberry.ID | None = strawberry.field(
        description="The branch (its subtree, itself included); null for the platform."
    )
    months: int
    cohorts: list[Cohort]

    @classmethod
    def from_record(cls, r: growth.CohortRetention) -> CohortRetention:
        return cls(
            member_id=None if r.member_id is None else strawberry.ID(r.member_id),
            months=r.months,
            cohorts=[
                Cohort(
                    month=c.month,
                    agents=c.agents,
                    active=list(c.active),
                    share_bp=list(c.share_bp),
                )
                for c in r.cohorts
            ],
        )


@strawberry.type(description="Net payout income and what it is made of; shares in bp.")
class IncomeMix:
    total: Money
    gift_package: Money = strawberry.field(description="From gift packages: recruiting.")
    retail: Money
    team_pay: Money = strawberry.field(description="Tiers 2 and 3: pay on others' sales.")
    self_purchase: Money = strawberry.field(
        description="Retail income from orders whose buyer is their seller."
    )
    gift_package_bp: int = strawberry.field(description="giftPackage / total.")
    team_pay_bp: int = strawberry.field(description="teamPay / total.")
    self_purchase_bp: int = strawberry.field(description="selfPurchase / retail.")

    @classmethod
    def from_record(cls, r: compliance.IncomeMix) -> IncomeMix:
        return cls(
            total=Money(r.total),
            gift_package=Money(r.gift_package),
            retail=Money(r.retail),
            team_pay=Money(r.team_pay),
            self_purchase=Money(r.self_purchase),
            gift_package_bp=r.gift_package_bp,
            team_pay_bp=r.team_pay_bp,
            self_purchase_bp=r.self_purchase_bp,
        )


@strawberry.type
class PathViolation:
    order_id: strawberry.ID
    member_id: strawberry.ID
    tier: int
    expected_member_id: strawberry.ID | None
    reason: str = strawberry.field(description="'tier' (outside 1-3) or 'path'.")


@strawberry.type(
    description="Each payout checked against the rules: tier k is k-1 hops above the seller,"
    " or above the buyer's sponsor for a gift package (today's tree)."
)
class PathCheck:
    ok: bool
    payouts_checked: int
    max_tier: int
    violation_count: int
    violations: list[PathViolation] = strawberry.field(
        description="By order and tier: a member's first 100, the platform's first `limit`. A"
        " member token is shown only those whose order's buyer or seller and expected member"
        " are in its downline; violationCount counts them all."
    )

    @classmethod
    def from_record(cls, r: compliance.PathCheck) -> PathCheck:
        return cls(
            ok=r.ok,
            payouts_checked=r.payouts_checked,
            max_tier=r.max_tier,
            violation_count=r.violation_count,
            violations=[
                PathViolation(
                    order_id=strawberry.ID(v.order_id),
                    member_id=strawberry.ID(v.member_id),
                    tier=v.tier,
                    expected_member_id=None
                    if v.expected_member_id is None
                    else strawberry.ID(v.expected_member_id),
                    reason=v.reason,
                )
                for v in r.violations
            ],
        )


@strawberry.type
class MemberCompliance:
    member_id: strawberry.ID
    income: IncomeMix
    mostly_recruiting: bool
    mostly_team_pay: bool
    paths: PathCheck
    adjustments: Money = strawberry.field(
        default=Money(0),
        description="Net manual adjustments booked in the window: not earned income.",
    )


def thresholds(recruiting_bp: int, team_pay_bp: int) -> None:
    check_range("recruitingBp", recruiting_bp, 0, 10_000)
    check_range("teamPayBp", team_pay_bp, 0, 10_000)


# Resolvers of the Member fields declared in api/types.py.


async def member_fission_speed(
    info: Info[Context, None], member_id: str, start: DateTime | None, end: DateTime | None
) -> FissionSpeed | None:
    check_window(start, end)
    ctx = info.context
    await ctx.require_visible(member_id)
    found = await ctx.run(
        growth.fission_speed(
            ctx.driver,
            member_id=member_id,
            start=start,
            end=end,
            database=ctx.database,
            timeout=ctx.timeout,
        )
    )
    return None if found is None else FissionSpeed.from_record(found)


async def member_activation(
    info: Info[Context, None],
    member_id: str,
    start: DateTime | None,
    end: DateTime | None,
    days: int,
) -> Activation | None:
    check_window(start, end)
    check_range("days", days, 1, MAX_DAYS)
    ctx = info.context
    await ctx.require_visible(member_id)
    found = await ctx.run(
        growth.activation(
            ctx.driver,
            member_id=member_id,
            start=start,
            end=end,
            days=days,
            database=ctx.database,
            timeout=ctx.timeout,
        )
    )
    return None if found is None else Activation.from_record(found)


async def member_compliance(
    info: Info[Context, None],
    member_id: str,
    start: DateTime | None,
    end: DateTime | None,
    recruiting_bp: int,
    team_pay_bp: int,
) -> MemberCompliance:
    check_window(start, end)
    thresholds(recruiting_bp, team_pay_bp)
    ctx = info.context
    await ctx.require_visible(member_id)
    r = await ctx.run(
        compliance.member_compliance(
            ctx.driver,
            member_id=member_id,
            start=start,
            end=end,
            recruiting_bp=recruiting_bp,
            team_pay_bp=team_pay_bp,
            limit=MAX_PAGE,
            viewer=ctx.viewer,
            database=ctx.database,
            timeout=ctx.timeout,
        )
    )
    return MemberCompliance(
        member_id=strawberry.ID(r.member_id),
        income=IncomeMix.from_record(r.income),
        mostly_recruiting=r.mostly_recruiting,
        mostly_team_pay=r.mostly_team_pay,
        paths=PathCheck.from_record(r.paths),
        adjustments=Money(r.adjustments),
    )
