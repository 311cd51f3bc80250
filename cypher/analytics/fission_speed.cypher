// Fission speed: how many members joined a member's branch (its whole downline, itself
// excluded) per week, over [from, to) on joined_at. Weeks start on Monday 00:00 UTC+08:00; every
// week the window touches is listed, zeros included (the first and last may be cut by it).
// The same figures as GraphQL's Member.fissionSpeed (graph/growth.py).
//
// Parameters: member_id, from, to (ISO 8601 with offset), e.g.
//   :param member_id => 'M1'
//   :param from => '2026-01-01T00:00:00+08:00'
//   :param to => '2026-04-01T00:00:00+08:00'
// Output: week (the Monday), recruits.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'member_id => "M1"' -P 'from => "2026-01-01T00:00:00+08:00"' \
//        -P 'to => "2026-04-01T00:00:00+08:00"' -f cypher/analytics/fission_speed.cypher
//      or: downline cypher run cypher/analytics/fission_speed.cypher -p member_id=M1 \
//        -p from=2026-01-01T00:00:00+08:00 -p to=2026-04-01T00:00:00+08:00 --format csv

// The downline is walked down from the member, sought by its key (named, so the plan does not
// depend on the statistics); its members carry no label, so they cannot be sought by joined_at
// once per member (docs/model.md, "Query plans").
MATCH (u:Member {id: $member_id}) USING INDEX SEEK u:Member(id)
CALL (u) {
  // section joined: needs u; one row per member of u's downline (u excluded) who joined in
  // [$from, $to), with the Monday (UTC+08:00) of its week (graph/growth.py reads it too)
  MATCH (d)-[:SPONSORED_BY*1..]->(u)
  WHERE d.joined_at >= datetime($from) AND d.joined_at < datetime($to)
  WITH date.truncate('week', datetime({datetime: d.joined_at, timezone: '+08:00'})) AS week
  // end joined
  RETURN collect(week) AS joined
}
WITH joined,
     date.truncate('week', datetime({datetime: datetime($from), timezone: '+08:00'})) AS first,
     date.truncate('week', datetime({datetime: datetime($to) - duration({nanoseconds: 1}),
                                     timezone: '+08:00'})) AS last
UNWIND range(0, duration.inDays(first, last).days / 7) AS i
WITH joined, first + duration({weeks: i}) AS week
RETURN week, size([w IN joined WHERE w = week]) AS recruits
ORDER BY week;
