"""``downline db reset``: empties the graph except its audit trail, and audits itself.

The audit trail is append-only (graph/audit.py), so a reset deletes every node and relationship
but the ``:AuditRecord`` nodes (which have no relationships) and then records ``db.reset``. The
test fixture's ``graph.db.clear`` still deletes everything, for test isolation; no API or CLI path
calls it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import neo4j

from graph import audit

# Relationships go first so that no batch has to detach a member with thousands of orders, which
# would blow Neo4j's per-transaction memory limit on a big network (as graph.db.clear does).
DROP_RELATIONSHIPS = "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 50000 ROWS"
DROP_NODES = """
MATCH (n) WHERE NOT n:AuditRecord
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 50000 ROWS
"""


def reset_graph(
    driver: neo4j.Driver,
    *,
    actor: str = audit.SYSTEM,
    now: datetime | None = None,
    database: str = "neo4j",
) -> int:
    """Deletes everything but the audit trail (constraints and indexes stay); returns the number
    of nodes deleted. Batched, so it cannot be one transaction with its record: the record is
    written after the deletion, and a reset that failed half-way is simply run again."""
    with driver.session(database=database) as session:
        session.run(DROP_RELATIONSHIPS).consume()
        summary = session.run(neo4j.Query(DROP_NODES)).consume()
        deleted = int(summary.counters.nodes_deleted)
        entry = audit.AuditEntry(
            actor=actor,
            action="db.reset",
            target=database,
            at=now or datetime.now(UTC),
            after={"nodes_deleted": deleted},
        )
        session.execute_write(audit.record, entry)
    return deleted
