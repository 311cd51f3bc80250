// Top influencers by downline size: the members with the most members below them (the member
// itself excluded), counting members who joined before `to`. Ties by member id, ascending.
//
// Parameters: to (ISO 8601 with offset), limit, e.g.
//   :param to => '2026-07-01T00:00:00+08:00'
//   :param limit => 20
// Output: rank, member_id, name, downline_size.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'to => "2026-07-01T00:00:00+08:00"' -P 'limit => 20' \
//        -f cypher/analytics/top_downline_size.cypher
//      or: downline cypher run cypher/analytics/top_downline_size.cypher \
//        -p to=2026-07-01T00:00:00+08:00 -p limit=20 --format csv

// Every member counts once for each member above it: a walk up, bounded by the tree's depth.
// The members come from the joined_at index (named, so the plan does not depend on the
// statistics), the uplines by expansion; every member is read once more so all of them rank.
CALL () {
  MATCH (d:Member) USING INDEX SEEK d:Member(joined_at)
  WHERE d.joined_at < datetime($to)
  MATCH (d)-[:SPONSORED_BY*1..]->(u)
  RETURN u, 1 AS v
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
       rows[i].value AS downline_size;
