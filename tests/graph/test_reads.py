"""The API's member reads: members with their sponsors in one read, agent status by the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from graph import reads
from graph.members import register_member
from graph.orders import record_order, refund_order
from graph.products import upsert_product

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=CST)
PAID = datetime(2026, 2, 1, 10, 0, tzinfo=CST)


@pytest.fixture
def tree(arun: Callable[..., Any]) -> None:
    """A <- B <- C, and A <- D; A holds a gift package, D one paid a year from now."""
    arun(upsert_product, sku="GIFT", name="Gift package", price=39_900, commission_bp=0)
    for member_id, sponsor in (("A", None), ("B", "A"), ("C", "B"), ("D", "A")):
        arun(
            register_member,
            member_id=member_id,
            name=f"Name {member_id}",
            joined_at=T0,
            sponsor_id=sponsor,
        )
    later = datetime.now(UTC) + timedelta(hours=12)  # a payment may be dated a day ahead
    for order_id, buyer, paid in (("GA", "A", PAID), ("GD", "D", later)):
        arun(
            record_order,
            order_id=order_id,
            kind="GIFT_PACKAGE",
            buyer_id=buyer,
            seller_id=None,
            sku="GIFT",
            amount=39_900,
            paid_at=paid,
        )


def test_members_and_their_sponsors_in_one_read(arun: Callable[..., Any], tree: None) -> None:
    found = arun(reads.members_by_ids, ids=["C", "B", "nobody"], sponsors=True)
    assert sorted(found) == ["A", "B", "C"]
    assert found["C"].sponsor_id == "B" and found["B"].sponsor_id == "A"
    assert found["A"].sponsor_id is None
    assert found["A"].agent_since == PAID and found["A"].is_agent
    assert not found["B"].is_agent and not found["C"].is_agent
    assert found["C"].name == "Name C" and found["C"].joined_at == T0
    # Without sponsors, only the ids asked for.
    assert sorted(arun(reads.members_by_ids, ids=["C", "B"])) == ["B", "C"]


def test_a_root_member_with_sponsors_is_itself_only(arun: Callable[..., Any], tree: None) -> None:
    assert sorted(arun(reads.members_by_ids, ids=["A"], sponsors=True)) == ["A"]


def test_agent_status_follows_the_clock_or_as_of(arun: Callable[..., Any], tree: None) -> None:
    # D's package is paid 12 hours from now: not an agent yet by the database's clock.
    for sponsors in (False, True):
        now = arun(reads.members_by_ids, ids=["D"], sponsors=sponsors)
        assert not now["D"].is_agent
    future = datetime.now(UTC) + timedelta(days=2)
    then = arun(reads.members_by_ids, ids=["D"], as_of=future)
    assert then["D"].is_agent
    before = arun(reads.members_by_ids, ids=["A"], as_of=PAID - timedelta(seconds=1))
    assert not before["A"].is_agent


def test_a_refund_ends_agent_status(arun: Callable[..., Any], tree: None) -> None:
    refunded = PAID + timedelta(days=2)
    arun(refund_order, order_id="GA", refunded_at=refunded)
    assert not arun(reads.members_by_ids, ids=["A"])["A"].is_agent
    held = arun(reads.members_by_ids, ids=["B"], sponsors=True, as_of=refunded - timedelta(days=1))
    assert held["A"].agent_since == PAID
