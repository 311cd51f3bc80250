// Schema: uniqueness constraints on the keys everything is found by, and range indexes for the
// time windows. Safe to run any number of times (IF NOT EXISTS).
//
// Parameters: none.
// Output: none.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" -f cypher/schema.cypher
//      or: downline cypher run cypher/schema.cypher

CREATE CONSTRAINT member_id IF NOT EXISTS FOR (m:Member) REQUIRE m.id IS UNIQUE;
CREATE CONSTRAINT order_id IF NOT EXISTS FOR (o:Order) REQUIRE o.id IS UNIQUE;
CREATE CONSTRAINT product_sku IF NOT EXISTS FOR (p:Product) REQUIRE p.sku IS UNIQUE;
CREATE INDEX member_joined_at IF NOT EXISTS FOR (m:Member) ON (m.joined_at);
CREATE INDEX order_paid_at IF NOT EXISTS FOR (o:Order) ON (o.paid_at);
CREATE INDEX order_refunded_at IF NOT EXISTS FOR (o:Order) ON (o.refunded_at);
CREATE INDEX order_kind IF NOT EXISTS FOR (o:Order) ON (o.kind);
