// Top influencers by group volume: the members whose whole subtree (themselves included) bought
// the most in a window, the key-node metric of domain.md computed live from the orders (no
// rollups needed, so it also checks them). Personal volume counts orders paid in
// [from, to) that were never refunded. Ties by member id, ascending.
//
// Parameters: from, to (ISO 8601 with offset), limit, e.g.
//   :param from => '2026-01-01T00:00:00+08:00'
//   :param to => '2026-07-01T00:00:00+08:00'
//   :param limit => 20
// Output: rank, member_id, name, group_volume_fen.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'from => "2026-01-01T00:00:00+08:00"' -P 'to => "2026-07-01T00:00:00+08:00"' \
//        -P 'limit => 20' -f cypher/analytics/top_group_volume.cypher
//      or: downline cypher run cypher/analytics/top_group_volume.cypher \
//        -p from=2026-01-01T00:00:00+08:00 -p to=2026-07-01T00:00:00+08:00 -p limit=20 --format csv

// Each buyer's volume is added to every member above it (a walk up, bounded by the tree's
// depth); members with none still rank, with 0, so ties by id hold at the bottom too. The
// window's orders come from the paid_at index, named so the plan does not depend on the
// statistics; buyers and uplines are expanded from them, without labels.
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
WITH u, sum(v) AS value
ORDER BY value DESC, u.id
LIMIT $limit
WITH collect({id: u.id, name: u.name, value: value}) AS rows
UNWIND range(0, size(rows) - 1) AS i
RETURN i + 1 AS rank, rows[i].id AS member_id, rows[i].name AS name,
       rows[i].value AS group_volume_fen;
