// Risk, farms: sponsors with at least min_recruits direct recruits who share one identity
// signal. One row per such sponsor, identifier and recruit using it: the recruit's joined_at,
// whether it became an agent through a gift package (a GIFT_PACKAGE order it bought, not
// refunded at the instant it was paid), and the recruit's and the sponsor's net payouts
// (reversals included). graph/risk.py flags a farm when min_recruits of one identifier's
// recruits joined within FARM_WINDOW_DAYS (7) of each other, or when min_recruits of them that
// became agents through gift packages share one payee_account.
//
// Parameters: min_recruits, e.g.
//   :param min_recruits => 3
// Output: sponsor_id, kind, value, recruit_id, joined_at, gift_agent, recruit_paid,
//   sponsor_paid (money in fen), by sponsor_id, kind, value, joined_at, recruit_id.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'min_recruits => 3' -f cypher/analytics/risk_farm.cypher
//      or: downline cypher run cypher/analytics/risk_farm.cypher -p min_recruits=3 --format csv

// From each shared identifier to its members and their sponsors, expanded without labels; each
// member's ledger lines (PAID and REVERSED) are expanded from it (docs/model.md, "Query plans").
MATCH (i:Identifier) USING SCAN i:Identifier
WHERE COUNT { (i)<-[:USES]-() } >= $min_recruits
MATCH (i)<-[:USES]-(r)-[:SPONSORED_BY]->(s)
WITH i, s, collect(r) AS recruits
WHERE size(recruits) >= $min_recruits
CALL (s) {
  MATCH (s)<-[l:PAID|REVERSED]-()
  RETURN coalesce(sum(l.amount), 0) AS sponsor_paid
}
UNWIND recruits AS r
CALL (r) {
  MATCH (r)<-[l:PAID|REVERSED]-()
  RETURN coalesce(sum(l.amount), 0) AS recruit_paid
}
RETURN s.id AS sponsor_id, i.kind AS kind, i.value AS value, r.id AS recruit_id,
       r.joined_at AS joined_at,
       EXISTS {
         MATCH (r)-[:BOUGHT]->(g)
         WHERE g.kind = 'GIFT_PACKAGE' AND (g.refunded_at IS NULL OR g.refunded_at > g.paid_at)
       } AS gift_agent,
       recruit_paid, sponsor_paid
ORDER BY sponsor_id, kind, value, joined_at, recruit_id
