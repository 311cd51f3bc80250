// Settlement, step 3 of 4: reverses the payouts of orders refunded after they settled.
//
// Settled payouts are never edited: an order with refunded_at <= $cutoff that settled in an
// earlier run gets, per payout, a reversal (:Payout {key: '<order_id>|<tier>|R', reversal: true})
// with the negated amount, the same member, tier and kind, and the marker o.reversed_run, all in
// one transaction per batch. The platform-retained part of the order is cancelled with it.
// Safe to run again: reversed orders are marked, and reversal keys are unique. Batches run
// $concurrency at a time: each writes only its own orders and the reversals keyed by them.
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
MATCH (o:Order) USING INDEX o:Order(refunded_at)
WHERE o.refunded_at <= datetime($cutoff) AND o.settled_run IS NOT NULL AND o.reversed_run IS NULL
// end refunded
CALL (o) {
  SET o.reversed_run = $run_id
  WITH o
  // section reversed: each payout p of order o, which a reversal negates
  UNWIND [1, 2, 3] AS tier
  MATCH (p:Payout {key: o.id + '|' + toString(tier) + '|P'})
  // end reversed
  MERGE (r:Payout {key: o.id + '|' + toString(tier) + '|R'})
  ON CREATE SET r.order_id = p.order_id, r.member_id = p.member_id, r.tier = p.tier,
                r.kind = p.kind, r.amount = -p.amount, r.reversal = true, r.run_id = $run_id,
                r.paid_at = p.paid_at, r.reverses = p.key
} IN $concurrency CONCURRENT TRANSACTIONS OF $batch ROWS;
