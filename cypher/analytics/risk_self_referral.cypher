// Risk, self-referral: a member that shares an identity signal with a member of its own upline
// within three tiers (tier distance 1..3: its sponsor, the sponsor's sponsor, the next one up),
// i.e. someone who most likely recruited itself to be paid on its own joining and sales. One row
// per member, upline member and identifier they share, with both members' net payouts
// (reversals included). graph/risk.py makes one flag of each (member, upline) pair.
//
// Parameters: none (the three tiers are the plan's tiers, domain.md).
// Output: member_id, upline_id, tier_distance, kind, value, member_paid, upline_paid (money in
//   fen), by member_id, tier_distance, kind, value.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -f cypher/analytics/risk_self_referral.cypher
//      or: downline cypher run cypher/analytics/risk_self_referral.cypher --format csv

// From each shared identifier to its members, then up at most three SPONSORED_BY hops to a
// member using the same identifier: bounded by the identifier's members, never the tree. Each
// member's ledger lines (PAID and REVERSED) are expanded from it (docs/model.md, "Query plans").
MATCH (i:Identifier) USING SCAN i:Identifier
WHERE COUNT { (i)<-[:USES]-() } >= 2
MATCH (i)<-[:USES]-(m)
MATCH path = (m)-[:SPONSORED_BY*1..3]->(u)
WHERE (u)-[:USES]->(i)
WITH m, u, length(path) AS tier_distance, i
CALL (m) {
  MATCH (m)<-[l:PAID|REVERSED]-()
  RETURN coalesce(sum(l.amount), 0) AS member_paid
}
CALL (u) {
  MATCH (u)<-[l:PAID|REVERSED]-()
  RETURN coalesce(sum(l.amount), 0) AS upline_paid
}
RETURN m.id AS member_id, u.id AS upline_id, tier_distance, i.kind AS kind, i.value AS value,
       member_paid, upline_paid
ORDER BY member_id, tier_distance, kind, value
