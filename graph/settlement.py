"""Settlement runs: the refusals, the run record, and the four Cypher files that do the work.

Exactly once comes from the database, not from this process: the run lock is a uniquely
constrained node (graph/runlock.py), and every order is marked settled in the same transaction
that writes its ledger lines, after that transaction took the order's lock and saw it unmarked.
A run killed at any point leaves whole batches behind; the next run takes over the dead run's
lock and finishes the job.
The heartbeat is graph/heartbeat.py, reconciliation graph/reconciliation.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import neo4j
from neo4j.exceptions import ConstraintError

from contract.money import require_offset
from contract.settings import Settings
from graph import audit, migrate, payrules, statistics
from graph.cypherfiles import parameters_of, run_file, split_statements
from graph.errors import BadInput
from graph.heartbeat import INTERVAL_S as HEARTBEAT_S
from graph.heartbeat import Heartbeat
from graph.reconciliation import Reconciliation, Violation, reconcile
from graph.runlock import (
    ACTIVE,
    HOST,
    STALE_AFTER,
    RunLock,
    SettlementBusy,
    busy_message,
    lock_is_stale,
    read_lock,
    release_lock,
    take_lock,
)

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_CONCURRENCY",
    "HEARTBEAT_S",
    "HOST",
    "PENDING",
    "STALE_AFTER",
    "Reconciliation",
    "RunLock",
    "RunTotal",
    "SettleOutcome",
    "SettlementBusy",
    "SettlementRefused",
    "SettlementRun",
    "Violation",
    "check_cutoff",
    "lock_is_stale",
    "pending_orders",
    "read_lock",
    "read_run",
    "reconcile",
    "release_lock",
    "settle",
]

SETTLEMENT_DIR = payrules.SETTLEMENT_DIR
STEPS = ("payouts", "reversals")
DEFAULT_BATCH = Settings().settle_batch
DEFAULT_CONCURRENCY = Settings().settle_concurrency


class SettlementRefused(BadInput):
    """Settlement cannot start (no plan, a cutoff before an earlier run's); nothing written."""


@dataclass(frozen=True)
class RunTotal:
    tier: int
    kind: str
    paid: int
    payouts: int
    reversed: int
    reversals: int


@dataclass(frozen=True)
class SettlementRun:
    id: str
    cutoff: datetime
    status: str
    started_at: datetime
    finished_at: datetime | None
    plans: tuple[str, ...]
    orders_settled: int
    orders_reversed: int
    payouts: int
    reversals: int
    paid: int
    reversed: int
    pool: int
    retained: int
    totals: tuple[RunTotal, ...]


@dataclass(frozen=True)
class SettleOutcome:
    """What ``settle`` did: ``run`` is None when there was nothing to settle (nothing written)."""

    run: SettlementRun | None
    taken_over: str | None
    pending_orders: int


# What a run may start from: a plan, and a cutoff no earlier than the last finished run's.
CUTOFF_CONTEXT = """
CALL () { MATCH (p:Plan) RETURN count(p) AS plans }
CALL () {
  MATCH (r:SettlementRun) WHERE r.status = 'finished'
  RETURN max(r.cutoff) AS last
}
RETURN plans, last
"""

# cypher/schema.cypher creates this index only after it marked every settled order awaiting its
# reversal, so a store that has it is one where reversals.cypher finds them all.
UNREVERSED_INDEX = (
    "SHOW INDEXES YIELD name WHERE name = 'order_unreversed_since' RETURN count(*) AS n"
)


# The pending count is built from payouts.cypher's and reversals.cypher's own selections
# (graph/payrules.py), so that a run with nothing to do writes nothing at all (not even its
# run record).
PENDING = payrules.PENDING

READ_RUN = """
MATCH (r:SettlementRun {id: $run_id})
RETURN r {.*} AS run,
       [(r)-[:HAS_TOTAL]->(t) | t {.tier, .kind, .paid, .payouts, .reversed, .reversals}] AS totals
"""


def new_run_id(cutoff: datetime) -> str:
    return f"run-{cutoff.astimezone(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def refusal(plans: int, last: datetime | None, cutoff: datetime) -> SettlementRefused | None:
    """Why a run (or its preview) at ``cutoff`` cannot start, given CUTOFF_CONTEXT's answer."""
    if plans == 0:
        return SettlementRefused(
            "no compensation plan is loaded, so nothing can settle: load one first with"
            " 'downline plan load plans/default.toml'"
        )
    if last is not None and cutoff < last:
        return SettlementRefused(
            f"cutoff {cutoff.isoformat()} is before {last.isoformat()}, the cutoff of"
            " a finished run: settlement only moves forward"
        )
    return None


def unmarked_refunds(indexes: int) -> SettlementRefused | None:
    """Given UNREVERSED_INDEX's answer: a store whose schema predates o.unreversed_since would
    settle (or preview) without its reversals."""
    if indexes:
        return None
    return SettlementRefused(
        "this store's schema predates the reversal index (order_unreversed_since), so refunds"
        " of settled orders would not be found; run 'downline db migrate' first"
    )


def _context(record: neo4j.Record) -> tuple[int, datetime | None]:
    last = record["last"]
    return int(record["plans"]), None if last is None else last.to_native()


async def check_cutoff(session: neo4j.AsyncSession, cutoff: datetime) -> None:
    """Raises what ``settle`` would raise before starting at ``cutoff`` (for the preview)."""
    result = await session.run(CUTOFF_CONTEXT)
    refused = refusal(*_context(await result.single(strict=True)), cutoff)
    if refused is None:
        indexes = await session.run(UNREVERSED_INDEX)
        refused = unmarked_refunds((await indexes.single(strict=True))["n"])
    if refused is not None:
        raise refused


def pending_orders(driver: neo4j.Driver, cutoff: datetime, *, database: str = "neo4j") -> int:
    records, _, _ = driver.execute_query(
        PENDING, cutoff=cutoff.isoformat(), database_=database, routing_=neo4j.RoutingControl.READ
    )
    return int(records[0]["pending"])


def read_run(driver: neo4j.Driver, run_id: str, *, database: str = "neo4j") -> SettlementRun:
    records, _, _ = driver.execute_query(READ_RUN, run_id=run_id, database_=database)
    if not records:
        raise BadInput(f"there is no settlement run {run_id}")
    r, totals = records[0]["run"], records[0]["totals"]

    def native(value: object) -> datetime | None:
        return None if value is None else value.to_native()  # type: ignore[attr-defined]

    return SettlementRun(
        id=r["id"],
        cutoff=r["cutoff"].to_native(),
        status=r["status"],
        started_at=r["started_at"].to_native(),
        finished_at=native(r.get("finished_at")),
        plans=tuple(sorted(r.get("plans") or ())),
        orders_settled=r.get("orders_settled", 0),
        orders_reversed=r.get("orders_reversed", 0),
        payouts=r.get("payouts", 0),
        reversals=r.get("reversals", 0),
        paid=r.get("paid", 0),
        reversed=r.get("reversed", 0),
        pool=r.get("pool", 0),
        retained=r.get("retained", 0),
        totals=tuple(
            sorted(
                (RunTotal(**t) for t in totals),
                key=lambda t: (t.tier, t.kind != "RETAIL"),
            )
        ),
    )


def _old_ledger(driver: neo4j.Driver, database: str) -> SettlementRefused | None:
    """A store still holding the old ledger's lines would settle beside them: migrate first."""
    left = migrate.unmigrated(driver, database)
    if left == 0:
        return None
    return SettlementRefused(
        f"this store still holds {left} payout line(s) of the old ledger (:Payout nodes);"
        " run 'downline db migrate' first"
    )


def _take_lock(
    driver: neo4j.Driver, *, force: bool, say: Callable[[str], None], database: str
) -> str | None:
    """Releases a dead (or, with ``force``, any) run's lock; the run taken over, if any."""
    lock = read_lock(driver, database=database)
    if lock is None:
        return None
    if not (force or lock_is_stale(lock, datetime.now(UTC))):
        raise SettlementBusy(busy_message(lock))
    say(f"taking over the lock of dead run {lock.run_id}")
    release_lock(driver, lock.run_id, database=database)
    return lock.run_id


def _begin(driver: neo4j.Driver, params: dict[str, object], database: str) -> None:
    """begin.cypher (one statement) and the claim of its lock, in one transaction."""
    (statement,) = split_statements((SETTLEMENT_DIR / "begin.cypher").read_text(encoding="utf-8"))
    used = {k: v for k, v in params.items() if k in parameters_of(statement)}
    try:
        take_lock(driver, statement, used, database=database)
    except ConstraintError as exc:
        current = read_lock(driver, database=database)
        raise SettlementBusy(
            busy_message(current) if current else f"another run took the lock: {exc.message}"
        ) from exc


def settle(
    driver: neo4j.Driver,
    *,
    cutoff: datetime,
    database: str = "neo4j",
    batch: int | None = None,
    parallel: int | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    resample: bool = True,
    actor: str = audit.SYSTEM,
) -> SettleOutcome:
    """Settles every order settleable at ``cutoff`` and reverses orders refunded since settling.

    ``batch`` orders per transaction, ``parallel`` transactions at once (Settings.settle_batch
    and settle_concurrency; the same defaults here). Raises SettlementRefused (no plan; a cutoff
    before the last finished run's) or SettlementBusy (a live run holds the lock), writing
    nothing. A run that wrote is audited as ``settle`` by ``actor``, with the run record's
    figures, right after finish.cypher (a file cypher-shell runs too, so it takes no actor).
    The indexes are resampled before the run's statements are planned and after it wrote
    (graph/statistics.py), unless ``resample`` is False.
    """
    require_offset(cutoff)
    say = progress or (lambda _: None)
    records, _, _ = driver.execute_query(CUTOFF_CONTEXT, database_=database)
    refused = (
        refusal(*_context(records[0]), cutoff)
        or _old_ledger(driver, database)
        or unmarked_refunds(
            driver.execute_query(UNREVERSED_INDEX, database_=database).records[0]["n"]
        )
    )
    if refused is not None:
        raise refused
    taken_over = _take_lock(driver, force=force, say=say, database=database)
    if resample:
        statistics.resample(driver, database=database)
    pending = pending_orders(driver, cutoff, database=database)
    if pending == 0:
        return SettleOutcome(run=None, taken_over=taken_over, pending_orders=0)
    run_id = new_run_id(cutoff)
    params: dict[str, object] = {
        "cutoff": cutoff.isoformat(),
        "run_id": run_id,
        "batch": batch or DEFAULT_BATCH,
        "concurrency": parallel or DEFAULT_CONCURRENCY,
    }
    _begin(driver, params, database)
    ACTIVE.add(run_id)
    beat = Heartbeat(driver, run_id, database)
    try:
        beat.start()
        say(f"run {run_id}: settling {pending} order(s) up to {cutoff.isoformat()}")
        for step in STEPS:
            run_file(driver, SETTLEMENT_DIR / f"{step}.cypher", params, database=database)
            say(f"run {run_id}: {step} done")
        run_file(driver, SETTLEMENT_DIR / "finish.cypher", {"run_id": run_id}, database=database)
        if resample:
            statistics.resample(driver, database=database)
    finally:
        beat.stop()
        ACTIVE.discard(run_id)
    run = read_run(driver, run_id, database=database)
    _audit(driver, run, actor, taken_over, database)
    return SettleOutcome(run=run, taken_over=taken_over, pending_orders=pending)


def _audit(
    driver: neo4j.Driver, run: SettlementRun, actor: str, taken_over: str | None, database: str
) -> None:
    after = {
        "cutoff": run.cutoff.isoformat(),
        "status": run.status,
        "orders_settled": run.orders_settled,
        "orders_reversed": run.orders_reversed,
        "paid": run.paid,
        "reversed": run.reversed,
        "retained": run.retained,
        "taken_over": taken_over,
    }
    entry = audit.AuditEntry(
        actor=actor, action="settle", target=run.id, at=datetime.now(UTC), after=after
    )
    with driver.session(database=database) as session:
        session.execute_write(audit.record, entry)
