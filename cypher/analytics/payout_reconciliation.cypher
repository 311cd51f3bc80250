// Payout reconciliation by period: the settlement books per day or month (UTC+08:00) of the
// orders' paid_at, the period the money belongs to (tierPayouts and the compliance view window
// on it too). For the settled orders paid in [from, to): how many settled and how many were
// later reversed, their pools, what members were paid, what the platform retained, what the
// reversals took back (negative) and the retained part they cancelled, and the nets. balanced
// is paid + retained = pool, which settlement guarantees per order; false means a broken book
// (run `downline reconcile` for the orders).
//
// Parameters: from, to (ISO 8601 with offset), period ('day', 'week' or 'month'), e.g.
//   :param from => '2026-01-01T00:00:00+08:00'
//   :param to => '2026-07-01T00:00:00+08:00'
//   :param period => 'month'
// Output: period (its first day), orders_settled, orders_reversed, pool, paid, retained,
//   reversed, retained_reversed, net_paid, net_retained, balanced (money in fen).
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'from => "2026-01-01T00:00:00+08:00"' -P 'to => "2026-07-01T00:00:00+08:00"' \
//        -P 'period => "month"' -f cypher/analytics/payout_reconciliation.cypher
//      or: downline cypher run cypher/analytics/payout_reconciliation.cypher \
//        -p from=2026-01-01T00:00:00+08:00 -p to=2026-07-01T00:00:00+08:00 -p period=month \
//        --format csv

// The orders come from the paid_at index, named so the plan does not depend on the statistics;
// their ledger lines, (o)-[:PAID]->(m) and (o)-[:REVERSED]->(m), are expanded from each order.
MATCH (o:Order) USING INDEX SEEK o:Order(paid_at)
WHERE o.paid_at >= datetime($from) AND o.paid_at < datetime($to) AND o.settled_run IS NOT NULL
CALL (o) {
  OPTIONAL MATCH (o)-[l:PAID]->()
  RETURN coalesce(sum(l.amount), 0) AS paid
}
CALL (o) {
  OPTIONAL MATCH (o)-[r:REVERSED]->()
  RETURN coalesce(sum(r.amount), 0) AS reversed
}
WITH date.truncate($period, datetime({datetime: o.paid_at, timezone: '+08:00'})) AS period,
     o, paid, reversed
WITH period, count(o) AS orders_settled, count(o.reversed_run) AS orders_reversed,
     sum(o.pool) AS pool, sum(paid) AS paid, sum(o.retained) AS retained,
     sum(reversed) AS reversed,
     sum(CASE WHEN o.reversed_run IS NULL THEN 0 ELSE o.retained END) AS retained_reversed
RETURN period, orders_settled, orders_reversed, pool, paid, retained, reversed,
       retained_reversed, paid + reversed AS net_paid, retained - retained_reversed AS net_retained,
       paid + retained = pool AS balanced
ORDER BY period;
