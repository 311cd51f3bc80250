"""The risk decisions in GraphQL: clearRiskFlag and confirmRiskFlag, admins only.

A decision returns the flag as it is after it, or a ``MutationError`` with the code of the rule
that refused it (NOT_FOUND, ALREADY_DECIDED, SETTLEMENT_RUNNING, BAD_INPUT); graph/riskdecisions.py
does the work and writes the audit record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from api.loaders import Context
from api.risk import RiskFlag
from api.scalars import ErrorCode, MutationError, mutation
from graph import riskdecisions
from graph.errors import DownlineError

RiskFlagResult = Annotated[RiskFlag | MutationError, strawberry.union("RiskFlagResult")]


async def _decide(
    info: Info[Context, None], flag_id: strawberry.ID, reason: str, *, confirm: bool
) -> RiskFlagResult:
    ctx = info.context
    ctx.require_admin()
    try:
        made = await ctx.run(
            riskdecisions.decide(
                ctx.driver,
                flag_id=str(flag_id),
                confirm=confirm,
                reason=reason,
                actor=ctx.principal.actor,
                at=datetime.now(UTC),
                timeout=ctx.timeout,
                database=ctx.database,
            )
        )
    except DownlineError as exc:
        return MutationError(code=ErrorCode(exc.code), message=exc.message)
    return RiskFlag.from_record(made.flag)


@strawberry.type
class RiskDecisionMutation:
    @mutation(
        "Admins clear an open risk flag, with a reason: the payouts it froze become available"
        " (unless another open flag holds them too). Audited as risk_clear."
    )
    async def clear_risk_flag(
        self, info: Info[Context, None], flag_id: strawberry.ID, reason: str
    ) -> RiskFlagResult:
        return await _decide(info, flag_id, reason, confirm=False)

    @mutation(
        "Admins confirm an open risk flag, with a reason: each payout it froze is reversed by a"
        " new ledger line, so the balance drops by what was frozen. Audited as risk_confirm."
    )
    async def confirm_risk_flag(
        self, info: Info[Context, None], flag_id: strawberry.ID, reason: str
    ) -> RiskFlagResult:
        return await _decide(info, flag_id, reason, confirm=True)
