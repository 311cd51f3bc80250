"""The platform-wide growth and compliance fields of Query (graph/growth.py, graph/compliance.py).

Their rows link back to a ``Member``, so they sit above api/types.py; the member-level types they
share live in api/growth.py.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry
from strawberry.types import Info

from api.errors import bad_input
from api.growth import CohortRetention, IncomeMix, PathCheck, thresholds
from api.limits import MAX_PAGE
from api.loaders import Context
from api.scalars import DateTime, Money, check_range, check_window, field
from api.types import Member
from graph import compliance, growth, platformgrowth
from graph.compliance import RECRUITING_BP, TEAM_PAY_BP
from graph.errors import BadInput

From = Annotated[DateTime | None, strawberry.argument(name="from")]


@strawberry.type
class FlaggedMember:
    member_id: strawberry.ID
    income: IncomeMix
    mostly_recruiting: bool
    mostly_team_pay: bool

    @strawberry.field
    async def member(self, info: Info[Context, None]) -> Member | None:
        record = await info.context.loaders.members.load(str(self.member_id))
        return None if record is None else Member.from_record(record)


@strawberry.type
class PlatformCompliance:
    income: IncomeMix
    members_paid: int
    recruiting_bp: int
    team_pay_bp: int
    flagged_count: int
    flagged: list[FlaggedMember] = strawberry.field(
        description="The first `limit` flagged members, highest income first, then id."
    )
    paths: PathCheck
    adjustments: Money = strawberry.field(
        default=Money(0),
        description="Net manual adjustments booked in the window: not earned income.",
    )

    @classmethod
    def from_record(cls, r: compliance.PlatformCompliance) -> PlatformCompliance:
        return cls(
            income=IncomeMix.from_record(r.income),
            members_paid=r.members_paid,
            recruiting_bp=r.recruiting_bp,
            team_pay_bp=r.team_pay_bp,
            flagged_count=r.flagged_count,
            flagged=[
                FlaggedMember(
                    member_id=strawberry.ID(f.member_id),
                    income=IncomeMix.from_record(f.income),
                    mostly_recruiting=f.mostly_recruiting,
                    mostly_team_pay=f.mostly_team_pay,
                )
                for f in r.flagged
            ],
            paths=PathCheck.from_record(r.paths),
            adjustments=Money(r.adjustments),
        )


Granularity = strawberry.enum(platformgrowth.Granularity, name="Granularity")


@strawberry.type
class GrowthBucket:
    start: date = strawberry.field(description="The first day (UTC+08:00) of the bucket.")
    members_joined: int
    agents: int = strawberry.field(
        description="Members whose first held gift package was paid in the bucket."
    )
    orders: int = strawberry.field(description="Orders paid in the bucket and not refunded.")
    volume: Money = strawberry.field(description="Their amounts.")


@strawberry.type
class PlatformGrowth:
    granularity: Granularity  # type: ignore[valid-type]
    buckets: list[GrowthBucket]

    @classmethod
    def from_record(cls, r: platformgrowth.PlatformGrowth) -> PlatformGrowth:
        return cls(
            granularity=r.granularity,
            buckets=[
                GrowthBucket(
                    start=b.start,
                    members_joined=b.members_joined,
                    agents=b.agents,
                    orders=b.orders,
                    volume=Money(b.volume),
                )
                for b in r.buckets
            ],
        )


@strawberry.type
class GrowthQuery:
    @field(
        "Agents by the month they became agents in [from, to), and how many still buy k ="
        " 0..months months later; with memberId, that member's branch. Without memberId, staff"
        " only."
    )
    async def cohort_retention(
        self,
        info: Info[Context, None],
        months: int = 6,
        from_: From = None,
        to: DateTime | None = None,
        member_id: strawberry.ID | None = None,
    ) -> CohortRetention | None:
        check_window(from_, to)
        check_range("months", months, 0, growth.MAX_RETENTION_MONTHS)
        ctx = info.context
        if member_id is None:
            ctx.require_staff()
        else:
            await ctx.require_visible(str(member_id))
        found = await ctx.run(
            growth.cohort_retention(
                ctx.driver,
                start=from_,
                end=to,
                months=months,
                member_id=None if member_id is None else str(member_id),
                database=ctx.database,
                timeout=ctx.timeout,
            )
        )
        return None if found is None else CohortRetention.from_record(found)

    @field(
        "The platform's income mix over [from, to) on the order's paid_at, the members flagged"
        " as mostly recruiting or team pay (share above the threshold, bp), and the payout path"
        " check. Staff only."
    )
    async def compliance(
        self,
        info: Info[Context, None],
        from_: From = None,
        to: DateTime | None = None,
        recruiting_bp: int = RECRUITING_BP,
        team_pay_bp: int = TEAM_PAY_BP,
        limit: int = 20,
    ) -> PlatformCompliance:
        check_window(from_, to)
        thresholds(recruiting_bp, team_pay_bp)
        check_range("limit", limit, 1, MAX_PAGE)
        ctx = info.context
        ctx.require_staff()
        found = await ctx.run(
            compliance.platform_compliance(
                ctx.driver,
                start=from_,
                end=to,
                recruiting_bp=recruiting_bp,
                team_pay_bp=team_pay_bp,
                limit=limit,
                database=ctx.database,
                timeout=ctx.timeout,
            )
        )
        return PlatformCompliance.from_record(found)

    @field(
        "Members joined, new agents, orders and volume per day, week or month (UTC+08:00) of"
        " [from, to), every bucket included; at most 400 buckets. Staff only."
    )
    async def platform_growth(
        self,
        info: Info[Context, None],
        from_: Annotated[DateTime, strawberry.argument(name="from")],
        to: DateTime,
        granularity: Granularity = platformgrowth.Granularity.DAY,  # type: ignore[valid-type]
    ) -> PlatformGrowth:
        check_window(from_, to)
        ctx = info.context
        ctx.require_staff()
        try:
            found = await ctx.run(
                platformgrowth.platform_growth(
                    ctx.driver,
                    start=from_,
                    end=to,
                    granularity=granularity,
                    database=ctx.database,
                    timeout=ctx.timeout,
                )
            )
        except BadInput as exc:
            raise bad_input(exc.message) from exc
        return PlatformGrowth.from_record(found)
