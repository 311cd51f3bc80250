"""The settlement rules as pieces of the settlement files, for the reads that must apply them
exactly as a run does: the pending count before a run and the settlement preview.

``cypher/settlement/payouts.cypher`` and ``reversals.cypher`` mark their pieces with
``// section NAME`` ... ``// end NAME``; the files stay whole statements that cypher-shell runs,
and these reads are built from the same text, so a rule is written once.

- ``links`` (payouts.cypher): binds nothing before; writes HOLDS_PACKAGE for the packages
  bought by ``$cutoff`` not linked yet (a preview runs it in a transaction it rolls back).
- ``pending`` (payouts.cypher): yields ``o, plan``: the orders that settle at ``$cutoff``.
- ``shares`` (payouts.cypher): needs ``o, plan`` (a Plan node or a map with its fields);
  yields ``o, plan, pool, tier, m, share, eligible``, one row per tier the plan pays.
- ``refunded`` (reversals.cypher): yields ``o``: settled orders a run at ``$cutoff`` reverses.
- ``reversed`` (reversals.cypher): needs ``o``; yields ``p, m``: each payout line
  (``(o)-[p:PAID]->(m)``) that no reversal negates yet.
"""

from __future__ import annotations

from graph.cypherfiles import CYPHER, section

SETTLEMENT_DIR = CYPHER / "settlement"
PAYOUTS_FILE = SETTLEMENT_DIR / "payouts.cypher"
REVERSALS_FILE = SETTLEMENT_DIR / "reversals.cypher"


LINKS = section(PAYOUTS_FILE, "links")
PENDING_ORDERS = section(PAYOUTS_FILE, "pending")
SHARES = section(PAYOUTS_FILE, "shares")
REFUNDED_ORDERS = section(REVERSALS_FILE, "refunded")
REVERSED_PAYOUTS = section(REVERSALS_FILE, "reversed")

PENDING = f"""
CALL () {{
{PENDING_ORDERS}
  RETURN count(o) AS settle
}}
CALL () {{
{REFUNDED_ORDERS}
  RETURN count(o) AS reverse
}}
RETURN settle + reverse AS pending
"""
"""How many orders a run at ``$cutoff`` (ISO 8601 text) would settle or reverse."""
