// Settlement, step 2 of 4: turns every settleable order into payouts and platform retained.
//
// The orders are found by o.unsettled_since (their paid_at, kept only while they may still
// settle; cypher/schema.cypher), so a run costs what it settles, not what the store holds.
// An order settles when the plan in effect at its paid_at (the plan with the latest
// effective_from <= paid_at) has held it long enough (paid_at + hold_days <= $cutoff), it has
// not settled yet, and it has no refunded_at <= $cutoff (refunded before settling: never pays).
// Per order, in ONE transaction: one ledger line (o)-[:PAID {tier, amount}]->(m) per eligible
// tier (docs/model.md, "The ledger"), and the settled marker o.settled_run with o.pool,
// o.retained, o.plan_id, and o.unreversed_since = o.refunded_at when a refund after $cutoff is
// already recorded (reversals.cypher finds it there once a cutoff passes it). A batch that
// committed has marked its orders, a batch that did not left nothing; an order is written only
// after its lock is taken and it is seen unmarked, so even an overlapping run cannot pay twice;
// so running this again finishes the job.
// Batches run one at a time. A batch writes its orders' lines into the members' relationship
// chains, and it reads members' chains (SPONSORED_BY, HOLDS_PACKAGE, FLAGS) to find who is paid:
// on Neo4j 5.26's record format, a traversal of a node whose chain another transaction is
// inserting into may miss or repeat relationships (neo4j/neo4j#13741, fixed in 2026.03), and two
// concurrent batches did (the 100k bench, 2026-12-03: one run lost 31 of 1,773,934 payouts,
// another 61, 8 orders their seller's agency). One batch at a time reads only
// committed chains and its own writes. ($concurrency is still taken, for the reversals.)
//
// Money (domain.md): integer fen, bp, every share rounded down.
// - RETAIL: tier 1 is the seller, tiers 2 and 3 the seller's sponsor and the next one up;
//   commission = amount * commission_bp / 10000, tier k>1 = commission * override_bp / 10000.
//   The order has a pool (the sum of its tiers' shares) only when its seller is an agent at
//   paid_at. With self_purchase off, a seller who is the buyer makes every tier retained.
// - GIFT_PACKAGE: tier 1 is the buyer's sponsor; pool = amount * (10000 - cost_bp) / 10000,
//   tier k = pool * shares_bp[k] / 10000.
// - A recipient must be an agent at paid_at (a GIFT_PACKAGE order of theirs with paid_at <= it and
//   no refunded_at <= it) and not suspended. An ineligible or missing tier is platform retained,
//   never passed up (no compression). Tiers the plan does not pay are not part of its pool.
//
// Parameters: cutoff, run_id (the run that holds the lock), batch (orders per transaction),
// concurrency (unused here: the same parameters serve all four steps), e.g.
//   :param cutoff => '2026-11-30T00:00:00+08:00'
//   :param run_id => 'run-20261130-a1b2c3'
//   :param batch => 5000
//   :param concurrency => 2
// Output: none (counters only). Three statements: the HOLDS_PACKAGE links, the payouts, and the
// orders that a refund means will never settle.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'cutoff => "2026-11-30T00:00:00+08:00"' -P 'run_id => "run-20261130-a1b2c3"' \
//        -P 'batch => 5000' -P 'concurrency => 2' -f cypher/settlement/payouts.cypher
//      after begin.cypher (see its header for all four steps), or: downline settle --until ...

// Agency is checked for up to four members per order. Members who buy a lot have hundreds of
// BOUGHT relationships, so the first statement links every buyer to its gift-package orders
// with HOLDS_PACKAGE (a relationship type only they have); the check then reads one or two
// relationships. Only packages not linked yet are linked (a run links what was bought since the
// last one; a package not linked yet has not settled, so it still has unsettled_since, and the
// run removes that only after this statement), and MERGE keeps it idempotent; the refund time stays on the order, so a refund is
// seen as soon as it is recorded. Serial: two packages of one member would lock that member.
//
// The pieces between "// section NAME" and "// end NAME" are also run on their own, read only:
// the pending count before a run and the settlement preview (graph/payrules.py), so the rules
// are written here once.
//
// Plans (docs/model.md, "Plans"): each statement names its anchor index with USING INDEX, and
// every per-order lookup is an expansion from a bound node. The nodes reached that way carry no
// label in the pattern (g, m), so the planner cannot turn a per-order check into an index seek,
// which is what it did on a store whose statistics were sampled while it was empty.
MATCH (:SettlementLock {id: 'settlement', run_id: $run_id})
// section links: the gift packages bought by $cutoff and not linked yet, linked to their buyer
MATCH (g:Order) USING INDEX g:Order(unsettled_since)
WHERE g.unsettled_since <= datetime($cutoff) AND g.kind = 'GIFT_PACKAGE'
  AND NOT EXISTS { ()-[:HOLDS_PACKAGE]->(g) }
CALL (g) {
  MATCH (m)-[:BOUGHT]->(g)
  MERGE (m)-[:HOLDS_PACKAGE]->(g)
}
// end links
IN TRANSACTIONS OF 10000 ROWS;

MATCH (:SettlementLock {id: 'settlement', run_id: $run_id})
// section pending: the orders that settle at $cutoff, each with the plan in effect at its paid_at
MATCH (plan:Plan)
WITH plan ORDER BY plan.effective_from
WITH collect(plan) AS plans
UNWIND range(0, size(plans) - 1) AS i
WITH plans[i] AS plan, plans[i + 1].effective_from AS until,
     datetime($cutoff) - duration({days: plans[i].hold_days}) AS latest
MATCH (o:Order) USING INDEX o:Order(unsettled_since)
WHERE o.unsettled_since >= plan.effective_from AND o.unsettled_since <= latest
  AND (until IS NULL OR o.unsettled_since < until)
  AND o.settled_run IS NULL
  AND NOT coalesce(o.refunded_at <= datetime($cutoff), false)
// end pending
CALL (o, plan) {
  // The order's write lock first, then the check: a batch of another run that settled it
  // meanwhile has committed by the time the lock is granted, and this one then writes nothing.
  REMOVE o.unsettled_since
  WITH o, plan
  WHERE o.settled_run IS NULL
  // section shares: per order o under plan: pool, and per tier its member m, share, eligible
  OPTIONAL MATCH (o)<-[:SOLD]-(seller:Member)
  OPTIONAL MATCH (o)<-[:BOUGHT]-(buyer:Member)
  OPTIONAL MATCH (buyer)-[:SPONSORED_BY]->(sponsor:Member)
  WITH o, plan, seller, buyer, o.kind = 'GIFT_PACKAGE' AS gift,
       CASE o.kind WHEN 'GIFT_PACKAGE' THEN sponsor ELSE seller END AS first
  OPTIONAL MATCH (first)-[:SPONSORED_BY]->(second:Member)
  OPTIONAL MATCH (second)-[:SPONSORED_BY]->(third:Member)
  WITH o, plan, gift, [first, second, third] AS chain,
       CASE WHEN gift THEN o.amount * (10000 - plan.gift_cost_bp) / 10000
            ELSE o.amount * o.commission_bp / 10000 END AS base,
       gift OR (seller IS NOT NULL AND EXISTS {
         (seller)-[:HOLDS_PACKAGE]->(g)
         WHERE g.paid_at <= o.paid_at AND NOT coalesce(g.refunded_at <= o.paid_at, false)
       }) AS earns,
       gift OR plan.self_purchase OR coalesce(seller <> buyer, true) AS allowed
  WITH o, plan, chain, gift, base, earns, earns AND allowed AS pays,
       CASE WHEN gift THEN [s IN plan.gift_shares_bp | base * s / 10000]
            ELSE [base] + [s IN plan.retail_override_bp | base * s / 10000] END AS shares
  WITH o, plan, chain, pays, shares,
       CASE WHEN gift THEN base
            WHEN earns THEN reduce(total = 0, s IN shares | total + s)
            ELSE 0 END AS pool
  UNWIND range(0, size(shares) - 1) AS i
  WITH o, plan, pool, i + 1 AS tier, chain[i] AS m, CASE WHEN pays THEN shares[i] ELSE 0 END AS share
  WITH o, plan, pool, tier, m, share,
       share > 0 AND m IS NOT NULL AND NOT coalesce(m.suspended, false) AND EXISTS {
         (m)-[:HOLDS_PACKAGE]->(g)
         WHERE g.paid_at <= o.paid_at AND NOT coalesce(g.refunded_at <= o.paid_at, false)
       } AS eligible
  // end shares
  // With the plan's freeze_flagged, a payout to a member an open risk flag names is frozen:
  // written as ever, with the ids of those flags set once, at creation (graph/riskdecisions.py).
  WITH o, plan, pool, tier, m, share, eligible,
       CASE WHEN eligible AND coalesce(plan.freeze_flagged, false)
            THEN [(m)<-[:FLAGS]-(f) WHERE f.state IS NULL AND f.stale_since IS NULL | f.id]
       END AS flags
  FOREACH (_ IN CASE WHEN eligible THEN [1] ELSE [] END |
    CREATE (o)-[:PAID {tier: tier, amount: share,
                       frozen_by: CASE WHEN size(flags) > 0 THEN flags END}]->(m))
  WITH o, plan, pool, sum(CASE WHEN eligible THEN share ELSE 0 END) AS paid
  SET o.settled_run = $run_id, o.plan_id = plan.id, o.pool = pool, o.retained = pool - paid,
      o.unreversed_since = o.refunded_at
} IN TRANSACTIONS OF $batch ROWS;

// An order refunded by the cutoff before it settled never will (cutoffs only move forward, and a
// refund is never taken back): it leaves the unsettled index, after the links above saw it.
MATCH (:SettlementLock {id: 'settlement', run_id: $run_id})
MATCH (o:Order) USING INDEX o:Order(unsettled_since)
WHERE o.unsettled_since <= datetime($cutoff) AND o.refunded_at <= datetime($cutoff)
  AND o.settled_run IS NULL
CALL (o) {
  REMOVE o.unsettled_since
} IN TRANSACTIONS OF 10000 ROWS;
