// Checks the settlement books; every row of the last statement is a violation (none = clean).
// A ledger line is a relationship from the order to the member paid: (o)-[:PAID]->(m) for a
// payout, (o)-[:REVERSED]->(m) for its reversal (docs/model.md); its key, o.id|tier|P or |R,
// names it in the details.
//
// - pool: for every settled order, its PAID lines plus its platform retained equal its pool;
// - tier: no PAID or REVERSED line without a tier, and none outside tiers 1-3;
// - agent: no PAID line to a member who was not an agent at the order's paid_at (or to a node
//   that is not a member);
// - reversal: every REVERSED line cancels a PAID line of the same order, tier and member, of the
//   negated amount;
// - unreversed: a reversed order has a REVERSED line for each of its PAID lines' tiers;
// - duplicate: no order has more than one PAID line, or more than one REVERSED line, of one
//   tier (each such line is a row: nothing in the store keeps them unique);
// - marker: every PAID line belongs to an order marked settled;
// - waiting: every settled, refunded order not reversed yet waits for its reversal in
//   o.unreversed_since (cypher/schema.cypher), where the next run finds it.
// The first statement counts what was checked.
//
// Parameters: none.
// Output (statement 1): orders_settled, orders_reversed, payouts (PAID lines), reversals
//   (REVERSED lines).
// Output (statement 2): check, order_id, member_id, detail.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" -f cypher/reconcile.cypher
//      or: downline reconcile (prints a report, exits 1 on any violation)

// The lines are counted from the relationship counts; the orders by their settled_run index.
CALL () {
  OPTIONAL MATCH (o:Order) WHERE o.settled_run IS NOT NULL
  RETURN count(o) AS orders_settled, count(o.reversed_run) AS orders_reversed
}
CALL () {
  MATCH ()-[l:PAID]->()
  RETURN count(l) AS payouts
}
CALL () {
  MATCH ()-[l:REVERSED]->()
  RETURN count(l) AS reversals
}
RETURN orders_settled, orders_reversed, payouts, reversals;

// Each check reads the settled or reversed orders (their indexes) or the whole ledger once, by
// relationship type (named with USING SCAN, so the plan does not depend on the statistics: an
// untyped start node would otherwise let the planner scan every node); everything else is
// expanded from the bound order or member.
MATCH (o:Order) WHERE o.settled_run IS NOT NULL
CALL (o) {
  OPTIONAL MATCH (o)-[l:PAID]->()
  RETURN coalesce(sum(l.amount), 0) AS paid
}
WITH o, paid
WHERE o.pool IS NULL OR o.retained IS NULL OR o.retained < 0 OR paid + o.retained <> o.pool
RETURN 'pool' AS check, o.id AS order_id, null AS member_id,
       'payouts ' + toString(paid) + ' + retained ' + coalesce(toString(o.retained), 'none')
       + ' <> pool ' + coalesce(toString(o.pool), 'none') AS detail
UNION ALL
CALL () {
  MATCH (o)-[l:PAID]->(m) USING SCAN l:PAID
  RETURN o, l, m
  UNION ALL
  MATCH (o)-[l:REVERSED]->(m) USING SCAN l:REVERSED
  RETURN o, l, m
}
WITH o, l, m
WHERE NOT coalesce(l.tier IN [1, 2, 3], false)
RETURN 'tier' AS check, o.id AS order_id, m.id AS member_id,
       CASE type(l) WHEN 'PAID' THEN 'payout ' ELSE 'reversal ' END
       + o.id + '|' + coalesce(toString(l.tier), '?')
       + CASE type(l) WHEN 'PAID' THEN '|P' ELSE '|R' END + ' at tier ' + coalesce(toString(l.tier), 'none') AS detail
UNION ALL
MATCH (o)-[l:PAID]->(m) USING SCAN l:PAID
WHERE NOT m:Member OR NOT EXISTS {
  (m)-[:BOUGHT]->(g)
  WHERE g.kind = 'GIFT_PACKAGE' AND g.paid_at <= o.paid_at AND NOT coalesce(g.refunded_at <= o.paid_at, false)
}
RETURN 'agent' AS check, o.id AS order_id, m.id AS member_id,
       'payout ' + o.id + '|' + coalesce(toString(l.tier), '?') + '|P'
       + ' to a member who was not an agent at ' + coalesce(toString(o.paid_at), 'none') AS detail
UNION ALL
MATCH (o)-[r:REVERSED]->(m) USING SCAN r:REVERSED
WHERE NOT EXISTS { (o)-[l:PAID]->(m) WHERE l.tier = r.tier AND l.amount = -r.amount }
RETURN 'reversal' AS check, o.id AS order_id, m.id AS member_id,
       'reversal ' + o.id + '|' + coalesce(toString(r.tier), '?') + '|R'
       + ' cancels no payout of the same order, tier, member and amount' AS detail
UNION ALL
MATCH (o:Order) WHERE o.reversed_run IS NOT NULL
MATCH (o)-[l:PAID]->(m)
WHERE NOT EXISTS { (o)-[r:REVERSED]->() WHERE r.tier = l.tier }
RETURN 'unreversed' AS check, o.id AS order_id, m.id AS member_id,
       'order refunded and reversed, but payout ' + o.id + '|' + coalesce(toString(l.tier), '?')
       + '|P has no reversal' AS detail
UNION ALL
CALL () {
  MATCH (o)-[l:PAID]->(m) USING SCAN l:PAID
  RETURN o, l, m
  UNION ALL
  MATCH (o)-[l:REVERSED]->(m) USING SCAN l:REVERSED
  RETURN o, l, m
}
WITH o, l, m, COUNT { (o)-[x:PAID|REVERSED]->() WHERE type(x) = type(l) AND x.tier = l.tier } AS n
WHERE n > 1
RETURN 'duplicate' AS check, o.id AS order_id, m.id AS member_id,
       CASE type(l) WHEN 'PAID' THEN 'payout ' ELSE 'reversal ' END
       + o.id + '|' + toString(l.tier) + CASE type(l) WHEN 'PAID' THEN '|P' ELSE '|R' END
       + ' is one of ' + toString(n) + ' ' + type(l) + ' lines of its order and tier' AS detail
UNION ALL
MATCH (o)-[l:PAID]->(m) USING SCAN l:PAID
WHERE NOT o:Order OR o.settled_run IS NULL
RETURN 'marker' AS check, o.id AS order_id, m.id AS member_id,
       'payout ' + coalesce(o.id, '(no order id)') + '|' + coalesce(toString(l.tier), '?')
       + '|P belongs to an order not marked settled' AS detail
UNION ALL
MATCH (o:Order) USING INDEX o:Order(refunded_at)
WHERE o.refunded_at IS NOT NULL AND o.settled_run IS NOT NULL AND o.reversed_run IS NULL
  AND o.unreversed_since IS NULL
RETURN 'waiting' AS check, o.id AS order_id, null AS member_id,
       'order ' + o.id + ' settled and was refunded, but no run will reverse it:'
       + ' it has no unreversed_since (a refund written outside the product?)' AS detail;
