"""The schema frontends build against: queries, mutations, and the limits on every request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.extensions import DisableIntrospection, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info
from strawberry.types.nodes import SelectedField, Selection

from api import limits
from api.audit import AuditQuery
from api.errors import ApiError, Code, ErrorCodes, forbidden
from api.loaders import Context
from api.money import MoneyMutation, WithdrawalQuery
from api.platform import GrowthQuery
from api.preview import PreviewQuery
from api.risk import RiskQuery
from api.riskdecisions import RiskDecisionMutation
from api.scalars import (
    SCALARS,
    DateTime,
    ErrorCode,
    MutationError,
    check_range,
    check_window,
    field,
    mutation,
)
from api.types import (
    InfluenceMetric,
    InfluencerRow,
    Member,
    MemberMetrics,
    MemberResult,
    Order,
    OrderResult,
    RecordOrderInput,
    RegisterMemberInput,
    SubtreeRevenue,
    TierPayouts,
    metric_value,
)
from graph import members, metrics, orders, payouts, reads
from graph.errors import DownlineError

From = Annotated[DateTime | None, strawberry.argument(name="from")]
MAX_SUBTREE_DEPTH = 100


@strawberry.type
class Query(GrowthQuery, AuditQuery, PreviewQuery, RiskQuery, WithdrawalQuery):
    @strawberry.field
    async def member(self, info: Info[Context, None], id: strawberry.ID) -> Member | None:
        await info.context.require_visible(str(id))
        loaders = info.context.loaders
        # Asked with its sponsor (as member pages are): one read for both instead of two.
        loader = loaders.members_and_sponsors if _selects(info, "sponsor") else loaders.members
        record = await loader.load(str(id))
        return None if record is None else Member.from_record(record)

    @field("Revenue of a member's subtree over [from, to) on paid_at.")
    async def subtree_revenue(
        self,
        info: Info[Context, None],
        member_id: strawberry.ID,
        from_: From = None,
        to: DateTime | None = None,
        max_depth: int | None = None,
    ) -> SubtreeRevenue | None:
        check_window(from_, to)
        check_range("maxDepth", max_depth, 0, MAX_SUBTREE_DEPTH)
        await info.context.require_visible(str(member_id))
        found = await info.context.run(
            info.context.reader.subtree_revenue(
                str(member_id),
                start=from_,
                end=to,
                max_depth=max_depth,
                timeout=info.context.timeout,
            )
        )
        return None if found is None else SubtreeRevenue.from_record(found)

    @field(
        "Payouts per tier and kind over [from, to) on the order's paid_at;"
        " without memberId, platform-wide (analysts and admins)."
    )
    async def tier_payouts(
        self,
        info: Info[Context, None],
        member_id: strawberry.ID | None = None,
        from_: From = None,
        to: DateTime | None = None,
    ) -> TierPayouts:
        check_window(from_, to)
        if member_id is None:
            info.context.require_staff()
        else:
            await info.context.require_visible(str(member_id))
        found = await info.context.run(
            payouts.tier_payouts(
                info.context.driver,
                member_id=None if member_id is None else str(member_id),
                start=from_,
                end=to,
                timeout=info.context.timeout,
                database=info.context.database,
            )
        )
        return TierPayouts.from_record(found)

    @field("Members ranked by a key-node metric; ties by id. Staff only.")
    async def top_influencers(
        self,
        info: Info[Context, None],
        metric: InfluenceMetric,
        from_: From = None,
        to: DateTime | None = None,
        limit: int | None = 20,
    ) -> list[InfluencerRow]:
        check_window(from_, to)
        check_range("limit", limit, 1, limits.MAX_PAGE)
        limit = 20 if limit is None else limit
        info.context.require_staff()
        ranked = await info.context.run(
            info.context.reader.top_members(
                metrics.Metric[metric.name],
                start=from_,
                end=to,
                limit=limit,
                timeout=info.context.timeout,
            )
        )
        records = await info.context.loaders.members.load_many([m.member_id for m in ranked])
        rows = []
        for rank, (m, record) in enumerate(zip(ranked, records, strict=True), start=1):
            if record is None:
                continue
            context = MemberMetrics.from_record(m)
            rows.append(
                InfluencerRow(
                    rank=rank,
                    member=Member.from_record(record),
                    value=metric_value(metric, m),
                    downline_size=context.downline_size,
                    group_volume=context.group_volume,
                    recruits=context.recruits,
                    influence=context.influence,
                    at_risk=context.at_risk,
                )
            )
        return rows


def _selects(info: Info[Context, None], name: str) -> bool:
    """Whether the field being resolved selects ``name`` directly (fragments included)."""

    def among(selections: list[Selection]) -> bool:
        return any(
            s.name == name if isinstance(s, SelectedField) else among(s.selections)
            for s in selections
        )

    return any(among(field.selections) for field in info.selected_fields)


def _failed(exc: DownlineError) -> MutationError:
    return MutationError(code=ErrorCode(exc.code), message=exc.message)


@strawberry.type
class Mutation(MoneyMutation, RiskDecisionMutation):
    @mutation("Admins register anyone; a member token may register its own recruits.")
    async def register_member(
        self, info: Info[Context, None], input: RegisterMemberInput
    ) -> MemberResult:
        """Authorization runs before validation, and a member token learns nothing of ids
        outside its downline from a refusal:

        1. A member token may only register its own direct recruits: ``sponsorId`` must be its
           own id, else FORBIDDEN (naming nobody) before anything else is looked at.
        2. The input rules (contract/rules.py): BAD_INPUT about the input alone.
        3. The sponsor (the caller itself, for a member token): joining before it is refused.
        4. Last, whether the id is taken. A member token is told "member id X is not available"
           whoever holds it, so only a registration that would otherwise succeed learns that
           an id is taken, and one that succeeds creates a member in the caller's downline.
        """
        ctx = info.context
        member_token = ctx.principal.role != "admin"
        if member_token and (
            input.sponsor_id is None or str(input.sponsor_id) != ctx.principal.member_id
        ):
            raise forbidden("only admins, or a member token for its own recruits, may register")
        try:
            created = await ctx.run(
                members.register_member(
                    ctx.driver,
                    member_id=str(input.id),
                    name=input.name,
                    joined_at=input.joined_at,
                    sponsor_id=None if input.sponsor_id is None else str(input.sponsor_id),
                    identifiers={
                        "phone_hash": input.phone_hash,
                        "device_id": input.device_id,
                        "payee_account": input.payee_account,
                    },
                    rules=ctx.settings.rules,
                    timeout=ctx.timeout,
                    database=ctx.database,
                )
            )
        except members.MemberExists as exc:
            if member_token:
                return MutationError(
                    code=ErrorCode.BAD_INPUT, message=f"member id {exc.member_id} is not available"
                )
            return _failed(exc)
        except DownlineError as exc:
            return _failed(exc)
        return await _member(info, created.id)

    @strawberry.mutation
    async def record_order(self, info: Info[Context, None], input: RecordOrderInput) -> OrderResult:
        ctx = info.context
        ctx.require_admin()
        try:
            order = await ctx.run(
                orders.record_order(
                    ctx.driver,
                    order_id=str(input.id),
                    kind=input.kind.value,
                    buyer_id=str(input.buyer_id),
                    seller_id=None if input.seller_id is None else str(input.seller_id),
                    sku=input.sku,
                    amount=input.amount,
                    paid_at=input.paid_at,
                    rules=ctx.settings.rules,
                    timeout=ctx.timeout,
                    database=ctx.database,
                )
            )
        except DownlineError as exc:
            return _failed(exc)
        return Order.from_record(order)

    @strawberry.mutation
    async def refund_order(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        refunded_at: DateTime,
    ) -> OrderResult:
        ctx = info.context
        ctx.require_admin()
        try:
            order = await ctx.run(
                orders.refund_order(
                    ctx.driver,
                    order_id=str(id),
                    refunded_at=refunded_at,
                    rules=ctx.settings.rules,
                    timeout=ctx.timeout,
                    database=ctx.database,
                )
            )
        except DownlineError as exc:
            return _failed(exc)
        return Order.from_record(order)

    @mutation("Moves a member and its downline under a new sponsor; audited with reason.")
    async def transfer_member(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        sponsor_id: strawberry.ID,
        reason: str,
        at: DateTime | None = None,
    ) -> MemberResult:
        ctx = info.context
        ctx.require_admin()
        try:
            moved = await ctx.run(
                members.transfer_member(
                    ctx.driver,
                    member_id=str(id),
                    new_sponsor_id=str(sponsor_id),
                    at=at or datetime.now(UTC),
                    reason=reason,
                    actor=ctx.principal.actor,
                    rules=ctx.settings.rules,
                    timeout=ctx.timeout,
                    database=ctx.database,
                )
            )
        except DownlineError as exc:
            return _failed(exc)
        return await _member(info, moved.id)

    @mutation("Suspends (or with suspended: false, reinstates) a member; audited with reason.")
    async def suspend_member(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        reason: str,
        suspended: bool = True,
    ) -> MemberResult:
        ctx = info.context
        ctx.require_admin()
        try:
            changed = await ctx.run(
                members.set_suspended(
                    ctx.driver,
                    member_id=str(id),
                    suspended=suspended,
                    reason=reason,
                    actor=ctx.principal.actor,
                    timeout=ctx.timeout,
                    database=ctx.database,
                )
            )
        except DownlineError as exc:
            return _failed(exc)
        return await _member(info, changed.id)


async def _member(info: Info[Context, None], member_id: str) -> Member:
    """The member as it is after the write, read fresh (agent status included)."""
    ctx = info.context
    found = await ctx.run(
        reads.members_by_ids(ctx.driver, [member_id], timeout=ctx.timeout, database=ctx.database)
    )
    if member_id not in found:
        raise ApiError(Code.NOT_FOUND, f"member {member_id} does not exist")
    return Member.from_record(found[member_id])


def build_schema(*, introspection: bool = True) -> strawberry.Schema:
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        ErrorCodes,
        limits.Limits,
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALARS),
    )


schema = build_schema()


def sdl() -> str:
    """The schema as checked in at ``schema.graphql`` for frontend code generation."""
    return schema.as_str() + "\n"


if __name__ == "__main__":
    # Regenerate with: .venv/bin/python -m api.schema > schema.graphql
    print(sdl(), end="")
