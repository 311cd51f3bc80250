// Settlement, step 3 of 4: reverses the payouts of orders refunded after they settled.
//
// Settled payouts are never edited: an order with refunded_at <= $cutoff that settled in an earlier
// run (found by o.unreversed_since, its refunded_at while it waits for its reversal;
// cypher/schema.cypher) gets, per payout line, a reversal line (o)-[:REVERSED {tier, amount}]->(m)
// with the negated amount to the same member, and the marker o.reversed_run (unreversed_since
// removed), all in one transaction per batch. The platform-retained part of the order is cancelled
// with it. A tier that a risk decision already reversed (graph/riskdecisions.py) is not reversed
// again. Safe to run again: reversed orders are marked, in the transaction that writes their
// reversals, after the order's lock (the SET) is taken. Batches run $concurrency at a time: each
// writes only its own orders and the lines hanging off them, and reads no member's relationships
// (only its orders'), so the concurrent inserts into members' chains that make payouts.cypher run
// serially cannot mislead them.
//
// Parameters: cutoff, run_id (the run that holds the lock), batch (orders per transaction),
// concurrency (transactions at once), e.g.
//   :param cutoff => '2026-11-30T00:00:00+08:00'
//   :param run_id => 'run-20261130-a1b2c3'
//   :param batch => 5000
//   :param concurrency => 2
// Output: none (counters only). The pieces between "// section NAME" and "// end NAME" are also
// run on their own, read only (the pending count, the settlement preview: graph/payrules.py).
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'cutoff => "2026-11-30T00:00:00+08:00"' -P 'run_id => "run-20261130-a1b2c3"' \
//        -P 'batch => 5000' -P 'concurrency => 2' -f cypher/settlement/reversals.cypher
//      after payouts.cypher (see begin.cypher for all four steps), or: downline settle --until ...

MATCH (:SettlementLock {id: 'settlement', run_id: $run_id})
// section refunded: the orders refunded by $cutoff that settled and are not reversed yet
MATCH (o:Order) USING INDEX o:Order(unreversed_since)
WHERE o.unreversed_since <= datetime($cutoff) AND o.settled_run IS NOT NULL
  AND o.reversed_run IS NULL
// end refunded
CALL (o) {
  SET o.reversed_run = $run_id
  REMOVE o.unreversed_since
  WITH o
  // section reversed: each payout line p of order o to its member m that no reversal negates yet
  MATCH (o)-[p:PAID]->(m)
  WHERE NOT EXISTS { (o)-[r:REVERSED]->() WHERE r.tier = p.tier }
  // end reversed
  CREATE (o)-[:REVERSED {tier: p.tier, amount: -p.amount}]->(m)
} IN $concurrency CONCURRENT TRANSACTIONS OF $batch ROWS;
