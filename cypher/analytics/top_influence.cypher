// Top influencers by influence: Σ over the members v of a member's subtree (itself included) of
// 0.5^(depth of v below it) × v's personal volume, in fen, rounded down once at the end (exact
// integers: the levels are folded from the deepest up, halving with integer division, which is
// the same floor). Personal volume counts orders paid in [from, to) never refunded. Ties by
// member id, ascending.
//
// Parameters: from, to (ISO 8601 with offset), limit, e.g.
//   :param from => '2026-01-01T00:00:00+08:00'
//   :param to => '2026-07-01T00:00:00+08:00'
//   :param limit => 20
// Output: rank, member_id, name, influence_fen.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'from => "2026-01-01T00:00:00+08:00"' -P 'to => "2026-07-01T00:00:00+08:00"' \
//        -P 'limit => 20' -f cypher/analytics/top_influence.cypher
//      or: downline cypher run cypher/analytics/top_influence.cypher \
//        -p from=2026-01-01T00:00:00+08:00 -p to=2026-07-01T00:00:00+08:00 -p limit=20 --format csv

// floor(Σ gv_k / 2^k) = gv_0 + floor((gv_1 + floor((gv_2 + ...) / 2)) / 2): Horner from the
// deepest level; a gap of g levels halves g times (beyond 62 halvings nothing is left).
// The window's orders come from the paid_at index, named so the plan does not depend on the
// statistics; buyers and uplines are expanded from them, without labels.
CALL () {
  MATCH (o:Order) USING INDEX SEEK o:Order(paid_at)
  WHERE o.paid_at >= datetime($from) AND o.paid_at < datetime($to) AND o.refunded_at IS NULL
  MATCH (b)-[:BOUGHT]->(o)
  WITH b, sum(o.amount) AS pv
  MATCH path = (b)-[:SPONSORED_BY*0..]->(u)
  WITH u, length(path) AS k, sum(pv) AS gv
  ORDER BY k DESC
  WITH u, collect([k, gv]) AS levels
  WITH u, reduce(s = {acc: 0, k: levels[0][0]}, l IN levels |
         {acc: l[1] + CASE WHEN s.k - l[0] >= 62 THEN 0
                           ELSE s.acc / toInteger(2 ^ (s.k - l[0])) END, k: l[0]}) AS s
  RETURN u, CASE WHEN s.k >= 62 THEN 0 ELSE s.acc / toInteger(2 ^ s.k) END AS v
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
       rows[i].value AS influence_fen;
