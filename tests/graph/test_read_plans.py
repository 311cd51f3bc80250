"""Plan shapes of the member reads, the ledger reads, growth, compliance and the per-row lookups
of the write mutations, on a grown store (tests/stores.py), stale and resampled.

Each statement starts from a unique key or an index it names, and reaches everything else by
expanding from bound nodes. Before the fix, on the stale store, the agent status sought
Order(paid_at) once per member, the downline checks scanned Member(id) once per candidate, and
fission speed and activation started from every member's joined_at instead of the member
(docs/model.md, "Query plans").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from graph import (
    compliance,
    growth,
    ledger,
    members,
    orders,
    payouts,
    platformgrowth,
    reads,
    risk,
    riskdecisions,
    withdrawals,
)
from tests.plans import assert_shape, explain, operators, render
from tests.stores import AFTER_REFRESH, GrownStore

WINDOW = {"start": growth.EARLIEST, "end": growth.LATEST}
BY_MEMBER_ID = r"NodeUniqueIndexSeek.* m:Member\(id\)"
# A member's ledger lines are expanded from the member (graph/ledger.py, LINE).
PAYOUTS_BY_MEMBER = r"Expand\(All\) \(m\)<-\[l:PAID\|REVERSED\]-\("
# A window's lines are the lines of the orders paid in it.
PAYOUTS_BY_PAID_AT = r"NodeIndexSeekByRange RANGE INDEX o:Order\(paid_at\)"
# The balances and a payout batch must read every ledger line once, member by member.
WHOLE_LEDGER = r"^NodeByLabelScan m:Member$"
# ... and every adjustment and payment once (graph/ledger.py).
WHOLE_MONEY = [r"^NodeByLabelScan a:Adjustment$", r"^NodeByLabelScan x:Payment$"]
# A member's other money, each by its member_id index.
MONEY_BY_MEMBER = [
    r"NodeIndexSeek RANGE INDEX a:Adjustment\(member_id\)",
    r"NodeIndexSeek RANGE INDEX x:Payment\(member_id\)",
]
RISK_FLAG_BY_ID = r"NodeUniqueIndexSeek.* f:RiskFlag\(id\)"
WITHDRAWALS_BY_MEMBER = r"NodeIndexSeek RANGE INDEX w:Withdrawal\(member_id\)"
# A member's orders are expanded from the member, never sought by an Order index.
BOUGHT_FROM_M = r"^(Optional)?Expand\(All\) \(m\)-\[\w+:BOUGHT\]->\(o\)"
# The upline walks start from the bound member and go up, whatever the planner knows.
WALK_UP = r"^VarLengthExpand\(.*\) \(m\)-\[\w*:SPONSORED_BY\*"
# "Is it below that member": from the candidate up to the other member, both already bound.
UP_TO = r"^VarLengthExpand\(Into\) \((m|s)\)-\[\w*:SPONSORED_BY\*0\.\.\]->\((a|m)\)"


@dataclass(frozen=True)
class Case:
    query: str
    params: Callable[[GrownStore], Mapping[str, Any]]
    anchors: list[str]
    allowed: list[str] = field(default_factory=list)
    walks: list[str] = field(default_factory=list)
    """Operators (regular expressions on "Operator details") that must appear as well."""


CASES: dict[str, Case] = {
    # graph/reads.py: the API's member reads.
    "member": Case(
        reads.MEMBERS,
        lambda s: {"ids": [s.root_id, s.leaf_id, "nobody"], "now": None},
        [BY_MEMBER_ID],
        walks=[BOUGHT_FROM_M],
    ),
    "member_and_sponsor": Case(
        reads.MEMBERS_AND_SPONSORS,
        lambda s: {"ids": [s.leaf_id, s.moved_id], "now": AFTER_REFRESH},
        [BY_MEMBER_ID],
        walks=[BOUGHT_FROM_M],
    ),
    "upline": Case(
        reads.UPLINES,
        lambda s: {"ids": [s.leaf_id, s.moved_id], "max_depth": reads.MAX_UPLINE},
        [BY_MEMBER_ID],
        walks=[WALK_UP],
    ),
    "direct_recruits": Case(
        reads.RECRUITS,
        lambda s: {"requests": [{"id": s.root_id, "first": 10, "after": None}]},
        [r"NodeUniqueIndexSeek.* s:Member\(id\)"],
        walks=[r"Expand\(All\) \(s\)<-\[\w+:SPONSORED_BY\]-\(r\)"],
    ),
    "within_downline": Case(
        reads.WITHIN_DOWNLINE,
        lambda s: {"ids": [s.leaf_id, s.moved_id], "ancestor_id": s.root_id},
        [BY_MEMBER_ID, r"NodeUniqueIndexSeek.* a:Member\(id\)"],
        walks=[UP_TO],
    ),
    # graph/payouts.py: the ledger.
    "export_window": Case(
        payouts.EXPORT, lambda s: {**WINDOW, "run_id": None}, [PAYOUTS_BY_PAID_AT]
    ),
    "export_run": Case(
        payouts.EXPORT_RUN,
        lambda s: {**WINDOW, "run_id": s.run_id},
        [
            r"NodeIndexSeek RANGE INDEX o:Order\(settled_run\)",
            r"NodeIndexSeek RANGE INDEX o:Order\(reversed_run\)",
        ],
        # A risk decision's reversals: its record (one per decided flag) is found by label.
        allowed=[r"^NodeByLabelScan d:RiskDecision$"],
    ),
    "balances": Case(
        payouts.BALANCES, lambda s: {}, [WHOLE_LEDGER, PAYOUTS_BY_MEMBER, *WHOLE_MONEY]
    ),
    "balance": Case(
        payouts.BALANCE,
        lambda s: {"member_id": s.root_id, "open_states": list(ledger.OPEN_STATES)},
        [BY_MEMBER_ID, PAYOUTS_BY_MEMBER, *MONEY_BY_MEMBER, WITHDRAWALS_BY_MEMBER],
    ),
    "lock_ledger": Case(
        payouts.LOCK_LEDGER, lambda s: {}, [r"NodeUniqueIndexSeek.* l:PayoutLedger\(id\)"]
    ),
    "approved_withdrawals": Case(
        payouts.APPROVED, lambda s: {}, [r"NodeIndexSeek RANGE INDEX w:Withdrawal\(state\)"]
    ),
    "open_batch": Case(
        payouts.OPEN_BATCH,
        lambda s: {"due": [], "batch_id": "plan", "minimum": None, "at": AFTER_REFRESH},
        [r"NodeUniqueIndexSeek.* w:Withdrawal\(id\)"],
    ),
    # graph/ledger.py and graph/withdrawals.py: a member's money.
    "ledger_page": Case(
        ledger.PAGE,
        lambda s: {
            **WINDOW,
            "member_id": s.root_id,
            "payments": False,
            "first": 20,
            "after_ms": None,
            "after_key": None,
        },
        [BY_MEMBER_ID, PAYOUTS_BY_MEMBER, *MONEY_BY_MEMBER],
        allowed=[r"NodeUniqueIndexSeek.* r:SettlementRun\(id\)"],
    ),
    "statement": Case(
        ledger.STATEMENT,
        lambda s: {**WINDOW, "member_id": s.root_id, "payments": True},
        [BY_MEMBER_ID, PAYOUTS_BY_MEMBER, *MONEY_BY_MEMBER],
        allowed=[r"NodeUniqueIndexSeek.* r:SettlementRun\(id\)"],
    ),
    "ledger_parties": Case(
        ledger.PARTIES,
        lambda s: {"order_ids": [s.order_id]},
        [r"NodeUniqueIndexSeek.* o:Order\(id\)"],
    ),
    "pending": Case(
        ledger.pending_query(),
        lambda s: {"member_id": s.root_id},
        [r"NodeUniqueIndexSeek.* me:Member\(id\)"],
        allowed=[r"NodeByLabelScan p:Plan"],
    ),
    "member_withdrawals": Case(
        withdrawals.MEMBER_WITHDRAWALS,
        lambda s: {"member_id": s.root_id},
        [WITHDRAWALS_BY_MEMBER],
    ),
    # Finance's queue (graph/withdrawals.py): open requests by the state index, oldest first.
    "open_withdrawals": Case(
        withdrawals.OPEN_WITHDRAWALS,
        lambda s: {
            "open_states": list(ledger.OPEN_STATES),
            "after_at": None,
            "after_id": None,
            "limit": 21,
        },
        [r"NodeIndexSeek RANGE INDEX w:Withdrawal\(state\)", BY_MEMBER_ID],
    ),
    "open_withdrawals_count": Case(
        withdrawals.COUNT_OPEN,
        lambda s: {"open_states": list(ledger.OPEN_STATES)},
        [r"NodeIndexSeek RANGE INDEX w:Withdrawal\(state\)"],
    ),
    # Frozen money (graph/ledger.py, graph/riskdecisions.py): from the flags (few) to their
    # members' payouts by the member_id index, never the whole ledger.
    "frozen_balances": Case(
        ledger.FROZEN_BALANCES, lambda s: {}, [r"^NodeByLabelScan f:RiskFlag$", PAYOUTS_BY_MEMBER]
    ),
    "flags_frozen": Case(
        riskdecisions.FLAGS_FROZEN,
        lambda s: {"ids": ["farm:0", "farm:1"]},
        [RISK_FLAG_BY_ID, PAYOUTS_BY_MEMBER],
    ),
    "frozen_lines": Case(
        riskdecisions.FROZEN_LINES,
        lambda s: {"flag_id": "farm:0"},
        [RISK_FLAG_BY_ID, PAYOUTS_BY_MEMBER],
    ),
    "risk_reverse": Case(
        riskdecisions.REVERSE,
        lambda s: {
            "lines": [{"order_id": "O", "tier": 1}],
            "decision_id": "d",
            "flag_id": "f",
            "at": AFTER_REFRESH,
        },
        [r"NodeUniqueIndexSeek.* o:Order\(id\)", r"Expand\(All\) \(o\)-\[p:PAID\]->\(m\)"],
    ),
    # The risk view's drawing (graph/risk.py): the cluster's members by id.
    "cluster_members": Case(risk.CLUSTER_MEMBERS, lambda s: {"ids": [s.leaf_id]}, [BY_MEMBER_ID]),
    "tier_payouts_member": Case(
        payouts.SUMMARY_MEMBER,
        lambda s: {**WINDOW, "member_id": s.root_id},
        [BY_MEMBER_ID, PAYOUTS_BY_MEMBER],
    ),
    "tier_payouts_platform": Case(payouts.SUMMARY_PLATFORM, lambda s: WINDOW, [PAYOUTS_BY_PAID_AT]),
    "platform_retained": Case(
        payouts.RETAINED, lambda s: WINDOW, [r"NodeIndexSeekByRange RANGE INDEX o:Order\(paid_at\)"]
    ),
    # graph/growth.py.
    "fission_speed": Case(
        growth.FISSION,
        lambda s: {
            "from": WINDOW["start"].isoformat(),
            "to": WINDOW["end"].isoformat(),
            "id": s.root_id,
        },
        [r"NodeUniqueIndexSeek.* u:Member\(id\)"],
        walks=[r"^VarLengthExpand\(.*\) \(u\)<-\[\w+:SPONSORED_BY\*"],
    ),
    "activation": Case(
        growth.ACTIVATION,
        lambda s: {**WINDOW, "id": s.root_id, "days": growth.ACTIVATION_DAYS},
        [r"NodeUniqueIndexSeek.* u:Member\(id\)"],
        walks=[r"^(Optional)?Expand\(All\) \(r\)-\[\w+:BOUGHT\]->\(g\)"],
    ),
    "cohort_retention_platform": Case(
        growth.RETENTION,
        lambda s: {**WINDOW, "months": 6, "member_id": None},
        [r"NodeIndexSeek RANGE INDEX g:Order\(kind\) WHERE kind = "],
        walks=[BOUGHT_FROM_M],
    ),
    "cohort_retention_member": Case(
        growth.RETENTION_MEMBER,
        lambda s: {**WINDOW, "months": 6, "member_id": s.root_id},
        [r"NodeUniqueIndexSeek.* u:Member\(id\)"],
        walks=[BOUGHT_FROM_M],
    ),
    # graph/platformgrowth.py: each count one range seek of its index.
    "platform_growth_joined": Case(
        platformgrowth.JOINED,
        lambda s: {**WINDOW, "unit": "week"},
        [r"NodeIndexSeekByRange RANGE INDEX m:Member\(joined_at\)"],
    ),
    "platform_growth_orders": Case(
        platformgrowth.ORDERS,
        lambda s: {**WINDOW, "unit": "week"},
        [r"NodeIndexSeekByRange RANGE INDEX o:Order\(paid_at\)"],
    ),
    "platform_growth_agents": Case(
        platformgrowth.AGENTS,
        lambda s: {**WINDOW, "unit": "week"},
        [r"NodeIndexSeek RANGE INDEX g:Order\(kind\) WHERE kind = "],
    ),
    # graph/compliance.py.
    "income_member": Case(
        compliance.MEMBER_INCOME,
        lambda s: {**WINDOW, "member_id": s.root_id},
        [BY_MEMBER_ID, PAYOUTS_BY_MEMBER],
    ),
    "income_platform": Case(
        compliance.PLATFORM_INCOME, lambda s: {**WINDOW, "member_id": None}, [PAYOUTS_BY_PAID_AT]
    ),
    "flagged_members": Case(
        compliance.FLAGGED,
        lambda s: {
            **WINDOW,
            "member_id": None,
            "recruiting_bp": compliance.RECRUITING_BP,
            "team_pay_bp": compliance.TEAM_PAY_BP,
            "limit": compliance.MAX_LISTED,
        },
        [PAYOUTS_BY_PAID_AT],
    ),
    "paths_member": Case(
        compliance.MEMBER_PATHS,
        lambda s: {
            **WINDOW,
            "member_id": s.root_id,
            "limit": compliance.MAX_LISTED,
            "viewer": None,
        },
        [BY_MEMBER_ID, PAYOUTS_BY_MEMBER],
    ),
    "paths_member_seen_by_a_member": Case(
        compliance.MEMBER_PATHS,
        lambda s: {
            **WINDOW,
            "member_id": s.root_id,
            "limit": compliance.MAX_LISTED,
            "viewer": s.root_id,
        },
        [BY_MEMBER_ID, PAYOUTS_BY_MEMBER],
    ),
    "paths_platform": Case(
        compliance.PATHS,
        lambda s: {**WINDOW, "member_id": None, "limit": compliance.MAX_LISTED, "viewer": None},
        [PAYOUTS_BY_PAID_AT],
    ),
    # graph/members.py and graph/orders.py: the lookups inside the mutations.
    "register_exists": Case(members.MEMBER_EXISTS, lambda s: {"id": "M0"}, [BY_MEMBER_ID]),
    "register_sponsor": Case(
        members.SPONSOR_JOINED,
        lambda s: {"id": s.root_id},
        [r"NodeUniqueIndexSeek.* s:Member\(id\)"],
    ),
    "register_create": Case(
        members.CREATE_MEMBER,
        lambda s: {"id": "M0", "name": "n", "joined_at": AFTER_REFRESH, "sponsor_id": s.root_id},
        [r"NodeUniqueIndexSeek.* s:Member\(id\)"],
    ),
    "transfer_would_cycle": Case(
        members.WOULD_CYCLE,
        lambda s: {"id": s.moved_id, "sponsor_id": s.leaf_id},
        [r"NodeUniqueIndexSeek.* s:Member\(id\)", BY_MEMBER_ID],
        walks=[UP_TO],
    ),
    "transfer": Case(
        members.TRANSFER,
        lambda s: {"id": s.moved_id, "sponsor_id": s.root_id, "at": AFTER_REFRESH},
        [BY_MEMBER_ID, r"NodeUniqueIndexSeek.* s:Member\(id\)"],
    ),
    "suspend": Case(
        members.SUSPEND, lambda s: {"id": s.leaf_id, "suspended": True}, [BY_MEMBER_ID]
    ),
    "record_order_context": Case(
        orders.ORDER_CONTEXT,
        lambda s: {"id": "O0", "buyer_id": s.leaf_id, "seller_id": s.root_id, "sku": "SKU00001"},
        [r"NodeUniqueIndexSeek.* existing:Order\(id\)"],
    ),
    "record_order_create": Case(
        orders.CREATE_ORDER,
        lambda s: {
            "id": "O0",
            "kind": "RETAIL",
            "buyer_id": s.leaf_id,
            "seller_id": s.root_id,
            "sku": "SKU00001",
            "amount": 100,
            "paid_at": AFTER_REFRESH,
        },
        [r"NodeUniqueIndexSeek.* buyer:Member\(id\)", r"NodeUniqueIndexSeek.* seller:Member\(id\)"],
    ),
    "refund_read": Case(
        orders.READ_ORDER, lambda s: {"id": s.order_id}, [r"NodeUniqueIndexSeek.* o:Order\(id\)"]
    ),
    "refund": Case(
        orders.REFUND,
        lambda s: {"id": s.order_id, "refunded_at": AFTER_REFRESH},
        [r"NodeUniqueIndexSeek.* o:Order\(id\)"],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_statement_starts_from_its_anchor(grown_store: GrownStore, name: str) -> None:
    case = CASES[name]
    plan = explain(
        grown_store.driver, case.query, case.params(grown_store), database=grown_store.database
    )
    assert_shape(plan, anchors=case.anchors, allowed=case.allowed)
    for walk in case.walks:
        assert any(re.search(walk, str(op)) for op in operators(plan)), (
            f"{walk!r} is not in the plan:\n{render(plan)}"
        )
