"""The risk graph: members linked by shared identity signals, and the patterns that flag them.

Identity signals (phone_hash, device_id, payee_account; docs/model.md "Identity signals") are
shared (:Identifier) nodes, so members who share one are two hops apart. Detection reads
cypher/analytics/risk_*.cypher (one question per file) and shapes the flags here:

- self_referral: a member shares an identifier with a member of its own upline, 1-3 tiers up;
- duplicate_accounts: a connected component of members linked through shared identifiers
  (size >= 2), computed here from one read of the (identifier, member) pairs;
- farm: a sponsor with >= FARM_MIN_RECRUITS direct recruits sharing one identifier who joined
  within FARM_WINDOW_DAYS of each other, or who became agents through gift packages and share
  one payee_account;
- depth_ring: a component holding >= DEPTH_RING_TIERS consecutive tiers of one upline chain.

Every flag carries its evidence: the members, the identifiers they share, the tier distance
where there is one, and the money at stake: the net payouts (reversals included, integer fen)
of its members. ``refresh`` recomputes every flag and replaces the stored ones in one
transaction, (:RiskFlag)-[:FLAGS]->(:Member): a full recompute, not an incremental one.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import neo4j

from graph.cypherfiles import CYPHER, run_file
from graph.db import read, records

RISK_FILES = CYPHER / "analytics"
SELF_REFERRAL = "self_referral"
DUPLICATE_ACCOUNTS = "duplicate_accounts"
FARM = "farm"
DEPTH_RING = "depth_ring"
KINDS = (SELF_REFERRAL, DUPLICATE_ACCOUNTS, FARM, DEPTH_RING)
OPEN, CLEARED, CONFIRMED = "OPEN", "CLEARED", "CONFIRMED"
"""A flag's state: OPEN until an admin clears or confirms it (graph/riskdecisions.py)."""

FARM_WINDOW_DAYS = 7
"""Recruits of one sponsor who share an identifier and joined within this many days: a farm."""
FARM_MIN_RECRUITS = 3
DEPTH_RING_TIERS = 3
"""A component holding this many consecutive tiers of one upline chain is a depth ring."""
MAX_TIER_DISTANCE = 3
"""Self-referral looks this many tiers up (risk_self_referral.cypher: SPONSORED_BY*1..3)."""


@dataclass(frozen=True, order=True)
class Identifier:
    kind: str
    value: str


@dataclass(frozen=True)
class RiskFlag:
    id: str
    """The kind and a digest of the members: the same cluster keeps its id across refreshes."""
    kind: str
    members: tuple[str, ...]
    """By id."""
    identifiers: tuple[Identifier, ...]
    """The identifiers the members share, by kind and value."""
    money_at_stake: int
    """Net payouts of the members (reversals included), fen."""
    tier_distance: int | None = None
    """self_referral: tiers between member and upline (1-3); depth_ring: tiers between the top
    and the bottom of its longest chain (>= 2); otherwise None."""
    sponsor_id: str | None = None
    """farm: the sponsor whose recruits they are (itself one of ``members``)."""
    chain: tuple[str, ...] = ()
    """self_referral: (upline, member); depth_ring: its longest chain, top first."""
    state: str = OPEN
    """OPEN, CLEARED or CONFIRMED (stored as ``state``, absent while open)."""

    @property
    def size(self) -> int:
        return len(self.members)


@dataclass(frozen=True)
class RefreshReport:
    flags: int
    by_kind: dict[str, int]
    seconds: float


@dataclass(frozen=True)
class FlagPage:
    flags: tuple[RiskFlag, ...]
    has_next: bool
    total: int


def flag_id(kind: str, members: Iterable[str]) -> str:
    digest = hashlib.sha256("\x1f".join(sorted(members)).encode()).hexdigest()[:16]
    return f"{kind}:{digest}"


def _rows(driver: neo4j.Driver, name: str, database: str, **params: Any) -> list[dict[str, Any]]:
    (result,) = run_file(driver, RISK_FILES / name, params, database=database)
    return [dict(zip(result.keys, row, strict=True)) for row in result.rows]


def _native(value: Any) -> datetime:
    native = value.to_native() if hasattr(value, "to_native") else value
    assert isinstance(native, datetime)
    return native


def detect(driver: neo4j.Driver, database: str = "neo4j") -> list[RiskFlag]:
    """Every flag of the graph as it is now, by kind then id."""
    shared = _rows(driver, "risk_shared_identifiers.cypher", database)
    pairs = _rows(driver, "risk_self_referral.cypher", database)
    farm = _rows(driver, "risk_farm.cypher", database, min_recruits=FARM_MIN_RECRUITS)
    flags = [
        *self_referrals(pairs),
        *components(shared),
        *farms(farm),
    ]
    return sorted(flags, key=lambda f: (KINDS.index(f.kind), f.id))


def self_referrals(rows: Sequence[dict[str, Any]]) -> list[RiskFlag]:
    """One flag per (member, upline) pair of risk_self_referral.cypher's rows."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        found[(r["member_id"], r["upline_id"])].append(r)
    flags = []
    for (member, upline), shared in found.items():
        members = tuple(sorted({member, upline}))
        flags.append(
            RiskFlag(
                id=flag_id(SELF_REFERRAL, members),
                kind=SELF_REFERRAL,
                members=members,
                identifiers=tuple(sorted({Identifier(r["kind"], r["value"]) for r in shared})),
                money_at_stake=int(shared[0]["member_paid"]) + int(shared[0]["upline_paid"]),
                tier_distance=int(shared[0]["tier_distance"]),
                chain=(upline, member),
            )
        )
    return flags


def components(rows: Sequence[dict[str, Any]]) -> list[RiskFlag]:
    """duplicate_accounts and depth_ring flags from risk_shared_identifiers.cypher's rows:
    members joined through every identifier they share (union-find), each component once."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    paid: dict[str, int] = {}
    sponsor: dict[str, str | None] = {}
    by_identifier: dict[Identifier, list[str]] = defaultdict(list)
    for r in rows:
        member = r["member_id"]
        parent.setdefault(member, member)
        paid[member] = int(r["paid"])
        sponsor[member] = r["sponsor_id"]
        by_identifier[Identifier(r["kind"], r["value"])].append(member)
    for users in by_identifier.values():
        for other in users[1:]:
            a, b = find(users[0]), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[str, set[str]] = defaultdict(set)
    for member in parent:
        groups[find(member)].add(member)
    shared_by: dict[str, set[Identifier]] = defaultdict(set)
    for identifier, users in by_identifier.items():
        shared_by[find(users[0])].add(identifier)
    flags = []
    for root, group in groups.items():
        if len(group) < 2:
            continue
        members = tuple(sorted(group))
        identifiers = tuple(sorted(shared_by[root]))
        money = sum(paid[m] for m in members)
        flags.append(
            RiskFlag(
                id=flag_id(DUPLICATE_ACCOUNTS, members),
                kind=DUPLICATE_ACCOUNTS,
                members=members,
                identifiers=identifiers,
                money_at_stake=money,
            )
        )
        chain = longest_chain(group, sponsor)
        if len(chain) >= DEPTH_RING_TIERS:
            flags.append(
                RiskFlag(
                    id=flag_id(DEPTH_RING, members),
                    kind=DEPTH_RING,
                    members=members,
                    identifiers=identifiers,
                    money_at_stake=money,
                    tier_distance=len(chain) - 1,
                    chain=chain,
                )
            )
    return flags


def longest_chain(group: set[str], sponsor: dict[str, str | None]) -> tuple[str, ...]:
    """The longest run of members of ``group`` each sponsored by the one before, top first
    (ties: the smallest ids from the bottom up)."""
    best: tuple[str, ...] = ()
    for bottom in sorted(group):
        chain = [bottom]
        above = sponsor.get(bottom)
        while above is not None and above in group and above not in chain:
            chain.append(above)
            above = sponsor.get(above)
        if len(chain) > len(best):
            best = tuple(reversed(chain))
    return best


def farms(rows: Sequence[dict[str, Any]]) -> list[RiskFlag]:
    """One flag per sponsor of risk_farm.cypher's rows that has a window of FARM_MIN_RECRUITS
    recruits sharing an identifier, or FARM_MIN_RECRUITS gift-package agents sharing a
    payee_account."""
    groups: dict[tuple[str, Identifier], list[dict[str, Any]]] = defaultdict(list)
    sponsor_paid: dict[str, int] = {}
    for r in rows:
        groups[(r["sponsor_id"], Identifier(r["kind"], r["value"]))].append(r)
        sponsor_paid[r["sponsor_id"]] = int(r["sponsor_paid"])
    window = timedelta(days=FARM_WINDOW_DAYS)
    flagged: dict[str, set[str]] = defaultdict(set)
    shared: dict[str, set[Identifier]] = defaultdict(set)
    recruit_paid: dict[str, int] = {}
    for (sponsor_id, identifier), recruits in groups.items():
        recruits = sorted(recruits, key=lambda r: (_native(r["joined_at"]), r["recruit_id"]))
        joined = [_native(r["joined_at"]) for r in recruits]
        hit: set[str] = set()
        end = 0
        for start in range(len(recruits)):
            end = max(end, start)
            while end < len(recruits) and joined[end] - joined[start] <= window:
                end += 1
            if end - start >= FARM_MIN_RECRUITS:
                hit.update(r["recruit_id"] for r in recruits[start:end])
        if identifier.kind == "payee_account":
            agents = [r["recruit_id"] for r in recruits if r["gift_agent"]]
            if len(agents) >= FARM_MIN_RECRUITS:
                hit.update(agents)
        if hit:
            flagged[sponsor_id] |= hit
            shared[sponsor_id].add(identifier)
            for r in recruits:
                recruit_paid[r["recruit_id"]] = int(r["recruit_paid"])
    flags = []
    for sponsor_id, recruits_hit in flagged.items():
        members = tuple(sorted(recruits_hit | {sponsor_id}))
        money = sponsor_paid[sponsor_id] + sum(recruit_paid[m] for m in recruits_hit)
        flags.append(
            RiskFlag(
                id=flag_id(FARM, members),
                kind=FARM,
                members=members,
                identifiers=tuple(sorted(shared[sponsor_id])),
                money_at_stake=money,
                sponsor_id=sponsor_id,
            )
        )
    return flags


# A flag an admin decided, or one that froze payouts (a PAID line to one of its members names
# it in frozen_by), is history: the refresh keeps it. Every other flag is recomputed. The lines
# are expanded from the flag's members, never sought.
DELETE_FLAGS = """
MATCH (f:RiskFlag)
WHERE f.state IS NULL AND NOT EXISTS {
  MATCH (f)-[:FLAGS]->(m)<-[l:PAID]-()
  WHERE f.id IN l.frozen_by
}
DETACH DELETE f
"""

KEPT_FLAGS = "MATCH (f:RiskFlag) RETURN f.id AS id, f.state AS state"

# A kept open flag found again gets its new evidence; its id says its members are the same.
UPDATE_KEPT = """
UNWIND $flags AS flag
MATCH (f:RiskFlag {id: flag.id})
SET f += flag, f.refreshed_at = $at
REMOVE f.stale_since
"""

# A kept open flag not found any more freezes nothing new (cypher/settlement/payouts.cypher);
# what it froze stays frozen until an admin decides.
MARK_STALE = """
MATCH (f:RiskFlag)
WHERE f.state IS NULL AND f.stale_since IS NULL AND NOT f.id IN $ids
SET f.stale_since = $at
"""

CREATE_FLAGS = """
UNWIND $flags AS flag
CREATE (f:RiskFlag {id: flag.id, kind: flag.kind, members: flag.members, size: size(flag.members),
                    identifier_kinds: flag.identifier_kinds,
                    identifier_values: flag.identifier_values,
                    money_at_stake: flag.money_at_stake, tier_distance: flag.tier_distance,
                    sponsor_id: flag.sponsor_id, chain: flag.chain, refreshed_at: $at})
WITH f, flag
UNWIND flag.members AS member_id
MATCH (m:Member {id: member_id}) USING INDEX SEEK m:Member(id)
CREATE (f)-[:FLAGS]->(m)
"""


def _stored(flag: RiskFlag) -> dict[str, Any]:
    return {
        "id": flag.id,
        "kind": flag.kind,
        "members": list(flag.members),
        "identifier_kinds": [i.kind for i in flag.identifiers],
        "identifier_values": [i.value for i in flag.identifiers],
        "money_at_stake": flag.money_at_stake,
        "tier_distance": flag.tier_distance,
        "sponsor_id": flag.sponsor_id,
        "chain": list(flag.chain),
    }


def refresh(
    driver: neo4j.Driver, database: str = "neo4j", *, now: datetime | None = None
) -> RefreshReport:
    """Recomputes every flag and replaces the stored ones in one transaction (a full
    recompute: readers see the old flags or the new ones, never a mix). Flags an admin decided
    or that froze payouts are kept (graph/riskdecisions.py); a kept open flag not found again
    is marked ``stale_since`` and freezes nothing new."""
    started = time.perf_counter()
    flags = detect(driver, database)
    at = now or datetime.now(UTC)

    def work(tx: neo4j.ManagedTransaction) -> None:
        tx.run(DELETE_FLAGS).consume()
        kept = {r["id"]: r["state"] for r in tx.run(KEPT_FLAGS)}
        fresh = [_stored(f) for f in flags if f.id not in kept]
        tx.run(CREATE_FLAGS, flags=fresh, at=at).consume()
        found = [_stored(f) for f in flags if f.id in kept and kept[f.id] is None]
        tx.run(UPDATE_KEPT, flags=found, at=at).consume()
        tx.run(MARK_STALE, ids=[f.id for f in flags], at=at).consume()

    with driver.session(database=database) as session:
        session.execute_write(work)
    by_kind = {kind: sum(1 for f in flags if f.kind == kind) for kind in KINDS}
    return RefreshReport(len(flags), by_kind, time.perf_counter() - started)


def flag_from(node: Any) -> RiskFlag:
    """A stored (:RiskFlag) as its record."""
    return RiskFlag(
        id=node["id"],
        kind=node["kind"],
        members=tuple(node["members"]),
        identifiers=tuple(
            Identifier(k, v)
            for k, v in zip(node["identifier_kinds"], node["identifier_values"], strict=True)
        ),
        money_at_stake=int(node["money_at_stake"]),
        tier_distance=node.get("tier_distance"),
        sponsor_id=node.get("sponsor_id"),
        chain=tuple(node.get("chain") or ()),
        state=node.get("state") or OPEN,
    )


MEMBER_FLAGS = """
MATCH (m:Member {id: $id}) USING INDEX SEEK m:Member(id)
MATCH (m)<-[:FLAGS]-(f)
RETURN properties(f) AS flag
ORDER BY f.kind, f.id
"""

CLUSTERS = """
MATCH (f:RiskFlag)
WHERE ($kind IS NULL OR f.kind = $kind) AND f.size >= $min_size
WITH f ORDER BY f.id
WITH collect(f) AS flags
RETURN size(flags) AS total,
       [f IN flags WHERE $after IS NULL OR f.id > $after][..$limit] AS page
"""


async def member_flags(
    driver: neo4j.AsyncDriver,
    member_id: str,
    *,
    timeout: float | None = None,
    database: str = "neo4j",
) -> list[RiskFlag]:
    """The stored flags naming a member (as of the last refresh), by kind and id."""

    async def work(tx: neo4j.AsyncManagedTransaction) -> list[RiskFlag]:
        found = await records(tx, MEMBER_FLAGS, id=member_id)
        return [flag_from(r["flag"]) for r in found]

    return await read(driver, work, timeout=timeout, database=database)


async def clusters(
    driver: neo4j.AsyncDriver,
    *,
    kind: str | None,
    min_size: int,
    first: int,
    after: str | None,
    timeout: float | None = None,
    database: str = "neo4j",
) -> FlagPage:
    """A page of the stored flags by id: of ``kind`` (None: every kind), of at least
    ``min_size`` members, the first ``first`` after the flag id ``after``."""

    async def work(tx: neo4j.AsyncManagedTransaction) -> FlagPage:
        found = await records(
            tx, CLUSTERS, kind=kind, min_size=min_size, after=after, limit=first + 1
        )
        page = [flag_from(dict(n)) for n in found[0]["page"]]
        return FlagPage(tuple(page[:first]), len(page) > first, int(found[0]["total"]))

    return await read(driver, work, timeout=timeout, database=database)


@dataclass(frozen=True)
class ClusterMember:
    """A flagged member as the dashboard draws it: its sponsor, and which of the flag's shared
    identifiers it uses (its USES edges; its other identifiers are no evidence)."""

    id: str
    sponsor_id: str | None
    uses: tuple[Identifier, ...]


CLUSTER_MEMBERS = """
UNWIND $ids AS id
MATCH (m:Member {id: id}) USING INDEX SEEK m:Member(id)
RETURN m.id AS id, [(m)-[:SPONSORED_BY]->(s) | s.id][0] AS sponsor_id,
       [(m)-[:USES]->(i) | [i.kind, i.value]] AS uses
ORDER BY id
"""


async def cluster_members(
    driver: neo4j.AsyncDriver,
    members: Sequence[str],
    identifiers: Iterable[Identifier],
    *,
    timeout: float | None = None,
    database: str = "neo4j",
) -> list[ClusterMember]:
    """The members (by id) with their sponsors and which of ``identifiers`` each uses."""
    wanted = set(identifiers)

    async def work(tx: neo4j.AsyncManagedTransaction) -> list[ClusterMember]:
        found = await records(tx, CLUSTER_MEMBERS, ids=list(members))
        return [
            ClusterMember(
                id=r["id"],
                sponsor_id=r["sponsor_id"],
                uses=tuple(sorted(i for k, v in r["uses"] if (i := Identifier(k, v)) in wanted)),
            )
            for r in found
        ]

    return await read(driver, work, timeout=timeout, database=database)
