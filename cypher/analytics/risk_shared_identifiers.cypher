// Risk, shared identity signals: every member who shares an identity signal (phone_hash,
// device_id or payee_account, as the platform hashed them; docs/model.md "Identity signals")
// with at least one other member. One row per shared identifier and member using it, with the
// member's sponsor and its net payouts (reversals included). graph/risk.py links members through
// these rows into duplicate-account components (each of size >= 2) and finds the depth rings:
// components holding >= 3 consecutive tiers of one upline chain.
//
// Parameters: none.
// Output: kind, value, member_id, sponsor_id, paid (money in fen), by kind, value, member_id.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -f cypher/analytics/risk_shared_identifiers.cypher
//      or: downline cypher run cypher/analytics/risk_shared_identifiers.cypher --format csv

// Identifiers are few next to orders (scanned by their label, named so the plan does not depend
// on the statistics); members and sponsors are expanded from them without labels, and each
// member's ledger lines (PAID and REVERSED) from it (docs/model.md, "Query plans").
MATCH (i:Identifier) USING SCAN i:Identifier
WHERE COUNT { (i)<-[:USES]-() } >= 2
MATCH (i)<-[:USES]-(m)
CALL (m) {
  MATCH (m)<-[l:PAID|REVERSED]-()
  RETURN coalesce(sum(l.amount), 0) AS paid
}
RETURN i.kind AS kind, i.value AS value, m.id AS member_id,
       [(m)-[:SPONSORED_BY]->(s) | s.id][0] AS sponsor_id, paid
ORDER BY kind, value, member_id
