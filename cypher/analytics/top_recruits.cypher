// Top influencers by recruits: the members who sponsored the most members joining in
// [from, to) (direct recruits only). Ties by member id, ascending.
//
// Parameters: from, to (ISO 8601 with offset), limit, e.g.
//   :param from => '2026-01-01T00:00:00+08:00'
//   :param to => '2026-07-01T00:00:00+08:00'
//   :param limit => 20
// Output: rank, member_id, name, recruits.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'from => "2026-01-01T00:00:00+08:00"' -P 'to => "2026-07-01T00:00:00+08:00"' \
//        -P 'limit => 20' -f cypher/analytics/top_recruits.cypher
//      or: downline cypher run cypher/analytics/top_recruits.cypher \
//        -p from=2026-01-01T00:00:00+08:00 -p to=2026-07-01T00:00:00+08:00 -p limit=20 --format csv

// The window's recruits come from the joined_at index (named, so the plan does not depend on
// the statistics), their sponsors by expansion; every member is read once so all of them rank.
CALL () {
  MATCH (r:Member) USING INDEX SEEK r:Member(joined_at)
  WHERE r.joined_at >= datetime($from) AND r.joined_at < datetime($to)
  MATCH (r)-[:SPONSORED_BY]->(u)
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
RETURN i + 1 AS rank, rows[i].id AS member_id, rows[i].name AS name, rows[i].value AS recruits;
