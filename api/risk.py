"""GraphQL for the risk graph (graph/risk.py): Member.risk and Query.riskClusters, analysts and
admins only (a member token is FORBIDDEN).

The flags are the ones `downline risk refresh` stored last. Members are named by id, so this
module never imports api/types.py (which imports it for the ``Member.risk`` field).
"""

from __future__ import annotations

import asyncio
from enum import Enum

import strawberry
from strawberry.types import Info

from api.limits import MAX_PAGE
from api.loaders import Context
from api.scalars import Money, PageInfo, check_range, decode_cursor, encode_cursor, field
from graph import risk

MAX_MIN_SIZE = 1_000_000


@strawberry.enum(description="What pattern a risk flag found (graph/risk.py).")
class RiskKind(Enum):
    SELF_REFERRAL = risk.SELF_REFERRAL
    DUPLICATE_ACCOUNTS = risk.DUPLICATE_ACCOUNTS
    FARM = risk.FARM
    DEPTH_RING = risk.DEPTH_RING


@strawberry.enum(description="Whether an admin decided a flag (clearRiskFlag, confirmRiskFlag).")
class RiskFlagState(Enum):
    OPEN = risk.OPEN
    CLEARED = risk.CLEARED
    CONFIRMED = risk.CONFIRMED


@strawberry.enum
class IdentifierKind(Enum):
    PHONE_HASH = "phone_hash"
    DEVICE_ID = "device_id"
    PAYEE_ACCOUNT = "payee_account"


@strawberry.type(description="An identity signal the flagged members share (as hashed).")
class SharedIdentifier:
    kind: IdentifierKind
    value: str


@strawberry.type
class RiskEvidence:
    members: list[strawberry.ID] = strawberry.field(description="Every member flagged, by id.")
    shared: strawberry.Private[list[SharedIdentifier]]
    identifier_count: int = strawberry.field(description="How many identifiers they share.")
    tier_distance: int | None = strawberry.field(
        description="SELF_REFERRAL: tiers from the member up to the upline sharing its"
        " identifier (1-3); DEPTH_RING: tiers from the top to the bottom of its longest chain."
    )
    money_at_stake: Money = strawberry.field(
        description="Net payouts (reversals included) the members received."
    )
    sponsor_id: strawberry.ID | None = strawberry.field(
        description="FARM: the sponsor of the recruits (one of members)."
    )
    chain: list[strawberry.ID] = strawberry.field(
        description="SELF_REFERRAL: upline then member; DEPTH_RING: its longest chain, top first."
    )

    @field("The identifiers they share, by kind and value; the first ≤ 100.")
    def identifiers(self, first: int | None = 20) -> list[SharedIdentifier]:
        check_range("first", first, 0, MAX_PAGE)
        return self.shared[: 20 if first is None else first]

    read_links: strawberry.Private[asyncio.Task[list[risk.ClusterMember]] | None] = None

    def _links(self, info: Info[Context, None]) -> asyncio.Task[list[risk.ClusterMember]]:
        # One read serves both uses and sponsorships when a query asks for both.
        if self.read_links is None:
            ctx = info.context
            self.read_links = asyncio.ensure_future(
                ctx.run(
                    risk.cluster_members(
                        ctx.driver,
                        [str(m) for m in self.members],
                        [risk.Identifier(i.kind.value, i.value) for i in self.shared],
                        timeout=ctx.timeout,
                        database=ctx.database,
                    )
                )
            )
        return self.read_links

    @field(
        "Which member uses which shared identifier (its USES edges in the cluster), by member,"
        " kind and value."
    )
    async def uses(self, info: Info[Context, None]) -> list[IdentifierUse]:
        return [
            IdentifierUse(member=strawberry.ID(m.id), kind=IdentifierKind(i.kind), value=i.value)
            for m in await self._links(info)
            for i in m.uses
        ]

    @field("The SPONSORED_BY edges between members of the cluster, by member.")
    async def sponsorships(self, info: Info[Context, None]) -> list[Sponsorship]:
        found = await self._links(info)
        inside = {m.id for m in found}
        return [
            Sponsorship(member=strawberry.ID(m.id), sponsor=strawberry.ID(m.sponsor_id))
            for m in found
            if m.sponsor_id is not None and m.sponsor_id in inside
        ]


@strawberry.type(description="A flagged member uses a shared identifier (RiskEvidence.uses).")
class IdentifierUse:
    member: strawberry.ID
    kind: IdentifierKind
    value: str


@strawberry.type(description="A flagged member sponsored by another of its cluster.")
class Sponsorship:
    member: strawberry.ID
    sponsor: strawberry.ID


@strawberry.type
class RiskFlag:
    id: strawberry.ID = strawberry.field(
        description="Kept across refreshes while the same members are flagged."
    )
    kind: RiskKind
    size: int = strawberry.field(description="How many members it flags.")
    evidence: RiskEvidence
    state: RiskFlagState = strawberry.field(
        default=RiskFlagState.OPEN,
        description="OPEN until an admin clears or confirms it; decided once.",
    )

    @field(
        "The flagged members' payouts this flag holds frozen (冻结) and not reversed; 0.00 once"
        " decided (a clearance releases them, a confirmation reverses them)."
    )
    async def frozen(self, info: Info[Context, None]) -> Money:
        return Money(await info.context.loaders.frozen.load(str(self.id)))

    @classmethod
    def from_record(cls, f: risk.RiskFlag) -> RiskFlag:
        return cls(
            id=strawberry.ID(f.id),
            kind=RiskKind(f.kind),
            size=f.size,
            evidence=RiskEvidence(
                members=[strawberry.ID(m) for m in f.members],
                shared=[
                    SharedIdentifier(kind=IdentifierKind(i.kind), value=i.value)
                    for i in f.identifiers
                ],
                identifier_count=len(f.identifiers),
                tier_distance=f.tier_distance,
                money_at_stake=Money(f.money_at_stake),
                sponsor_id=None if f.sponsor_id is None else strawberry.ID(f.sponsor_id),
                chain=[strawberry.ID(m) for m in f.chain],
            ),
            state=RiskFlagState(f.state),
        )


@strawberry.type
class MemberRisk:
    flags: list[RiskFlag] = strawberry.field(
        description="Every flag naming the member as of the last `downline risk refresh`,"
        " by kind and id."
    )


@strawberry.type
class RiskFlagEdge:
    cursor: str
    node: RiskFlag


@strawberry.type
class RiskFlagConnection:
    edges: list[RiskFlagEdge]
    page_info: PageInfo
    total_count: int


async def member_risk(info: Info[Context, None], member_id: str) -> MemberRisk:
    """The resolver of ``Member.risk`` (declared in api/types.py)."""
    ctx = info.context
    ctx.require_staff()
    flags = await ctx.run(
        risk.member_flags(ctx.driver, member_id, timeout=ctx.timeout, database=ctx.database)
    )
    return MemberRisk(flags=[RiskFlag.from_record(f) for f in flags])


@strawberry.type
class RiskQuery:
    @field(
        "Risk flags (clusters of members) by id, as of the last `downline risk refresh`: of"
        " `kind` (default every kind) and at least `minSize` members; first ≤ 100."
        " Analysts and admins."
    )
    async def risk_clusters(
        self,
        info: Info[Context, None],
        kind: RiskKind | None = None,
        min_size: int | None = 2,
        first: int | None = 20,
        after: str | None = None,
    ) -> RiskFlagConnection:
        ctx = info.context
        ctx.require_staff()
        check_range("minSize", min_size, 1, MAX_MIN_SIZE)
        check_range("first", first, 0, MAX_PAGE)
        first = 20 if first is None else first
        after_id = None if after is None else decode_cursor(after)
        page = await ctx.run(
            risk.clusters(
                ctx.driver,
                kind=None if kind is None else kind.value,
                min_size=2 if min_size is None else min_size,
                first=first,
                after=after_id,
                timeout=ctx.timeout,
                database=ctx.database,
            )
        )
        edges = [
            RiskFlagEdge(cursor=encode_cursor(f.id), node=RiskFlag.from_record(f))
            for f in page.flags
        ]
        return RiskFlagConnection(
            edges=edges,
            page_info=PageInfo.of(
                [e.cursor for e in edges], has_next=page.has_next, after=after_id
            ),
            total_count=page.total,
        )
