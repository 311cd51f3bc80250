"""Random small networks settled in random cutoff steps, against a pure-Python model of the rules.

The model is written from domain.md alone and shares no code with the Cypher: per order, it
works out who gets what at the final cutoff. Settling day by day must give every member the
same net amount for every order as the model (and so as settling once).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import neo4j
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.db import clear
from graph.plans import Plan
from graph.settlement import reconcile, settle
from tests.graph.netbuild import DEFAULT_PLAN, PRODUCTS, Ord, at, net, seed


def is_agent(member: str, t: datetime, orders: list[Ord]) -> bool:
    return any(
        g.kind == "GIFT_PACKAGE"
        and g.buyer == member
        and g.paid_at <= t
        and (g.refunded_at is None or g.refunded_at > t)
        for g in orders
    )


def model(
    sponsors: dict[str, str | None], orders: list[Ord], plan: Plan, cutoff: datetime
) -> dict[tuple[str, str], int]:
    """(member, order) -> net fen at ``cutoff``."""
    owed: dict[tuple[str, str], int] = defaultdict(int)
    for o in orders:
        if o.paid_at + timedelta(days=plan.hold_days) > cutoff:
            continue
        if o.refunded_at is not None and o.refunded_at <= cutoff:
            continue  # never paid, or paid and reversed: nets to zero either way
        if o.kind == "GIFT_PACKAGE":
            pool = o.fen * (10_000 - plan.gift_cost_bp) // 10_000
            shares = [pool * s // 10_000 for s in plan.gift_shares_bp]
            first = sponsors[o.buyer]
        else:
            if o.seller is None or not is_agent(o.seller, o.paid_at, orders):
                continue
            if o.seller == o.buyer and not plan.self_purchase:
                continue
            commission = o.fen * PRODUCTS[o.product][1] // 10_000
            shares = [commission] + [commission * bp // 10_000 for bp in plan.retail_override_bp]
            first = o.seller
        chain: list[str | None] = [first]
        while len(chain) < len(shares):
            above = chain[-1]
            chain.append(None if above is None else sponsors[above])
        for member, share in zip(chain, shares, strict=True):
            if member is not None and share > 0 and is_agent(member, o.paid_at, orders):
                owed[(member, o.id)] += share
    return {k: v for k, v in owed.items() if v != 0}


@st.composite
def networks(draw: st.DrawFn) -> tuple[dict[str, str | None], list[Ord], Plan, list[float]]:
    size = draw(st.integers(3, 7))
    sponsors: dict[str, str | None] = {}
    for i in range(size):
        ids = list(sponsors)
        sponsors[f"M{i}"] = draw(st.sampled_from([None, *ids])) if ids else None
    members = list(sponsors)
    orders: list[Ord] = []

    def refund_after(day: float) -> float | None:
        later = draw(st.one_of(st.none(), st.none(), st.integers(0, 25)))
        return None if later is None else day + later

    # Most members hold a gift package early, so that most rules get exercised.
    for member in members:
        if draw(st.integers(0, 9)) < 7:
            day = float(draw(st.integers(0, 6)))
            sku = draw(st.sampled_from(["GP399", "GP499"]))
            orders.append(
                Ord(
                    f"G{member}",
                    "GIFT_PACKAGE",
                    member,
                    sku=sku,
                    day=day,
                    refunded_day=refund_after(day),
                )
            )
    for i in range(draw(st.integers(1, 10))):
        buyer = draw(st.sampled_from(members))
        seller = draw(st.sampled_from([None, buyer, buyer, *members]))
        day = draw(st.integers(0, 20)) + draw(st.sampled_from([0, 0.25, 0.5]))
        sku = draw(st.sampled_from(["SKU1", "SKU2"]))
        orders.append(
            Ord(
                f"R{i}",
                "RETAIL",
                buyer,
                seller=seller,
                sku=sku,
                day=day,
                refunded_day=refund_after(day),
            )
        )
    plan = dataclasses.replace(
        DEFAULT_PLAN,
        self_purchase=draw(st.booleans()),
        hold_days=draw(st.sampled_from([0, 3, 7])),
    )
    tiers = draw(st.sampled_from([1, 2, 3, 3]))
    if tiers < 3:
        plan = dataclasses.replace(
            plan,
            tiers=tiers,
            retail_override_bp=plan.retail_override_bp[: tiers - 1],
            gift_shares_bp=plan.gift_shares_bp[:tiers],
        )
    steps = sorted(draw(st.lists(st.integers(1, 45), max_size=3)))
    return sponsors, orders, plan, [float(s) for s in steps]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=networks())
def test_day_by_day_settlement_matches_the_model(
    graph: neo4j.Driver, case: tuple[dict[str, str | None], list[Ord], Plan, list[float]]
) -> None:
    sponsors, orders, plan, steps = case
    clear(graph)
    folder = Path(tempfile.mkdtemp())
    try:
        seed(graph, folder, sponsors, orders, plan=plan)
    finally:
        shutil.rmtree(folder)
    final = at(50)
    for step in [*steps, 50.0]:
        settle(graph, cutoff=at(step))
    assert net(graph) == model(sponsors, orders, plan, final)
    assert reconcile(graph).ok
