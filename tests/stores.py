"""A store as the everyday path leaves it, for the plan-shape tests (tests/plans.py).

Its index statistics were taken while it was empty; then it was filled only through the
transactional path (a load, settlements with a refund between them, a rollup refresh) and,
after the refresh, changed by mutations (a transfer of a member with a downline, orders of any
amount, a new member), none of which resampled. The test server runs with background sampling
off, so nothing resamples behind the tests' back. ``fresh=True`` resamples at the end: the same
store as a load, settlement or refresh leaves it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import neo4j

from contract.settings import Settings
from downline.demo import write_demo_network
from graph import rollups, statistics
from graph.db import clear, connect_async
from graph.loader import load
from graph.members import register_member, transfer_member
from graph.orders import record_order, refund_order
from graph.plans import read_plan_file, store_plan
from graph.settlement import settle

ROOT = Path(__file__).resolve().parent.parent
CST = timezone(timedelta(hours=8))
FIRST_CUTOFF = datetime(2026, 6, 1, tzinfo=CST)
CUTOFF = datetime(2026, 12, 1, tzinfo=CST)
AFTER_REFRESH = datetime(2026, 11, 20, 12, 0, tzinfo=CST)


@dataclass(frozen=True)
class GrownStore:
    """What a test needs to fill a statement's parameters on the store."""

    driver: neo4j.Driver
    database: str
    fresh: bool
    root_id: str
    """The member with the largest downline."""
    leaf_id: str
    """A member without recruits."""
    moved_id: str
    """A member with a downline, transferred after the refresh."""
    order_id: str
    """An order settled and then refunded (it has payouts and reversals)."""
    run_id: str
    """The last settlement run."""
    cutoff: datetime


async def _after_refresh(settings: Settings, moved: str, sponsor: str, buyer: str) -> None:
    async with connect_async(settings) as driver:
        db = settings.neo4j_database
        await transfer_member(
            driver, member_id=moved, new_sponsor_id=sponsor, at=AFTER_REFRESH, database=db
        )
        await register_member(
            driver,
            member_id="M9999999",
            name="新会员",
            joined_at=AFTER_REFRESH,
            sponsor_id=sponsor,
            database=db,
        )
        for i, amount in enumerate((19_900, 99_999_999_999_999)):
            await record_order(
                driver,
                order_id=f"O99999999{i}",
                kind="RETAIL",
                buyer_id=buyer,
                seller_id=None,
                sku="SKU00001",
                amount=amount,
                paid_at=AFTER_REFRESH + timedelta(minutes=i),
                database=db,
            )


async def _refund(settings: Settings, order_id: str) -> None:
    async with connect_async(settings) as driver:
        await refund_order(
            driver,
            order_id=order_id,
            refunded_at=FIRST_CUTOFF + timedelta(days=1),
            database=settings.neo4j_database,
        )


def grow(driver: neo4j.Driver, settings: Settings, work: Path, *, fresh: bool) -> GrownStore:
    db = settings.neo4j_database
    clear(driver, db)
    statistics.resample(driver, database=db)  # samples taken on the empty store
    write_demo_network(work, members=600, seed=11, orders=6_000)
    load(
        driver,
        members=work / "members.csv",
        products=work / "products.csv",
        orders=work / "orders.csv",
        database=db,
        resample=False,
    )
    store_plan(driver, read_plan_file(ROOT / "plans" / "default.toml"), database=db)
    settle(driver, cutoff=FIRST_CUTOFF, database=db, resample=False)
    records, _, _ = driver.execute_query(
        """
        MATCH (o:Order {kind: 'RETAIL'}) WHERE o.settled_run IS NOT NULL AND o.refunded_at IS NULL
          AND EXISTS { (o)-[:PAID {tier: 2}]->() }
        RETURN o.id AS id ORDER BY id LIMIT 1
        """,
        database_=db,
    )
    refunded = records[0]["id"]
    asyncio.run(_refund(settings, refunded))
    outcome = settle(driver, cutoff=CUTOFF, database=db, resample=False)
    assert outcome.run is not None
    rollups.refresh(driver, db, resample=False)
    records, _, _ = driver.execute_query(
        """
        MATCH (m:Member)
        WITH m, COUNT { (m)<-[:SPONSORED_BY*]-() } AS size
        ORDER BY size DESC, m.id
        WITH collect({id: m.id, size: size}) AS ranked
        RETURN ranked[0].id AS root, [r IN ranked WHERE r.size = 0][0].id AS leaf,
               [r IN ranked WHERE r.size >= 10 AND r.size <= 100][0].id AS moved
        """,
        database_=db,
    )
    root, leaf, moved = records[0]["root"], records[0]["leaf"], records[0]["moved"]
    asyncio.run(_after_refresh(settings, moved, root, leaf))
    if fresh:
        statistics.resample(driver, database=db)
    return GrownStore(
        driver=driver,
        database=db,
        fresh=fresh,
        root_id=root,
        leaf_id=leaf,
        moved_id=moved,
        order_id=refunded,
        run_id=outcome.run.id,
        cutoff=CUTOFF,
    )
