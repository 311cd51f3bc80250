"""GraphQL for the settlement preview (graph/preview.py): ``settlementPreview``, for analysts and
admins. ``plan`` is a candidate plan as TOML text (the file ``downline plan load`` takes), never
stored; without it, the preview is of the next run under the stored plans."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from api.errors import bad_input
from api.limits import MAX_PAGE
from api.loaders import Context
from api.scalars import DateTime, Money, OrderKind, check_range, check_window, field
from graph import preview as settlement_preview
from graph.errors import BadInput

From = Annotated[DateTime | None, strawberry.argument(name="from")]


@strawberry.type
class PreviewTotal:
    tier: int
    kind: OrderKind
    paid: Money
    payouts: int
    reversed: Money
    reversals: int


@strawberry.type
class MemberAmount:
    member_id: strawberry.ID
    amount: Money


@strawberry.type(description="graph/compliance.py's view of the previewed lines.")
class PreviewCompliance:
    total: Money
    gift_package: Money
    retail: Money
    team_pay: Money
    recruiting_share_bp: int = strawberry.field(description="gift package / total, bp.")
    team_pay_share_bp: int = strawberry.field(description="tiers 2 and 3 / total, bp.")
    members_paid: int
    members_flagged: int
    flagged_share_bp: int = strawberry.field(description="flagged / paid members, bp.")

    @classmethod
    def from_record(cls, m: settlement_preview.ComplianceMix) -> PreviewCompliance:
        return cls(
            total=Money(m.income.total),
            gift_package=Money(m.income.gift_package),
            retail=Money(m.income.retail),
            team_pay=Money(m.income.team_pay),
            recruiting_share_bp=m.income.gift_package_bp,
            team_pay_share_bp=m.income.team_pay_bp,
            members_paid=m.members_paid,
            members_flagged=m.flagged,
            flagged_share_bp=m.flagged_bp,
        )


@strawberry.type(description="A candidate's amount beside the committed ledger's.")
class PreviewDifference:
    tier: int | None
    kind: OrderKind | None
    member_id: strawberry.ID | None
    preview: Money
    committed: Money
    difference: Money

    @classmethod
    def from_record(cls, d: settlement_preview.Difference) -> PreviewDifference:
        return cls(
            tier=d.tier,
            kind=None if d.kind is None else OrderKind(d.kind),
            member_id=None if d.member_id is None else strawberry.ID(d.member_id),
            preview=Money(d.preview),
            committed=Money(d.committed),
            difference=Money(d.difference),
        )


@strawberry.type
class PreviewComparison:
    tiers: list[PreviewDifference]
    kinds: list[PreviewDifference]
    members: list[PreviewDifference] = strawberry.field(
        description="Members paid differently, largest difference first, at most `top`."
    )
    members_changed: int
    retained: PreviewDifference
    committed_compliance: PreviewCompliance


@strawberry.type(description="What a settlement run would pay; nothing is written.")
class SettlementPreview:
    cutoff: DateTime
    plan_id: str | None = strawberry.field(description="The candidate plan's id, if one.")
    orders: int
    orders_reversed: int
    pool: Money
    paid: Money
    reversed: Money
    platform_retained: Money
    totals: list[PreviewTotal] = strawberry.field(description="Every tier 1-3 and kind.")
    top: list[MemberAmount] = strawberry.field(description="The largest amounts; ties by id.")
    compliance: PreviewCompliance
    comparison: PreviewComparison | None = strawberry.field(
        description="With a candidate plan: against the committed ledger, same orders."
    )

    @classmethod
    def from_record(cls, p: settlement_preview.SettlementPreview, top: int) -> SettlementPreview:
        c = p.comparison
        return cls(
            cutoff=DateTime(p.cutoff),
            plan_id=p.plan_id,
            orders=p.orders,
            orders_reversed=p.orders_reversed,
            pool=Money(p.pool),
            paid=Money(p.paid),
            reversed=Money(p.reversed),
            platform_retained=Money(p.retained),
            totals=[
                PreviewTotal(
                    tier=t.tier,
                    kind=OrderKind(t.kind),
                    paid=Money(t.paid),
                    payouts=t.payouts,
                    reversed=Money(t.reversed),
                    reversals=t.reversals,
                )
                for t in p.totals
            ],
            top=[
                MemberAmount(member_id=strawberry.ID(m.member_id), amount=Money(m.amount))
                for m in p.top
            ],
            compliance=PreviewCompliance.from_record(p.compliance),
            comparison=None
            if c is None
            else PreviewComparison(
                tiers=[PreviewDifference.from_record(d) for d in c.tiers],
                kinds=[PreviewDifference.from_record(d) for d in c.kinds],
                members=[PreviewDifference.from_record(d) for d in c.members[:top]],
                members_changed=len(c.members),
                retained=PreviewDifference.from_record(c.retained),
                committed_compliance=PreviewCompliance.from_record(c.compliance),
            ),
        )


@strawberry.type
class PreviewQuery:
    @field(
        "What settlement at `until` would pay, writing nothing; with `plan` (TOML text), what"
        " that candidate would have paid for the orders already settled, paid in [from, until)."
        " Analysts and admins."
    )
    async def settlement_preview(
        self,
        info: Info[Context, None],
        until: DateTime,
        plan: str | None = None,
        from_: From = None,
        top: int | None = 10,
    ) -> SettlementPreview:
        ctx = info.context
        ctx.require_staff()
        check_window(from_, until)
        check_range("top", top, 0, MAX_PAGE)
        limit = 10 if top is None else top
        if from_ is not None and plan is None:
            raise bad_input("from is only for a candidate plan")
        try:
            candidate = None if plan is None else settlement_preview.parse_plan(plan)
        except BadInput as exc:
            raise bad_input(f"plan: {exc.message}") from exc
        found = await ctx.run(
            settlement_preview.preview(
                ctx.driver,
                cutoff=until,
                plan=candidate,
                start=from_,
                top=limit,
                timeout=ctx.timeout,
                database=ctx.database,
            )
        )
        return SettlementPreview.from_record(found, limit)
