"""A member's money in GraphQL: ledger, balance, statement, withdrawals, finance's list of open
withdrawals (openWithdrawals), and the mutations that move it (requestWithdrawal,
approveWithdrawal, rejectWithdrawal, adjustBalance).

A member token sees only its own money; admins and analysts see anyone's. Refusals of the
money writes are ``MutationError`` with the code of the rule that refused them.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from api.errors import bad_input, forbidden
from api.limits import MAX_PAGE
from api.loaders import Context
from api.scalars import (
    DateTime,
    ErrorCode,
    Money,
    MutationError,
    PageInfo,
    check_range,
    check_window,
    field,
    mutation,
)
from graph import adjustments, ledger, withdrawals
from graph.errors import DownlineError

From = Annotated[DateTime | None, strawberry.argument(name="from")]


@strawberry.enum
class LedgerKind(Enum):
    RETAIL = "RETAIL"
    GIFT_PACKAGE = "GIFT_PACKAGE"
    ADJUSTMENT = "ADJUSTMENT"


@strawberry.enum
class StatementKind(Enum):
    RETAIL = "RETAIL"
    GIFT_PACKAGE = "GIFT_PACKAGE"
    ADJUSTMENT = "ADJUSTMENT"
    PAYMENT = "PAYMENT"


@strawberry.enum
class WithdrawalState(Enum):
    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    PAID = "PAID"


@strawberry.type(
    description="One signed amount owed to the member: a payout, a reversal, or an adjustment."
)
class LedgerLine:
    kind: LedgerKind
    amount: Money
    order_id: strawberry.ID | None
    tier: int | None = strawberry.field(
        description="1-3 for a payout or reversal; adjustments have none."
    )
    reversal: bool
    settled_run: strawberry.ID | None = strawberry.field(
        description="The settlement run that wrote the payout or reversal."
    )
    at: DateTime = strawberry.field(
        description="When the line entered the ledger: its run's start, or the adjustment's time."
    )
    adjustment_id: strawberry.ID | None
    reason: str | None = strawberry.field(description="An adjustment's reason.")
    buyer_id: strawberry.ID | None
    buyer_name: str | None
    seller_id: strawberry.ID | None = strawberry.field(description="Retail orders only.")
    seller_name: str | None

    @classmethod
    def from_record(cls, line: ledger.LedgerLine) -> LedgerLine:
        adjustment = line.kind == "ADJUSTMENT"
        return cls(
            kind=LedgerKind(line.kind),
            amount=Money(line.amount),
            order_id=_id(line.order_id),
            tier=line.tier,
            reversal=line.reversal,
            settled_run=_id(line.run_id),
            at=DateTime(line.at),
            adjustment_id=_id(line.reference) if adjustment else None,
            reason=line.reason if adjustment else None,
            buyer_id=_id(line.buyer_id),
            buyer_name=line.buyer_name,
            seller_id=_id(line.seller_id),
            seller_name=line.seller_name,
        )


@strawberry.type
class LedgerEdge:
    cursor: str
    node: LedgerLine


@strawberry.type
class LedgerConnection:
    edges: list[LedgerEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class Balance:
    balance: Money = strawberry.field(
        description="Ledger lines less payments; negative when a reversal followed a payment."
    )
    available: Money = strawberry.field(
        description="What a withdrawal may ask for: the balance less open withdrawals and"
        " frozen money, at least 0."
    )
    withdrawing: Money = strawberry.field(description="Open withdrawals, not yet paid.")
    pending: Money = strawberry.field(
        description="What settlement would pay for orders not settled yet (hold period)."
    )
    paid: Money = strawberry.field(description="Everything payout batches paid.")
    frozen: Money = strawberry.field(
        description="Payouts frozen for an open risk flag (冻结): part of the balance, kept out"
        " of withdrawals and payout batches until an admin clears or confirms the flag."
    )


@strawberry.type
class StatementLine:
    at: DateTime
    kind: StatementKind
    amount: Money
    order_id: strawberry.ID | None
    tier: int | None
    reversal: bool
    reference: str | None = strawberry.field(
        description="The settlement run, the adjustment's id, or the payout batch."
    )
    reason: str | None
    buyer_id: strawberry.ID | None
    buyer_name: str | None
    seller_id: strawberry.ID | None
    seller_name: str | None
    balance: Money = strawberry.field(description="The running balance after this line.")

    @classmethod
    def from_record(cls, row: ledger.StatementLine) -> StatementLine:
        line = row.line
        return cls(
            at=DateTime(line.at),
            kind=StatementKind(line.kind),
            amount=Money(line.amount),
            order_id=_id(line.order_id),
            tier=line.tier,
            reversal=line.reversal,
            reference=line.reference,
            reason=line.reason,
            buyer_id=_id(line.buyer_id),
            buyer_name=line.buyer_name,
            seller_id=_id(line.seller_id),
            seller_name=line.seller_name,
            balance=Money(row.balance),
        )


@strawberry.type
class Statement:
    member_id: strawberry.ID
    from_: DateTime | None = strawberry.field(name="from")
    to: DateTime | None
    opening: Money
    lines: list[StatementLine]
    closing: Money


@strawberry.type
class Withdrawal:
    id: strawberry.ID
    member_id: strawberry.ID
    amount: Money
    state: WithdrawalState
    idempotency_key: str
    requested_at: DateTime
    decided_at: DateTime | None
    decided_by: str | None
    reason: str | None = strawberry.field(description="Why it was rejected.")
    paid_at: DateTime | None
    batch_id: strawberry.ID | None

    @classmethod
    def from_record(cls, w: withdrawals.Withdrawal) -> Withdrawal:
        return cls(
            id=strawberry.ID(w.id),
            member_id=strawberry.ID(w.member_id),
            amount=Money(w.amount),
            state=WithdrawalState(w.state),
            idempotency_key=w.idempotency_key,
            requested_at=DateTime(w.requested_at),
            decided_at=None if w.decided_at is None else DateTime(w.decided_at),
            decided_by=w.decided_by,
            reason=w.reason,
            paid_at=None if w.paid_at is None else DateTime(w.paid_at),
            batch_id=_id(w.batch_id),
        )


@strawberry.type
class Adjustment:
    id: strawberry.ID
    member_id: strawberry.ID
    amount: Money
    reason: str
    actor: str
    at: DateTime

    @classmethod
    def from_record(cls, a: adjustments.Adjustment) -> Adjustment:
        return cls(
            id=strawberry.ID(a.id),
            member_id=strawberry.ID(a.member_id),
            amount=Money(a.amount),
            reason=a.reason,
            actor=a.actor,
            at=DateTime(a.at),
        )


@strawberry.type
class OpenWithdrawalEdge:
    cursor: str
    node: Withdrawal
    member_name: str | None = strawberry.field(description="The requesting member's name.")


@strawberry.type
class OpenWithdrawalConnection:
    edges: list[OpenWithdrawalEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Open withdrawals in all, every page.")


WithdrawalResult = Annotated[Withdrawal | MutationError, strawberry.union("WithdrawalResult")]
AdjustmentResult = Annotated[Adjustment | MutationError, strawberry.union("AdjustmentResult")]


def _id(value: str | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(value)


def encode_cursor(line: ledger.LedgerLine) -> str:
    return base64.urlsafe_b64encode(f"ledger:{line.millis}:{line.key}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        prefix, millis, key = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 2)
        if prefix != "ledger" or not key:
            raise ValueError(cursor)
        return int(millis), key
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise bad_input("after is not a cursor this API returned") from exc


def encode_withdrawal_cursor(w: withdrawals.Withdrawal) -> str:
    text = f"withdrawal:{w.requested_at.isoformat()}|{w.id}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_withdrawal_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, rest = text.partition(":")
        at, _, withdrawal_id = rest.partition("|")
        requested_at = datetime.fromisoformat(at)
        if prefix != "withdrawal" or not withdrawal_id or requested_at.tzinfo is None:
            raise ValueError(text)
        return requested_at, withdrawal_id
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise bad_input("after is not a cursor this API returned") from exc


def require_own(info: Info[Context, None], member_id: str) -> None:
    """A member token sees its own money only; the refusal names nobody."""
    principal = info.context.principal
    if not principal.is_staff and principal.member_id != member_id:
        raise forbidden("a member token sees only its own ledger, balance and withdrawals")


async def member_ledger(
    info: Info[Context, None],
    member_id: str,
    start: datetime | None,
    end: datetime | None,
    first: int | None,
    after: str | None,
) -> LedgerConnection:
    require_own(info, member_id)
    check_window(start, end)
    check_range("first", first, 0, MAX_PAGE)
    size = 20 if first is None else first
    cursor = None if after is None else decode_cursor(after)
    ctx = info.context
    page = await ctx.run(
        ledger.ledger_page(
            ctx.driver,
            member_id,
            start=start,
            end=end,
            first=size,
            after=cursor,
            timeout=ctx.timeout,
            database=ctx.database,
        )
    )
    edges = [
        LedgerEdge(cursor=encode_cursor(line), node=LedgerLine.from_record(line))
        for line in page.lines
    ]
    return LedgerConnection(
        edges=edges,
        page_info=PageInfo.of([e.cursor for e in edges], has_next=page.has_next, after=cursor),
        total_count=page.total,
    )


async def member_balance(info: Info[Context, None], member_id: str) -> Balance:
    require_own(info, member_id)
    ctx = info.context
    b = await ctx.run(
        ledger.balance(ctx.driver, member_id, timeout=ctx.timeout, database=ctx.database)
    )
    return Balance(
        balance=Money(b.balance),
        available=Money(b.available),
        withdrawing=Money(b.withdrawing),
        pending=Money(b.pending),
        paid=Money(b.paid),
        frozen=Money(b.frozen),
    )


async def member_statement(
    info: Info[Context, None], member_id: str, start: datetime | None, end: datetime | None
) -> Statement:
    require_own(info, member_id)
    check_window(start, end)
    ctx = info.context
    s = await ctx.run(
        ledger.statement(
            ctx.driver, member_id, start=start, end=end, timeout=ctx.timeout, database=ctx.database
        )
    )
    return Statement(
        member_id=strawberry.ID(s.member_id),
        from_=None if start is None else DateTime(start),
        to=None if end is None else DateTime(end),
        opening=Money(s.opening),
        lines=[StatementLine.from_record(row) for row in s.lines],
        closing=Money(s.closing),
    )


async def member_withdrawals(info: Info[Context, None], member_id: str) -> list[Withdrawal]:
    require_own(info, member_id)
    ctx = info.context
    found = await ctx.run(
        withdrawals.member_withdrawals(
            ctx.driver, member_id, timeout=ctx.timeout, database=ctx.database
        )
    )
    return [Withdrawal.from_record(w) for w in found]


@strawberry.type
class WithdrawalQuery:
    @field(
        "Requested and approved withdrawals of every member, oldest first: what finance still"
        " has to decide or pay. Admins only."
    )
    async def open_withdrawals(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> OpenWithdrawalConnection:
        ctx = info.context
        ctx.require_admin()
        check_range("first", first, 0, MAX_PAGE)
        cursor = None if after is None else decode_withdrawal_cursor(after)
        page = await ctx.run(
            withdrawals.open_withdrawals(
                ctx.driver,
                first=20 if first is None else first,
                after=cursor,
                timeout=ctx.timeout,
                database=ctx.database,
            )
        )
        edges = [
            OpenWithdrawalEdge(
                cursor=encode_withdrawal_cursor(row.withdrawal),
                node=Withdrawal.from_record(row.withdrawal),
                member_name=row.member_name,
            )
            for row in page.rows
        ]
        return OpenWithdrawalConnection(
            edges=edges,
            page_info=PageInfo.of([e.cursor for e in edges], has_next=page.has_next, after=cursor),
            total_count=page.total,
        )


def _failed(exc: DownlineError) -> MutationError:
    return MutationError(code=ErrorCode(exc.code), message=exc.message)


@strawberry.type
class MoneyMutation:
    @mutation(
        "A member token asks to be paid `amount` (at least the plan's minimum, at most the"
        " available balance, one open request at a time). The same idempotencyKey returns"
        " the first request."
    )
    async def request_withdrawal(
        self, info: Info[Context, None], amount: Money, idempotency_key: str
    ) -> WithdrawalResult:
        ctx = info.context
        member_id = ctx.principal.member_id
        if ctx.principal.is_staff or member_id is None:
            raise forbidden("only a member token may request a withdrawal, for itself")
        try:
            made = await ctx.run(
                withdrawals.request_withdrawal(
                    ctx.driver,
                    member_id=member_id,
                    amount=amount,
                    idempotency_key=idempotency_key,
                    now=datetime.now(UTC),
                    timeout=ctx.timeout,
                    database=ctx.database,
                )
            )
        except DownlineError as exc:
            return _failed(exc)
        return Withdrawal.from_record(made)

    @mutation("Admins approve a requested withdrawal; the next payout batch pays it.")
    async def approve_withdrawal(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> WithdrawalResult:
        return await _decide(info, str(id), approve=True, reason=None)

    @mutation("Admins reject a requested withdrawal, with a reason; its amount is available again.")
    async def reject_withdrawal(
        self, info: Info[Context, None], id: strawberry.ID, reason: str
    ) -> WithdrawalResult:
        return await _decide(info, str(id), approve=False, reason=reason)

    @mutation("Admins add a signed ledger line (an adjustment, never a tier) with a reason.")
    async def adjust_balance(
        self, info: Info[Context, None], member_id: strawberry.ID, amount: Money, reason: str
    ) -> AdjustmentResult:
        ctx = info.context
        ctx.require_admin()
        try:
            made = await ctx.run(
                adjustments.adjust_balance(
                    ctx.driver,
                    member_id=str(member_id),
                    amount=amount,
                    reason=reason,
                    actor=ctx.principal.actor,
                    at=datetime.now(UTC),
                    rules=ctx.settings.rules,
                    timeout=ctx.timeout,
                    database=ctx.database,
                )
            )
        except DownlineError as exc:
            return _failed(exc)
        return Adjustment.from_record(made)


async def _decide(
    info: Info[Context, None], withdrawal_id: str, *, approve: bool, reason: str | None
) -> WithdrawalResult:
    ctx = info.context
    ctx.require_admin()
    try:
        decided = await ctx.run(
            withdrawals.decide_withdrawal(
                ctx.driver,
                withdrawal_id=withdrawal_id,
                approve=approve,
                actor=ctx.principal.actor,
                now=datetime.now(UTC),
                reason=reason,
                timeout=ctx.timeout,
                database=ctx.database,
            )
        )
    except DownlineError as exc:
        return _failed(exc)
    return Withdrawal.from_record(decided)
