"""GraphQL types: thin, built from the graph's records; fields over lists go through DataLoaders."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from api import growth, money, risk
from api.errors import ApiError, Code
from api.growth import Activation, FissionSpeed, MemberCompliance
from api.limits import MAX_PAGE
from api.loaders import Context
from api.money import Balance, LedgerConnection, Statement, Withdrawal
from api.risk import MemberRisk
from api.scalars import (
    DateTime,
    Money,
    MutationError,
    OrderKind,
    PageInfo,
    check_range,
    check_window,
    decode_cursor,
    encode_cursor,
    field,
)
from contract.money import format_yuan
from graph import metrics, orders, payouts, reads, revenue
from graph.compliance import RECRUITING_BP, TEAM_PAY_BP
from graph.growth import ACTIVATION_DAYS


@strawberry.enum
class InfluenceMetric(Enum):
    GROUP_VOLUME = "GROUP_VOLUME"
    DOWNLINE_SIZE = "DOWNLINE_SIZE"
    RECRUITS = "RECRUITS"
    INFLUENCE = "INFLUENCE"
    AT_RISK = "AT_RISK"


def at_risk_text(ppm: int) -> str:
    """Parts per million as a share with 6 decimals: 12345 -> "0.012345"."""
    whole, frac = divmod(ppm, 1_000_000)
    return f"{whole}.{frac:06d}"


@strawberry.type
class MemberEdge:
    cursor: str
    node: Member


@strawberry.type
class MemberConnection:
    edges: list[MemberEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class MemberMetrics:
    downline_size: int
    group_volume: Money
    recruits: int
    influence: Money
    at_risk: str = strawberry.field(
        description="The member's group volume as a share of the platform's, 6 decimals."
    )

    @classmethod
    def from_record(cls, m: metrics.MemberMetrics) -> MemberMetrics:
        return cls(
            downline_size=m.downline_size,
            group_volume=Money(m.group_volume),
            recruits=m.recruits,
            influence=Money(m.influence),
            at_risk=at_risk_text(m.at_risk_ppm),
        )


async def load_members(info: Info[Context, None], ids: list[str]) -> list[Member]:
    records = await info.context.loaders.members.load_many(ids)
    return [Member.from_record(r) for r in records if r is not None]


@strawberry.type
class Member:
    id: strawberry.ID
    name: str
    joined_at: DateTime
    is_agent: bool
    agent_since: DateTime | None = strawberry.field(
        description="Since when the member holds its earliest gift package still unrefunded."
    )
    suspended: bool
    sponsor_id: strawberry.Private[str | None]

    @classmethod
    def from_record(cls, r: reads.MemberRecord) -> Member:
        return cls(
            id=strawberry.ID(r.id),
            name=r.name,
            joined_at=DateTime(r.joined_at),
            is_agent=r.is_agent,
            agent_since=None if r.agent_since is None else DateTime(r.agent_since),
            suspended=r.suspended,
            sponsor_id=r.sponsor_id,
        )

    @strawberry.field
    async def sponsor(self, info: Info[Context, None]) -> Member | None:
        if self.sponsor_id is None:
            return None
        await info.context.require_visible(self.sponsor_id, asked=False)
        record = await info.context.loaders.members.load(self.sponsor_id)
        return None if record is None else Member.from_record(record)

    @field(
        "Sponsors nearest first, at most maxDepth (≤ 100) of them. A member token"
        " sees the chain up to itself only."
    )
    async def upline(self, info: Info[Context, None], max_depth: int | None = None) -> list[Member]:
        check_range("maxDepth", max_depth, 0, reads.MAX_UPLINE)
        depth = reads.MAX_UPLINE if max_depth is None else max_depth
        ids = await info.context.loaders.uplines.load((str(self.id), depth))
        me = info.context.principal.member_id
        if not info.context.principal.is_staff:
            ids = ids[: ids.index(me) + 1] if me in ids else ()
        return await load_members(info, list(ids))

    @field("Direct recruits ordered by id; first ≤ 100.")
    async def direct_recruits(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> MemberConnection:
        check_range("first", first, 0, MAX_PAGE)
        first = 20 if first is None else first
        after_id = None if after is None else decode_cursor(after)
        page = await info.context.loaders.recruits.load((str(self.id), first, after_id))
        if page is None:
            raise ApiError(Code.NOT_FOUND, f"member {self.id} does not exist")
        nodes = await load_members(info, list(page.ids))
        edges = [MemberEdge(cursor=encode_cursor(str(n.id)), node=n) for n in nodes]
        return MemberConnection(
            edges=edges,
            page_info=PageInfo.of(
                [e.cursor for e in edges], has_next=page.has_next, after=after_id
            ),
            total_count=page.total,
        )

    @field("Members in this member's subtree, itself excluded.")
    async def downline_count(self, info: Info[Context, None]) -> int:
        # The rollups' all-time downline size (plus what changed since), not a subtree walk;
        # one read with any all-time ``metrics`` of the same request.
        found = await info.context.loaders.metrics.load((str(self.id), None, None))
        return 0 if found is None else found.downline_size

    @field("Key-node metrics over [from, to) on paid_at / joined_at.")
    async def metrics(
        self,
        info: Info[Context, None],
        from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
        to: DateTime | None = None,
    ) -> MemberMetrics | None:
        check_window(from_, to)
        found = await info.context.loaders.metrics.load((str(self.id), from_, to))
        return None if found is None else MemberMetrics.from_record(found)

    # The growth and compliance fields resolve in api/growth.py.
    @field("New members of this member's downline per week (UTC+08:00) over [from, to).")
    async def fission_speed(
        self,
        info: Info[Context, None],
        from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
        to: DateTime | None = None,
    ) -> FissionSpeed | None:
        return await growth.member_fission_speed(info, str(self.id), from_, to)

    @field("Direct recruits who joined in [from, to) and became agents within `days`.")
    async def activation(
        self,
        info: Info[Context, None],
        from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
        to: DateTime | None = None,
        days: int = ACTIVATION_DAYS,
    ) -> Activation | None:
        return await growth.member_activation(info, str(self.id), from_, to, days)

    @field("Income mix over [from, to) on the order's paid_at, flags, and the path check.")
    async def compliance(
        self,
        info: Info[Context, None],
        from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
        to: DateTime | None = None,
        recruiting_bp: int = RECRUITING_BP,
        team_pay_bp: int = TEAM_PAY_BP,
    ) -> MemberCompliance:
        return await growth.member_compliance(
            info, str(self.id), from_, to, recruiting_bp, team_pay_bp
        )

    # The money fields resolve in api/money.py; a member token sees only its own.
    @field("Ledger lines booked in [from, to), newest first; first ≤ 100. Own or staff only.")
    async def ledger(
        self,
        info: Info[Context, None],
        from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
        to: DateTime | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> LedgerConnection:
        return await money.member_ledger(info, str(self.id), from_, to, first, after)

    @field("Balance, available, withdrawing, pending and paid. Own or staff only.")
    async def balance(self, info: Info[Context, None]) -> Balance:
        return await money.member_balance(info, str(self.id))

    @field("Opening balance, every line and payment in [from, to), closing balance.")
    async def statement(
        self,
        info: Info[Context, None],
        from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
        to: DateTime | None = None,
    ) -> Statement:
        return await money.member_statement(info, str(self.id), from_, to)

    @field("Withdrawal requests, newest first, in every state. Own or staff only.")
    async def withdrawals(self, info: Info[Context, None]) -> list[Withdrawal]:
        return await money.member_withdrawals(info, str(self.id))

    # The risk field resolves in api/risk.py.
    @field("Risk flags naming this member (as of `downline risk refresh`). Staff only.")
    async def risk(self, info: Info[Context, None]) -> MemberRisk:
        return await risk.member_risk(info, str(self.id))


@strawberry.type
class DepthRevenue:
    depth: int
    group_volume: Money
    order_count: int
    member_count: int


@strawberry.type
class SubtreeRevenue:
    member_id: strawberry.ID
    group_volume: Money
    order_count: int
    member_count: int
    by_depth: list[DepthRevenue]

    @classmethod
    def from_record(cls, r: revenue.SubtreeRevenue) -> SubtreeRevenue:
        return cls(
            member_id=strawberry.ID(r.member_id),
            group_volume=Money(r.group_volume),
            order_count=r.order_count,
            member_count=r.member_count,
            by_depth=[
                DepthRevenue(
                    depth=d.depth,
                    group_volume=Money(d.group_volume),
                    order_count=d.order_count,
                    member_count=d.member_count,
                )
                for d in r.by_depth
            ],
        )


@strawberry.type
class TierPayoutLine:
    tier: int
    kind: OrderKind
    amount: Money
    count: int


@strawberry.type
class TierPayouts:
    member_id: strawberry.ID | None
    lines: list[TierPayoutLine] = strawberry.field(
        description="Every tier 1-3 and kind, reversals netted; zero when nothing was paid."
    )
    total: Money
    platform_retained: Money | None = strawberry.field(
        description="Platform-wide only (no memberId): what no member received."
    )

    @classmethod
    def from_record(cls, r: payouts.TierPayoutSummary) -> TierPayouts:
        found = {(line.tier, str(line.kind)): line for line in r.lines}
        lines = []
        for tier in (1, 2, 3):
            for kind in OrderKind:
                line = found.get((tier, kind.value))
                lines.append(
                    TierPayoutLine(
                        tier=tier,
                        kind=kind,
                        amount=Money(0 if line is None else line.amount),
                        count=0 if line is None else line.count,
                    )
                )
        return cls(
            member_id=None if r.member_id is None else strawberry.ID(r.member_id),
            lines=lines,
            total=Money(r.total),
            platform_retained=None if r.platform_retained is None else Money(r.platform_retained),
        )


@strawberry.type
class InfluencerRow:
    rank: int
    member: Member
    value: str = strawberry.field(
        description="The ranked metric: yuan for volumes, a count, or a 6-decimal share."
    )
    downline_size: int
    group_volume: Money
    recruits: int
    influence: Money
    at_risk: str


def metric_value(metric: InfluenceMetric, m: metrics.MemberMetrics) -> str:
    if metric is InfluenceMetric.GROUP_VOLUME:
        return format_yuan(m.group_volume)
    if metric is InfluenceMetric.INFLUENCE:
        return format_yuan(m.influence)
    if metric is InfluenceMetric.DOWNLINE_SIZE:
        return str(m.downline_size)
    if metric is InfluenceMetric.RECRUITS:
        return str(m.recruits)
    return at_risk_text(m.at_risk_ppm)


@strawberry.type
class Order:
    id: strawberry.ID
    kind: OrderKind
    buyer_id: strawberry.ID
    seller_id: strawberry.ID | None
    sku: str
    amount: Money
    commission_bp: int
    paid_at: DateTime
    refunded_at: DateTime | None

    @classmethod
    def from_record(cls, o: orders.Order) -> Order:
        return cls(
            id=strawberry.ID(o.id),
            kind=OrderKind(o.kind),
            buyer_id=strawberry.ID(o.buyer_id),
            seller_id=None if o.seller_id is None else strawberry.ID(o.seller_id),
            sku=o.sku,
            amount=Money(o.amount),
            commission_bp=o.commission_bp,
            paid_at=DateTime(o.paid_at),
            refunded_at=None if o.refunded_at is None else DateTime(o.refunded_at),
        )


MemberResult = Annotated[Member | MutationError, strawberry.union("MemberResult")]
OrderResult = Annotated[Order | MutationError, strawberry.union("OrderResult")]


@strawberry.input
class RegisterMemberInput:
    id: strawberry.ID
    name: str
    joined_at: DateTime
    sponsor_id: strawberry.ID | None = None
    phone_hash: str | None = strawberry.field(
        default=None,
        description="Identity signals, already hashed by the platform: 1-128"
        ' printable ASCII characters without spaces (docs/model.md, "Identity signals").',
    )
    device_id: str | None = None
    payee_account: str | None = None


@strawberry.input
class RecordOrderInput:
    id: strawberry.ID
    kind: OrderKind
    buyer_id: strawberry.ID
    seller_id: strawberry.ID | None = None
    sku: str
    amount: Money
    paid_at: DateTime
