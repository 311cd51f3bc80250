"""Settlement runs: the lock, the run record, and the four Cypher files that do the work.

Exactly once comes from the database, not from this process: the run lock is a uniquely
constrained node, every order is marked settled in the same transaction that writes its payouts,
and every payout is merged on a unique key. A run killed at any point leaves whole batches
behind; the next run takes over the dead run's lock and finishes the job.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import neo4j
from neo4j.exceptions import ConstraintError

from contract.money import require_offset
from contract.settings import Settings
from graph import statistics
from graph.cypherfiles import CYPHER, run_file
from graph.errors import BadInput, Conflict

SETTLEMENT_DIR = CYPHER / "settlement"
STEPS = ("payouts", "reversals")
DEFAULT_BATCH = Settings().settle_batch
DEFAULT_CONCURRENCY = Settings().settle_concurrency
HEARTBEAT_S = 5.0
STALE_AFTER = timedelta(seconds=60)
HOST = socket.gethostname()

_active: set[str] = set()
"""Runs this process is executing now; a lock naming this pid but none of these is stale."""


class SettlementRefused(BadInput):
    """Settlement cannot start (no plan, a cutoff before an earlier run's); nothing written."""


class SettlementBusy(Conflict):
    """Another run holds the lock."""


@dataclass(frozen=True)
class RunLock:
    run_id: str
    started_at: datetime
    heartbeat: datetime
    holder_host: str | None
    holder_pid: int | None


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


READ_LOCK = """
MATCH (l:SettlementLock {id: 'settlement'})
RETURN l.run_id AS run_id, l.started_at AS started_at, l.heartbeat AS heartbeat,
       l.holder_host AS holder_host, l.holder_pid AS holder_pid
"""

CLAIM_LOCK = """
MATCH (l:SettlementLock {id: 'settlement', run_id: $run_id})
SET l.holder_host = $host, l.holder_pid = $pid, l.heartbeat = datetime()
"""

HEARTBEAT = """
MATCH (l:SettlementLock {id: 'settlement', run_id: $run_id})
SET l.heartbeat = datetime()
"""

LAST_CUTOFF = """
MATCH (r:SettlementRun) WHERE r.status = 'finished'
RETURN max(r.cutoff) AS cutoff
"""

# The same selection as payouts.cypher and reversals.cypher, counted and read only, so that a
# run with nothing to do writes nothing at all (not even its run record).
PENDING = """
CALL () {
  MATCH (plan:Plan)
  WITH plan ORDER BY plan.effective_from
  WITH collect(plan) AS plans
  UNWIND range(0, size(plans) - 1) AS i
  WITH plans[i] AS plan, plans[i + 1].effective_from AS until,
       $cutoff - duration({days: plans[i].hold_days}) AS latest
  MATCH (o:Order) USING INDEX o:Order(unsettled_since)
  WHERE o.unsettled_since >= plan.effective_from AND o.unsettled_since <= latest
    AND (until IS NULL OR o.unsettled_since < until)
    AND o.settled_run IS NULL
    AND NOT coalesce(o.refunded_at <= $cutoff, false)
  RETURN count(o) AS settle
}
CALL () {
  MATCH (o:Order) USING INDEX o:Order(refunded_at)
  WHERE o.refunded_at <= $cutoff AND o.settled_run IS NOT NULL AND o.reversed_run IS NULL
  RETURN count(o) AS reverse
}
RETURN settle + reverse AS pending
"""

READ_RUN = """
MATCH (r:SettlementRun {id: $run_id})
RETURN r {.*} AS run,
       [(r)-[:HAS_TOTAL]->(t) | t {.tier, .kind, .paid, .payouts, .reversed, .reversals}] AS totals
"""

COUNT_PLANS = "MATCH (p:Plan) RETURN count(p) AS plans"


def new_run_id(cutoff: datetime) -> str:
    return f"run-{cutoff.astimezone(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_lock(driver: neo4j.Driver, *, database: str = "neo4j") -> RunLock | None:
    records, _, _ = driver.execute_query(READ_LOCK, database_=database)
    if not records:
        return None
    r = records[0]
    return RunLock(
        run_id=r["run_id"],
        started_at=r["started_at"].to_native(),
        heartbeat=r["heartbeat"].to_native(),
        holder_host=r["holder_host"],
        holder_pid=r["holder_pid"],
    )


def lock_is_stale(lock: RunLock, now: datetime) -> bool:
    """A lock is stale when its holder process is gone: on this host we can ask the kernel;
    from elsewhere we trust the heartbeat. A lock taken by cypher-shell (no holder) never is."""
    if lock.holder_pid is None:
        return False
    if lock.holder_host == HOST:
        if lock.holder_pid == os.getpid():
            return lock.run_id not in _active
        return not _pid_alive(lock.holder_pid)
    return now - lock.heartbeat > STALE_AFTER


def release_lock(driver: neo4j.Driver, run_id: str, *, database: str = "neo4j") -> None:
    """Releases a dead run's lock, marks the run interrupted (cypher/settlement/unlock.cypher)."""
    run_file(driver, SETTLEMENT_DIR / "unlock.cypher", {"run_id": run_id}, database=database)


def _busy_message(lock: RunLock) -> str:
    holder = (
        f"process {lock.holder_pid} on {lock.holder_host}"
        if lock.holder_pid is not None
        else "a client that did not say who it is (cypher-shell?)"
    )
    return (
        f"settlement run {lock.run_id} holds the lock (started {lock.started_at.isoformat()},"
        f" last heartbeat {lock.heartbeat.isoformat()}, {holder}); wait for it to finish. If it"
        f" is surely dead, run 'downline settle --force ...' or cypher/settlement/unlock.cypher"
        f" with run_id {lock.run_id}"
    )


def pending_orders(driver: neo4j.Driver, cutoff: datetime, *, database: str = "neo4j") -> int:
    records, _, _ = driver.execute_query(
        PENDING, cutoff=cutoff, database_=database, routing_=neo4j.RoutingControl.READ
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


class _Heartbeat(threading.Thread):
    """Keeps the lock's heartbeat fresh so other hosts can tell a live run from a dead one."""

    def __init__(self, driver: neo4j.Driver, run_id: str, database: str) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.driver, self.run_id, self.database = driver, run_id, database
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(HEARTBEAT_S):
            try:
                self.driver.execute_query(HEARTBEAT, run_id=self.run_id, database_=self.database)
            except Exception:
                continue


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
) -> SettleOutcome:
    """Settles every order settleable at ``cutoff`` and reverses orders refunded since settling.

    ``batch`` orders per transaction, ``parallel`` transactions at once (Settings.settle_batch
    and settle_concurrency; the same defaults here). Raises SettlementRefused (no plan; a cutoff
    before the last finished run's) or SettlementBusy (a live run holds the lock), writing
    nothing.
    The indexes are resampled before the run's statements are planned and after it wrote
    (graph/statistics.py), unless ``resample`` is False.
    """
    require_offset(cutoff)
    say = progress or (lambda _: None)
    records, _, _ = driver.execute_query(COUNT_PLANS, database_=database)
    if records[0]["plans"] == 0:
        raise SettlementRefused(
            "no compensation plan is loaded, so nothing can settle: load one first with"
            " 'downline plan load plans/default.toml'"
        )
    records, _, _ = driver.execute_query(LAST_CUTOFF, database_=database)
    last = records[0]["cutoff"]
    if last is not None and cutoff < last.to_native():
        raise SettlementRefused(
            f"cutoff {cutoff.isoformat()} is before {last.to_native().isoformat()}, the cutoff of"
            " a finished run: settlement only moves forward"
        )
    taken_over: str | None = None
    lock = read_lock(driver, database=database)
    if lock is not None:
        if not (force or lock_is_stale(lock, datetime.now(UTC))):
            raise SettlementBusy(_busy_message(lock))
        say(f"taking over the lock of dead run {lock.run_id}")
        release_lock(driver, lock.run_id, database=database)
        taken_over = lock.run_id
    if resample:
        statistics.resample(driver, database=database)
    pending = pending_orders(driver, cutoff, database=database)
    if pending == 0:
        return SettleOutcome(run=None, taken_over=taken_over, pending_orders=0)
    run_id = new_run_id(cutoff)
    params = {
        "cutoff": cutoff.isoformat(),
        "run_id": run_id,
        "batch": batch or DEFAULT_BATCH,
        "concurrency": parallel or DEFAULT_CONCURRENCY,
    }
    try:
        run_file(driver, SETTLEMENT_DIR / "begin.cypher", params, database=database)
    except ConstraintError as exc:
        current = read_lock(driver, database=database)
        raise SettlementBusy(
            _busy_message(current) if current else f"another run took the lock: {exc.message}"
        ) from exc
    _active.add(run_id)
    beat = _Heartbeat(driver, run_id, database)
    try:
        driver.execute_query(
            CLAIM_LOCK, run_id=run_id, host=HOST, pid=os.getpid(), database_=database
        )
        beat.start()
        say(f"run {run_id}: settling {pending} order(s) up to {cutoff.isoformat()}")
        for step in STEPS:
            run_file(driver, SETTLEMENT_DIR / f"{step}.cypher", params, database=database)
            say(f"run {run_id}: {step} done")
        run_file(driver, SETTLEMENT_DIR / "finish.cypher", {"run_id": run_id}, database=database)
        if resample:
            statistics.resample(driver, database=database)
    finally:
        beat.done.set()
        _active.discard(run_id)
    return SettleOutcome(
        run=read_run(driver, run_id, database=database),
        taken_over=taken_over,
        pending_orders=pending,
    )


RECONCILE_FILE = CYPHER / "reconcile.cypher"


@dataclass(frozen=True)
class Violation:
    check: str
    order_id: str | None
    member_id: str | None
    detail: str


@dataclass(frozen=True)
class Reconciliation:
    orders_settled: int
    orders_reversed: int
    payouts: int
    reversals: int
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations


def reconcile(driver: neo4j.Driver, *, database: str = "neo4j") -> Reconciliation:
    """Runs cypher/reconcile.cypher: the counts it checked and every violation it found."""
    counted, found = run_file(driver, RECONCILE_FILE, {}, database=database)
    orders_settled, orders_reversed, payouts, reversals = counted.rows[0]
    return Reconciliation(
        orders_settled=orders_settled,
        orders_reversed=orders_reversed,
        payouts=payouts,
        reversals=reversals,
        violations=tuple(Violation(*row) for row in found.rows),
    )
