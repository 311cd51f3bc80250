// Top influencers by at risk: what share of the whole platform's volume leaves if a member's
// branch leaves, i.e. its group volume over the platform's, in parts per million (rounded
// down). Personal volume counts orders paid in [from, to) that were never refunded. The
// ranking is the group-volume ranking; ties by member id, ascending.
//
// Parameters: from, to (ISO 8601 with offset), limit, e.g.
//   :param from => '2026-01-01T00:00:00+08:00'
//   :param to => '2026-07-01T00:00:00+08:00'
//   :param limit => 20
// Output: rank, member_id, name, at_risk_ppm, group_volume_fen, platform_volume_fen.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'from => "2026-01-01T00:00:00+08:00"' -P 'to => "2026-07-01T00:00:00+08:00"' \
//        -P 'limit => 20' -f cypher/analytics/top_at_risk.cypher
//      or: downline cypher run cypher/analytics/top_at_risk.cypher \
//        -p from=2026-01-01T00:00:00+08:00 -p to=2026-07-01T00:00:00+08:00 -p limit=20 --format csv

// The window's orders come from the paid_at index (named, so the plan does not depend on the
// statistics); buyers and uplines are expanded from them, without labels. Every member is read
// once (a label scan) so that members without volume still rank.
CALL () {
  MATCH (o:Order) USING INDEX SEEK o:Order(paid_at)
  WHERE o.paid_at >= datetime($from) AND o.paid_at < datetime($to) AND o.refunded_at IS NULL
  RETURN coalesce(sum(o.amount), 0) AS platform
}
CALL () {
  MATCH (o:Order) USING INDEX SEEK o:Order(paid_at)
  WHERE o.paid_at >= datetime($from) AND o.paid_at < datetime($to) AND o.refunded_at IS NULL
  MATCH (b)-[:BOUGHT]->(o)
  WITH b, sum(o.amount) AS pv
  MATCH (b)-[:SPONSORED_BY*0..]->(u)
  RETURN u, pv AS v
  UNION ALL
  MATCH (u:Member)
  RETURN u, 0 AS v
}
WITH platform, u, sum(v) AS gv
ORDER BY gv DESC, u.id
LIMIT $limit
WITH platform, collect({id: u.id, name: u.name, gv: gv}) AS rows
UNWIND range(0, size(rows) - 1) AS i
RETURN i + 1 AS rank, rows[i].id AS member_id, rows[i].name AS name,
       CASE WHEN platform > 0 THEN rows[i].gv * 1000000 / platform ELSE 0 END AS at_risk_ppm,
       rows[i].gv AS group_volume_fen, platform AS platform_volume_fen;
