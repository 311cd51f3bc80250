"""Compensation plans: read from TOML, checked against the law and the books, stored as nodes.

A plan is immutable once stored. The plan that applies to an order is the one with the latest
``effective_from`` at or before the order's ``paid_at``; so a new plan may only take effect
after every order that already settled, or it would rewrite their past.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import neo4j

from contract.money import format_yuan, parse_yuan
from graph import audit
from graph.errors import BadInput, Conflict

MAX_TIERS = 3
FULL_BP = 10_000
TOP_KEYS = frozenset({"id", "effective_from", "hold_days", "tiers", "self_purchase"})
OPTIONAL_KEYS = frozenset({"min_withdrawal", "freeze_flagged"})
DEFAULT_MIN_WITHDRAWAL = 10_000
"""100.00 yuan: the smallest withdrawal a member may request unless the plan says otherwise."""
SECTIONS = {
    "retail": frozenset({"override_bp"}),
    "gift_package": frozenset({"cost_bp", "shares_bp"}),
}


class PlanRefused(BadInput):
    """The plan breaks a rule; nothing was stored."""


@dataclass(frozen=True)
class Plan:
    id: str
    effective_from: datetime
    hold_days: int
    tiers: int
    self_purchase: bool
    retail_override_bp: tuple[int, ...]
    """bp of the tier-1 commission paid to tiers 2.. (``tiers - 1`` entries)."""
    gift_cost_bp: int
    gift_shares_bp: tuple[int, ...]
    """bp of the gift-package pool paid to tiers 1.. (``tiers`` entries)."""
    min_withdrawal: int = DEFAULT_MIN_WITHDRAWAL
    """fen; the smallest withdrawal a member may request while this plan is in effect."""
    freeze_flagged: bool = False
    """Settlement freezes (not forfeits) the payouts of members an open risk flag names, for
    orders paid while this plan is in effect (graph/riskdecisions.py)."""


PLAN_FIELDS = """
    id: p.id, effective_from: p.effective_from, hold_days: p.hold_days, tiers: p.tiers,
    self_purchase: p.self_purchase, retail_override_bp: p.retail_override_bp,
    gift_cost_bp: p.gift_cost_bp, gift_shares_bp: p.gift_shares_bp,
    min_withdrawal: p.min_withdrawal, freeze_flagged: p.freeze_flagged
"""

READ_PLANS = f"MATCH (p:Plan) RETURN p {{ {PLAN_FIELDS} }} AS plan ORDER BY p.effective_from"

# Taking the write lock on the settlement lock's absence is not possible, so a plan load checks
# that no run holds the lock inside the same transaction that writes the plan.
PLAN_CONTEXT = """
OPTIONAL MATCH (same:Plan {id: $id})
OPTIONAL MATCH (clash:Plan {effective_from: $effective_from})
CALL () {
  OPTIONAL MATCH (o:Order)
  WHERE o.paid_at >= $effective_from AND o.settled_run IS NOT NULL
  RETURN count(o) AS rewritten, max(o.paid_at) AS latest
}
OPTIONAL MATCH (lock:SettlementLock)
RETURN properties(same) AS same, clash.id AS clash,
       rewritten, latest, lock.run_id AS running
"""

CREATE_PLAN = """
CREATE (p:Plan {id: $id, effective_from: $effective_from, hold_days: $hold_days, tiers: $tiers,
                self_purchase: $self_purchase, retail_override_bp: $retail_override_bp,
                gift_cost_bp: $gift_cost_bp, gift_shares_bp: $gift_shares_bp,
                min_withdrawal: $min_withdrawal, freeze_flagged: $freeze_flagged,
                loaded_at: datetime()})
"""


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlanRefused(f"{what} must be a whole number, got {value!r}")
    return value


def _bp(value: object, what: str) -> int:
    bp = _int(value, what)
    if not 0 <= bp <= FULL_BP:
        raise PlanRefused(f"{what} is {bp} bp: basis points must be between 0 and 10000")
    return bp


def _bps(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise PlanRefused(f"{what} must be a list of basis points, got {value!r}")
    return tuple(_bp(v, f"{what}[{i}]") for i, v in enumerate(value))


def plan_from_mapping(data: dict[str, Any]) -> Plan:
    """Checks every rule of a plan; raises PlanRefused with the first broken one."""
    unknown = set(data) - TOP_KEYS - OPTIONAL_KEYS - set(SECTIONS)
    for section, keys in SECTIONS.items():
        body = data.get(section)
        if not isinstance(body, dict):
            raise PlanRefused(f"the plan needs a [{section}] table")
        unknown |= {f"{section}.{k}" for k in set(body) - keys}
    if unknown:
        raise PlanRefused(f"unknown plan key(s): {', '.join(sorted(unknown))}")
    missing = sorted(TOP_KEYS - set(data))
    if missing:
        raise PlanRefused(f"the plan lacks {', '.join(missing)}")
    plan_id = data["id"]
    if not isinstance(plan_id, str) or not plan_id.strip() or len(plan_id) > 64:
        raise PlanRefused(f"id must be 1-64 characters, got {plan_id!r}")
    effective = data["effective_from"]
    if not isinstance(effective, datetime) or effective.utcoffset() is None:
        raise PlanRefused(
            "effective_from must be a TOML date-time with a UTC offset, e.g."
            f" 2000-01-01T00:00:00+08:00; got {effective!r}"
        )
    tiers = _int(data["tiers"], "tiers")
    retail, gift = data["retail"], data["gift_package"]
    shares = _bps(gift.get("shares_bp"), "gift_package.shares_bp")
    overrides = _bps(retail.get("override_bp"), "retail.override_bp")
    if tiers > MAX_TIERS or len(shares) > MAX_TIERS or len(overrides) > MAX_TIERS - 1:
        raise PlanRefused(
            f"plan {plan_id} pays {max(tiers, len(shares), len(overrides) + 1)} tiers: a lawful"
            " plan pays three tiers at most (more than three levels is pyramid selling)"
        )
    if tiers < 1:
        raise PlanRefused(f"tiers must be 1, 2 or 3, got {tiers}")
    if len(shares) != tiers:
        raise PlanRefused(f"gift_package.shares_bp needs {tiers} entries (one per tier)")
    if len(overrides) != tiers - 1:
        raise PlanRefused(f"retail.override_bp needs {tiers - 1} entries (tiers 2..{tiers})")
    if sum(shares) > FULL_BP:
        raise PlanRefused(
            f"gift_package.shares_bp add up to {sum(shares)} bp: more than the pool (10000 bp)"
        )
    hold = _int(data["hold_days"], "hold_days")
    if not 0 <= hold <= 365:
        raise PlanRefused(f"hold_days must be between 0 and 365, got {hold}")
    if not isinstance(data["self_purchase"], bool):
        raise PlanRefused("self_purchase must be true or false")
    return Plan(
        id=plan_id.strip(),
        min_withdrawal=_min_withdrawal(data.get("min_withdrawal")),
        freeze_flagged=_freeze_flagged(data.get("freeze_flagged", False)),
        effective_from=effective,
        hold_days=hold,
        tiers=tiers,
        self_purchase=data["self_purchase"],
        retail_override_bp=overrides,
        gift_cost_bp=_bp(gift.get("cost_bp"), "gift_package.cost_bp"),
        gift_shares_bp=shares,
    )


def _min_withdrawal(value: object) -> int:
    """Yuan as a TOML string ("100.00"): a TOML float would be a float touching money."""
    if value is None:
        return DEFAULT_MIN_WITHDRAWAL
    if not isinstance(value, str):
        raise PlanRefused(
            f'min_withdrawal must be an amount in yuan as a string, e.g. "100.00"; got {value!r}'
        )
    try:
        fen = parse_yuan(value)
    except ValueError as exc:
        raise PlanRefused(f"min_withdrawal: {exc}") from exc
    if fen <= 0:
        raise PlanRefused(f"min_withdrawal must be above 0.00, got {format_yuan(fen)}")
    return fen


def _freeze_flagged(value: object) -> bool:
    if not isinstance(value, bool):
        raise PlanRefused(f"freeze_flagged must be true or false (a TOML boolean), got {value!r}")
    return value


def read_plan_file(path: Path) -> Plan:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PlanRefused(f"{path} is not valid TOML: {exc}") from exc
    return plan_from_mapping(data)


def _plan_from(row: dict[str, Any]) -> Plan:
    return Plan(
        id=row["id"],
        effective_from=row["effective_from"].to_native(),
        hold_days=row["hold_days"],
        tiers=row["tiers"],
        self_purchase=row["self_purchase"],
        retail_override_bp=tuple(row["retail_override_bp"]),
        gift_cost_bp=row["gift_cost_bp"],
        gift_shares_bp=tuple(row["gift_shares_bp"]),
        # Plans stored before min_withdrawal existed have the default.
        min_withdrawal=row.get("min_withdrawal") or DEFAULT_MIN_WITHDRAWAL,
        freeze_flagged=bool(row.get("freeze_flagged") or False),
    )


def _params(plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "effective_from": plan.effective_from,
        "hold_days": plan.hold_days,
        "tiers": plan.tiers,
        "self_purchase": plan.self_purchase,
        "retail_override_bp": list(plan.retail_override_bp),
        "gift_cost_bp": plan.gift_cost_bp,
        "gift_shares_bp": list(plan.gift_shares_bp),
        "min_withdrawal": plan.min_withdrawal,
        "freeze_flagged": plan.freeze_flagged,
    }


def store_plan(
    driver: neo4j.Driver,
    plan: Plan,
    *,
    actor: str = audit.SYSTEM,
    now: datetime | None = None,
    database: str = "neo4j",
) -> bool:
    """Stores a checked plan, audited as plan.load by ``actor`` in the same transaction; False
    (nothing written, nothing audited) when the identical plan is already stored.

    Raises Conflict when the id is taken by a different plan, another plan takes effect at the
    same instant, a settlement is running, or orders that already settled would fall under it.
    """

    def work(tx: neo4j.ManagedTransaction) -> bool:
        ctx = tx.run(PLAN_CONTEXT, _params(plan)).single(strict=True).data()
        if ctx["same"] is not None:
            if _plan_from(ctx["same"]) == plan:
                return False
            raise Conflict(f"plan {plan.id} is already stored with other rules; plans never change")
        if ctx["clash"] is not None:
            raise Conflict(f"plan {ctx['clash']} already takes effect at {plan.effective_from}")
        if ctx["running"] is not None:
            raise Conflict(f"settlement run {ctx['running']} is running; load the plan after it")
        if ctx["rewritten"]:
            raise Conflict(
                f"plan {plan.id} would take effect at {plan.effective_from.isoformat()}, but"
                f" {ctx['rewritten']} order(s) paid since then already settled (the latest paid"
                f" at {ctx['latest'].to_native().isoformat()}): it would rewrite their past"
            )
        tx.run(CREATE_PLAN, _params(plan)).consume()
        audit.record(
            tx,
            audit.AuditEntry(
                actor=actor,
                action="plan.load",
                target=plan.id,
                at=now or datetime.now(UTC),
                after=_params(plan),
            ),
        )
        return True

    with driver.session(database=database) as session:
        return session.execute_write(work)


def load_plans(driver: neo4j.Driver, *, database: str = "neo4j") -> list[Plan]:
    records, _, _ = driver.execute_query(
        READ_PLANS, database_=database, routing_=neo4j.RoutingControl.READ
    )
    return [_plan_from(r["plan"]) for r in records]
