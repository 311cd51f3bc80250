"""Growth signals beside the key-node ranking: fission speed, activation, cohort retention.

Weeks and months are calendar periods in China Standard Time (UTC+08:00), the same local
midnight the rollups bucket days on; a week starts on Monday. Windows are half-open [start,
end); a missing bound is unbounded. docs/model.md ("Growth signals and compliance") gives the
decisions where domain.md is silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import neo4j

from graph.cypherfiles import CYPHER, section
from graph.window import BUCKET_TZ

ANALYTICS = CYPHER / "analytics"

ACTIVATION_DAYS = 30
MAX_RETENTION_MONTHS = 36


def share_bp(part: int, whole: int) -> int:
    """part / whole in basis points, rounded down; 0 when there is no whole."""
    return part * 10_000 // whole if whole > 0 else 0


def local_date(value: datetime) -> date:
    return value.astimezone(BUCKET_TZ).date()


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _native(value: Any) -> Any:
    return value.to_native() if hasattr(value, "to_native") else value


@dataclass(frozen=True)
class WeekCount:
    week: date
    """The Monday (UTC+08:00) the week starts on."""
    recruits: int


@dataclass(frozen=True)
class FissionSpeed:
    """Members who joined the member's downline (itself excluded), per week of joining."""

    member_id: str
    total: int
    weeks: tuple[WeekCount, ...]
    """Every week the window touches, zeros included; unbounded ends stop at the first or last
    week anyone joined. The first and last weeks may be cut by the window."""


@dataclass(frozen=True)
class Activation:
    """Of a member's direct recruits who joined in the window, those who became agents (held a
    gift package they were not refunded at the instant it was paid) within ``days`` of joining."""

    member_id: str
    days: int
    recruits: int
    activated: int
    share_bp: int


@dataclass(frozen=True)
class Cohort:
    month: date
    """The first day of the month (UTC+08:00) the cohort's agents became agents."""
    agents: int
    active: tuple[int, ...]
    """active[k]: agents of the cohort who bought a retail order, never refunded, in month k
    after the cohort month (k = 0 is the cohort month); only months begun by ``as_of``."""
    share_bp: tuple[int, ...]


@dataclass(frozen=True)
class CohortRetention:
    member_id: str | None
    """None for the whole platform; otherwise the agents of this member's subtree, itself in."""
    months: int
    cohorts: tuple[Cohort, ...]


EXISTS = "MATCH (u:Member {id: $id}) USING INDEX SEEK u:Member(id) RETURN u.id AS id"

# Each statement starts from the member, sought by its key (named: on a store sampled empty
# the planner scanned the whole Member(id) index for it, or started from every member's
# joined_at), and expands from it; nodes reached by expansion carry no label, so no index can
# be sought for them once per row (docs/model.md, "Query plans"). The member's downline is
# walked down, bounded by its size.
FISSION = f"""
MATCH (u:Member {{id: $id}}) USING INDEX SEEK u:Member(id)
{section(ANALYTICS / "fission_speed.cypher", "joined")}
RETURN week, count(*) AS recruits
"""

ACTIVATION = f"""
MATCH (u:Member {{id: $id}}) USING INDEX SEEK u:Member(id)
MATCH (r)-[:SPONSORED_BY]->(u)
WHERE r.joined_at >= $start AND r.joined_at < $end
WITH r, EXISTS {{
{section(ANALYTICS / "activation.cypher", "activated")}
}} AS activated
RETURN count(r) AS recruits, count(CASE WHEN activated THEN r END) AS activated
"""

# An agent's cohort is the month of its first gift package that made it an agent (one not
# refunded at the instant it was paid). For the platform, the gift orders (kind index) give the
# agents; for a member, its subtree walked down gives them, bounded by the subtree's size.
# "Not refunded by then" is one predicate, not an OR, which the planner would split into two
# seeks of the same index.
PLATFORM_AGENTS = """
MATCH (g:Order) USING INDEX SEEK g:Order(kind)
WHERE g.kind = 'GIFT_PACKAGE' AND NOT coalesce(g.refunded_at <= g.paid_at, false)
MATCH (m)-[:BOUGHT]->(g)
"""

_RETENTION_MEMBER_AGENTS = """
MATCH (u:Member {id: $member_id}) USING INDEX SEEK u:Member(id)
MATCH (m)-[:SPONSORED_BY*0..]->(u)
MATCH (m)-[:BOUGHT]->(g)
WHERE g.kind = 'GIFT_PACKAGE' AND NOT coalesce(g.refunded_at <= g.paid_at, false)
"""

# The repeat orders of each agent are expanded from it, never sought by paid_at.
_RETENTION_COHORTS = """
WITH m, min(g.paid_at) AS since
WHERE since >= $start AND since < $end
WITH m, date.truncate('month', datetime({datetime: since, timezone: '+08:00'})) AS cohort
CALL (m, cohort) {
  MATCH (m)-[:BOUGHT]->(o)
  WHERE o.kind = 'RETAIL' AND o.refunded_at IS NULL
    AND o.paid_at >= datetime({date: cohort, timezone: '+08:00'})
    AND o.paid_at < datetime({date: cohort + duration({months: $months + 1}), timezone: '+08:00'})
  WITH date(datetime({datetime: o.paid_at, timezone: '+08:00'})) AS day
  RETURN collect(DISTINCT (day.year - cohort.year) * 12 + day.month - cohort.month) AS ks
}
WITH cohort, count(m) AS agents, collect(ks) AS all
UNWIND range(0, $months) AS k
WITH cohort, agents, k, size([x IN all WHERE k IN x]) AS active
ORDER BY cohort, k
RETURN cohort, agents, collect(active) AS active
"""

RETENTION = PLATFORM_AGENTS + _RETENTION_COHORTS
RETENTION_MEMBER = _RETENTION_MEMBER_AGENTS + _RETENTION_COHORTS

EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


async def _rows(tx: neo4j.AsyncManagedTransaction, query: str, **params: Any) -> list[Any]:
    result = await tx.run(query, params)
    return [r async for r in result]


async def _exists(tx: neo4j.AsyncManagedTransaction, member_id: str) -> bool:
    return bool(await _rows(tx, EXISTS, id=member_id))


async def fission_speed(
    driver: neo4j.AsyncDriver,
    *,
    member_id: str,
    start: datetime | None,
    end: datetime | None,
    database: str = "neo4j",
    timeout: float | None = None,
) -> FissionSpeed | None:
    """Recruits per week of a member's whole branch; None when the member does not exist."""

    @neo4j.unit_of_work(timeout=timeout)
    async def work(tx: neo4j.AsyncManagedTransaction) -> FissionSpeed | None:
        if not await _exists(tx, member_id):
            return None
        window = {"from": (start or EARLIEST).isoformat(), "to": (end or LATEST).isoformat()}
        rows = await _rows(tx, FISSION, id=member_id, **window)
        counts: dict[date, int] = {_native(r["week"]): r["recruits"] for r in rows}
        return FissionSpeed(
            member_id=member_id,
            total=sum(counts.values()),
            weeks=tuple(WeekCount(w, counts.get(w, 0)) for w in _weeks(counts, start, end)),
        )

    async with driver.session(database=database) as session:
        return await session.execute_read(work)


def _weeks(counts: dict[date, int], start: datetime | None, end: datetime | None) -> list[date]:
    first = week_start(local_date(start)) if start is not None else min(counts, default=None)
    last = (
        week_start(local_date(end - timedelta(microseconds=1)))
        if end is not None
        else max(counts, default=None)
    )
    if first is None or last is None:
        return sorted(counts)
    weeks = []
    week = first
    while week <= last:
        weeks.append(week)
        week += timedelta(days=7)
    return weeks


async def activation(
    driver: neo4j.AsyncDriver,
    *,
    member_id: str,
    start: datetime | None,
    end: datetime | None,
    days: int = ACTIVATION_DAYS,
    database: str = "neo4j",
    timeout: float | None = None,
) -> Activation | None:
    """How many of the member's recruits of the window became agents within ``days``."""

    @neo4j.unit_of_work(timeout=timeout)
    async def work(tx: neo4j.AsyncManagedTransaction) -> Activation | None:
        if not await _exists(tx, member_id):
            return None
        rows = await _rows(
            tx, ACTIVATION, id=member_id, start=start or EARLIEST, end=end or LATEST, days=days
        )
        recruits, activated = int(rows[0]["recruits"]), int(rows[0]["activated"])
        return Activation(
            member_id=member_id,
            days=days,
            recruits=recruits,
            activated=activated,
            share_bp=share_bp(activated, recruits),
        )

    async with driver.session(database=database) as session:
        return await session.execute_read(work)


async def cohort_retention(
    driver: neo4j.AsyncDriver,
    *,
    start: datetime | None,
    end: datetime | None,
    months: int,
    member_id: str | None = None,
    as_of: datetime | None = None,
    database: str = "neo4j",
    timeout: float | None = None,
) -> CohortRetention | None:
    """Agents who became agents in [start, end), by month, and how many still buy k = 0..months
    months later. None when ``member_id`` is given and does not exist."""
    if not 0 <= months <= MAX_RETENTION_MONTHS:
        raise ValueError(f"months must be within 0-{MAX_RETENTION_MONTHS}, got {months}")
    now = local_date(as_of or datetime.now(UTC))

    @neo4j.unit_of_work(timeout=timeout)
    async def work(tx: neo4j.AsyncManagedTransaction) -> CohortRetention | None:
        if member_id is not None and not await _exists(tx, member_id):
            return None
        rows = await _rows(
            tx,
            RETENTION if member_id is None else RETENTION_MEMBER,
            start=start or EARLIEST,
            end=end or LATEST,
            months=months,
            member_id=member_id,
        )
        cohorts = []
        for r in rows:
            month: date = _native(r["cohort"])
            seen = [a for k, a in enumerate(r["active"]) if add_months(month, k) <= now]
            cohorts.append(
                Cohort(
                    month=month,
                    agents=r["agents"],
                    active=tuple(seen),
                    share_bp=tuple(share_bp(a, r["agents"]) for a in seen),
                )
            )
        return CohortRetention(member_id=member_id, months=months, cohorts=tuple(cohorts))

    async with driver.session(database=database) as session:
        return await session.execute_read(work)
