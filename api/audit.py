"""GraphQL for the audit trail (graph/audit.py): ``auditLog``, for admins, newest first.

The schema offers no mutation on audit records: they are written only by the actions they
record, inside those actions' transactions.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from api.errors import bad_input
from api.limits import MAX_PAGE
from api.loaders import Context
from api.scalars import DateTime, PageInfo, check_range, check_window, field
from graph import audit
from graph.errors import BadInput

From = Annotated[DateTime | None, strawberry.argument(name="from")]


@strawberry.type(description="One admin action: who, when, what, on what, before, after, why.")
class AuditRecord:
    id: strawberry.ID
    at: DateTime
    actor: str = strawberry.field(description="The token's sub, or the CLI's --actor / OS user.")
    action: str = strawberry.field(
        description="member.transfer, member.suspend, member.unsuspend, plan.load, settle,"
        " db.reset, pay, adjust, withdrawal.approve, withdrawal.reject."
    )
    target: str = strawberry.field(
        description="What was acted on: a member id, plan id, run id or database."
    )
    before: str | None = strawberry.field(description="The target's fields before, as JSON.")
    after: str | None = strawberry.field(description="The target's fields after, as JSON.")
    reason: str | None

    @classmethod
    def from_record(cls, r: audit.AuditRecord) -> AuditRecord:
        return cls(
            id=strawberry.ID(r.id),
            at=DateTime(r.at),
            actor=r.actor,
            action=r.action,
            target=r.target,
            before=r.before,
            after=r.after,
            reason=r.reason,
        )


@strawberry.type
class AuditRecordEdge:
    cursor: str
    node: AuditRecord


@strawberry.type
class AuditRecordConnection:
    edges: list[AuditRecordEdge]
    page_info: PageInfo


@strawberry.type
class AuditQuery:
    @field("The audit trail over [from, to) on its time, newest first; admins only.")
    async def audit_log(
        self,
        info: Info[Context, None],
        target: str | None = None,
        action: str | None = None,
        from_: From = None,
        to: DateTime | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> AuditRecordConnection:
        ctx = info.context
        ctx.require_admin()
        check_window(from_, to)
        check_range("first", first, 0, MAX_PAGE)
        try:
            page = await ctx.run(
                audit.audit_log(
                    ctx.driver,
                    target=target,
                    action=action,
                    start=from_,
                    end=to,
                    first=20 if first is None else first,
                    after=after,
                    timeout=ctx.timeout,
                    database=ctx.database,
                )
            )
        except BadInput as exc:
            raise bad_input(exc.message) from exc
        edges = [
            AuditRecordEdge(cursor=r.cursor, node=AuditRecord.from_record(r)) for r in page.records
        ]
        return AuditRecordConnection(
            edges=edges,
            page_info=PageInfo.of([e.cursor for e in edges], has_next=page.has_next, after=after),
        )
