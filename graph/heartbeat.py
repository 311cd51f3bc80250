"""The run lock's heartbeat: a thread that keeps it fresh so other hosts can tell a live run from
a dead one (graph/runlock.py).

A beat that fails is logged and retried at the next beat (Neo4j may be restarting); a beat that
finds the lock gone stops the thread, since no run holds it any more.
"""

from __future__ import annotations

import logging
import threading

import neo4j
from neo4j.exceptions import Neo4jError, ServiceUnavailable, SessionExpired

INTERVAL_S = 5.0

BEAT = """
MATCH (l:SettlementLock {id: 'settlement', run_id: $run_id})
SET l.heartbeat = datetime()
RETURN count(l) AS held
"""

log = logging.getLogger("downline.settlement")


class Heartbeat(threading.Thread):
    def __init__(
        self, driver: neo4j.Driver, run_id: str, database: str, interval: float = INTERVAL_S
    ) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.driver, self.run_id, self.database = driver, run_id, database
        self.interval = interval
        self.done = threading.Event()
        self.failures = 0
        """Beats that failed; the last error is logged each time."""

    def beat(self) -> bool:
        """One beat; False when the lock is no longer this run's."""
        records, _, _ = self.driver.execute_query(BEAT, run_id=self.run_id, database_=self.database)
        return bool(records[0]["held"])

    def run(self) -> None:
        while not self.done.wait(self.interval):
            try:
                if not self.beat():
                    log.warning("run %s: the lock is gone; heartbeat stopped", self.run_id)
                    return
            except (Neo4jError, ServiceUnavailable, SessionExpired, OSError) as exc:
                self.failures += 1
                log.warning("run %s: heartbeat failed (%s); retrying", self.run_id, exc)

    def stop(self) -> None:
        self.done.set()
