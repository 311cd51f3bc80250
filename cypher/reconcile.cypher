// Checks the settlement books; every row of the last statement is a violation (none = clean).
//
// - pool: for every settled order, its payouts plus its platform retained equal its pool;
// - tier: no payout without its key, and none outside tiers 1-3;
// - agent: no payout to a member who was not an agent at the order's paid_at (or who is unknown);
// - reversal: every reversal cancels a payout (same order, tier, member, kind, negated amount);
// - unreversed: a reversed order has a reversal for each of its payouts;
// - marker: every payout belongs to an order marked settled.
// The first statement counts what was checked.
//
// Parameters: none.
// Output (statement 1): orders_settled, orders_reversed, payouts, reversals.
// Output (statement 2): check, order_id, member_id, detail.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" -f cypher/reconcile.cypher
//      or: downline reconcile (prints a report, exits 1 on any violation)

CALL () {
  OPTIONAL MATCH (o:Order) WHERE o.settled_run IS NOT NULL
  RETURN count(o) AS orders_settled, count(o.reversed_run) AS orders_reversed
}
CALL () {
  OPTIONAL MATCH (p:Payout)
  RETURN count(CASE WHEN p.reversal THEN NULL ELSE p END) AS payouts,
         count(CASE WHEN p.reversal THEN p END) AS reversals
}
RETURN orders_settled, orders_reversed, payouts, reversals;

MATCH (o:Order) WHERE o.settled_run IS NOT NULL
CALL (o) {
  OPTIONAL MATCH (p:Payout) WHERE p.key IN [o.id + '|1|P', o.id + '|2|P', o.id + '|3|P']
  RETURN coalesce(sum(p.amount), 0) AS paid
}
WITH o, paid
WHERE o.pool IS NULL OR o.retained IS NULL OR o.retained < 0 OR paid + o.retained <> o.pool
RETURN 'pool' AS check, o.id AS order_id, null AS member_id,
       'payouts ' + toString(paid) + ' + retained ' + coalesce(toString(o.retained), 'none')
       + ' <> pool ' + coalesce(toString(o.pool), 'none') AS detail
UNION ALL
MATCH (p:Payout)
WHERE p.key IS NULL OR NOT coalesce(p.tier IN [1, 2, 3], false)
RETURN 'tier' AS check, p.order_id AS order_id, p.member_id AS member_id,
       'payout ' + coalesce(p.key, '(no key)') + ' at tier ' + coalesce(toString(p.tier), 'none')
       AS detail
UNION ALL
MATCH (p:Payout) WHERE NOT p.reversal
OPTIONAL MATCH (m:Member {id: p.member_id})
WITH p, m
WHERE m IS NULL OR NOT EXISTS {
  (m)-[:BOUGHT]->(g)
  WHERE g.kind = 'GIFT_PACKAGE' AND g.paid_at <= p.paid_at AND NOT coalesce(g.refunded_at <= p.paid_at, false)
}
RETURN 'agent' AS check, p.order_id AS order_id, p.member_id AS member_id,
       'payout ' + p.key + ' to a member who was not an agent at ' + toString(p.paid_at) AS detail
UNION ALL
MATCH (r:Payout) WHERE r.reversal
OPTIONAL MATCH (p:Payout {key: r.order_id + '|' + toString(r.tier) + '|P'})
WITH r, p
WHERE p IS NULL OR p.member_id <> r.member_id OR p.kind <> r.kind OR p.amount <> -r.amount
RETURN 'reversal' AS check, r.order_id AS order_id, r.member_id AS member_id,
       'reversal ' + r.key + ' cancels no payout of the same member, kind and amount' AS detail
UNION ALL
MATCH (o:Order) WHERE o.reversed_run IS NOT NULL
MATCH (p:Payout) WHERE p.key IN [o.id + '|1|P', o.id + '|2|P', o.id + '|3|P']
  AND NOT EXISTS { MATCH (r:Payout {key: o.id + '|' + toString(p.tier) + '|R'}) }
RETURN 'unreversed' AS check, o.id AS order_id, p.member_id AS member_id,
       'order refunded and reversed, but payout ' + p.key + ' has no reversal' AS detail
UNION ALL
MATCH (p:Payout)
OPTIONAL MATCH (o:Order {id: p.order_id})
WITH p, o
WHERE o IS NULL OR o.settled_run IS NULL
RETURN 'marker' AS check, p.order_id AS order_id, p.member_id AS member_id,
       'payout ' + p.key + ' belongs to an order not marked settled' AS detail;
