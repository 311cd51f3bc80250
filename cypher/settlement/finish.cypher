// Settlement, step 4 of 4: records the run's counts and totals, marks it finished, and releases
// the run lock.
//
// Totals are read back from what the run wrote (the lines of the orders it marked settled or
// reversed), so they are right even when payouts.cypher had to be run twice. One
// (:RunTotal {tier, kind, paid, payouts, reversed, reversals}) per tier 1-3 and kind, zeros
// included, hangs off the run by :HAS_TOTAL.
//
// Parameters: run_id (the run that holds the lock), e.g.
//   :param run_id => 'run-20261130-a1b2c3'
// Output: run_id, status, orders_settled, orders_reversed, payouts, reversals, paid, reversed,
//         pool, retained, plans (ids of the plans the settled orders fell under).
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'run_id => "run-20261130-a1b2c3"' -f cypher/settlement/finish.cypher
//      after reversals.cypher (see begin.cypher for all four steps), or: downline settle --until ...

MATCH (lock:SettlementLock {id: 'settlement', run_id: $run_id})
MATCH (run:SettlementRun {id: $run_id})
CALL (run) {
  OPTIONAL MATCH (o:Order {settled_run: $run_id})
  RETURN count(o) AS orders_settled, coalesce(sum(o.pool), 0) AS pool,
         coalesce(sum(o.retained), 0) AS retained, collect(DISTINCT o.plan_id) AS plans
}
CALL (run) {
  OPTIONAL MATCH (o:Order {reversed_run: $run_id})
  RETURN count(o) AS orders_reversed
}
CALL (run) {
  CALL () {
    MATCH (o:Order) USING INDEX SEEK o:Order(settled_run)
    WHERE o.settled_run = $run_id
    MATCH (o)-[p:PAID]->()
    RETURN o.kind AS kind, p.tier AS tier, p.amount AS amount, false AS reversal
    UNION ALL
    MATCH (o:Order) USING INDEX SEEK o:Order(reversed_run)
    WHERE o.reversed_run = $run_id
    MATCH (o)-[p:REVERSED]->()
    WHERE p.decision_id IS NULL
    RETURN o.kind AS kind, p.tier AS tier, p.amount AS amount, true AS reversal
  }
  WITH tier, kind,
       sum(CASE WHEN reversal THEN 0 ELSE amount END) AS paid,
       count(CASE WHEN reversal THEN NULL ELSE 1 END) AS payouts,
       sum(CASE WHEN reversal THEN amount ELSE 0 END) AS reversed,
       count(CASE WHEN reversal THEN 1 END) AS reversals
  RETURN collect({tier: tier, kind: kind, paid: paid, payouts: payouts, reversed: reversed,
                  reversals: reversals}) AS found
}
CALL (run, found) {
  UNWIND [1, 2, 3] AS tier
  UNWIND ['RETAIL', 'GIFT_PACKAGE'] AS kind
  WITH tier, kind, [f IN found WHERE f.tier = tier AND f.kind = kind][0] AS f
  MERGE (run)-[:HAS_TOTAL]->(t:RunTotal {run_id: $run_id, tier: tier, kind: kind})
  SET t.paid = coalesce(f.paid, 0), t.payouts = coalesce(f.payouts, 0),
      t.reversed = coalesce(f.reversed, 0), t.reversals = coalesce(f.reversals, 0)
  RETURN sum(t.payouts) AS payouts, sum(t.reversals) AS reversals, sum(t.paid) AS paid,
         sum(t.reversed) AS reversed
}
SET run.status = 'finished', run.finished_at = datetime(), run.orders_settled = orders_settled,
    run.orders_reversed = orders_reversed, run.payouts = payouts, run.reversals = reversals,
    run.paid = paid, run.reversed = reversed, run.pool = pool, run.retained = retained,
    run.plans = plans
DELETE lock
RETURN run.id AS run_id, run.status AS status, orders_settled, orders_reversed, payouts,
       reversals, paid, reversed, pool, retained, plans;
