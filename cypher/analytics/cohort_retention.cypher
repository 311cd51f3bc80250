// Cohort retention: agents grouped by the month (UTC+08:00) they became agents (their first gift
// package not refunded at the instant it was paid), among those who became agents in
// [from, to), and how many of each cohort bought a retail order, never refunded, k months
// later (k = 0 is the cohort month itself), for k = 0..months; months not begun yet are left
// out. share_bp = active / agents in basis points, rounded down. member_id restricts it to the
// agents of that member's subtree (the member included); '' means the whole platform. The same
// figures as GraphQL's cohortRetention (graph/growth.py).
//
// Parameters: from, to (ISO 8601 with offset), months, member_id, e.g.
//   :param from => '2026-01-01T00:00:00+08:00'
//   :param to => '2026-07-01T00:00:00+08:00'
//   :param months => 6
//   :param member_id => ''
// Output: cohort (the month's first day), agents, k, active, share_bp.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'from => "2026-01-01T00:00:00+08:00"' -P 'to => "2026-07-01T00:00:00+08:00"' \
//        -P 'months => 6' -P 'member_id => ""' -f cypher/analytics/cohort_retention.cypher
//      or: downline cypher run cypher/analytics/cohort_retention.cypher \
//        -p from=2026-01-01T00:00:00+08:00 -p to=2026-07-01T00:00:00+08:00 -p months=6 \
//        -p member_id= --format csv

// The member (if any) is sought once, first; the agents come from the gift orders (the kind
// index, named so the plan does not depend on the statistics), and "not refunded when paid" is
// one predicate, not an OR the planner would split. The subtree check walks up from each agent
// to the member (bounded by the tree's depth) and the retail orders are expanded from each
// agent: nodes reached by expansion carry no label, so none is sought by an index per agent
// (docs/model.md, "Query plans").
OPTIONAL MATCH (a:Member {id: $member_id}) USING INDEX SEEK a:Member(id)
WITH a
MATCH (g:Order) USING INDEX SEEK g:Order(kind)
WHERE g.kind = 'GIFT_PACKAGE' AND NOT coalesce(g.refunded_at <= g.paid_at, false)
MATCH (m)-[:BOUGHT]->(g)
WITH a, m, min(g.paid_at) AS since
WHERE since >= datetime($from) AND since < datetime($to)
  AND ($member_id = '' OR a IS NOT NULL AND EXISTS { (m)-[:SPONSORED_BY*0..]->(a) })
WITH m, date.truncate('month', datetime({datetime: since, timezone: '+08:00'})) AS cohort
CALL (m, cohort) {
  MATCH (m)-[:BOUGHT]->(o)
  WHERE o.kind = 'RETAIL' AND o.refunded_at IS NULL
    AND o.paid_at >= datetime({date: cohort, timezone: '+08:00'})
    AND o.paid_at < datetime({date: cohort + duration({months: $months + 1}), timezone: '+08:00'})
  WITH date(datetime({datetime: o.paid_at, timezone: '+08:00'})) AS day
  RETURN collect(DISTINCT (day.year - cohort.year) * 12 + day.month - cohort.month) AS ks
}
WITH cohort, count(m) AS agents, collect(ks) AS all
UNWIND range(0, $months) AS k
WITH cohort, agents, k, size([x IN all WHERE k IN x]) AS active
WHERE datetime({date: cohort + duration({months: k}), timezone: '+08:00'}) <= datetime()
RETURN cohort, agents, k, active, active * 10000 / agents AS share_bp
ORDER BY cohort, k;
