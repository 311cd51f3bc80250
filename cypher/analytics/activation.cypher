// Activation: per sponsor, how many of its direct recruits who joined in [from, to) became
// agents within `days` of joining, i.e. bought a gift package paid before joined_at + days that
// was not refunded at the instant it was paid. share_bp = activated / recruits in basis points,
// rounded down. The same figures as GraphQL's Member.activation (graph/growth.py), for every
// sponsor at once; recruits joined less than `days` ago may still activate.
//
// Parameters: from, to (ISO 8601 with offset), days, limit, e.g.
//   :param from => '2026-01-01T00:00:00+08:00'
//   :param to => '2026-04-01T00:00:00+08:00'
//   :param days => 30
//   :param limit => 100
// Output: sponsor_id, recruits, activated, share_bp (most recruits first, then sponsor id).
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'from => "2026-01-01T00:00:00+08:00"' -P 'to => "2026-04-01T00:00:00+08:00"' \
//        -P 'days => 30' -P 'limit => 100' -f cypher/analytics/activation.cypher
//      or: downline cypher run cypher/analytics/activation.cypher \
//        -p from=2026-01-01T00:00:00+08:00 -p to=2026-04-01T00:00:00+08:00 -p days=30 \
//        -p limit=100 --format csv

// The recruits of the window come from the joined_at index (named, so the plan does not depend
// on the statistics); sponsor and orders are expanded from each recruit and carry no label, so
// no index is sought per recruit (docs/model.md, "Query plans").
MATCH (r:Member) USING INDEX SEEK r:Member(joined_at)
WHERE r.joined_at >= datetime($from) AND r.joined_at < datetime($to)
MATCH (r)-[:SPONSORED_BY]->(u)
WITH u, r, EXISTS {
  // section activated: needs r; true when r became an agent within $days of joining (graph/growth.py reads it too)
  MATCH (r)-[:BOUGHT]->(g)
  WHERE g.kind = 'GIFT_PACKAGE' AND g.paid_at < r.joined_at + duration({days: $days})
    AND (g.refunded_at IS NULL OR g.refunded_at > g.paid_at)
  // end activated
} AS activated
WITH u.id AS sponsor_id, count(r) AS recruits, count(CASE WHEN activated THEN r END) AS activated
RETURN sponsor_id, recruits, activated, activated * 10000 / recruits AS share_bp
ORDER BY recruits DESC, sponsor_id
LIMIT $limit;
