// Migration (issue 12): moves a store written by the old ledger, one (:Payout) node per line,
// to the new one, a relationship from the order to the member paid (docs/model.md, "The
// ledger"), then drops the Payout indexes.
//
// Per payout p, found with its order (Order {id: p.order_id}) and member (Member {id:
// p.member_id}) by their unique ids:
// - a payout becomes (o)-[:PAID {tier, amount, frozen_by?}]->(m), frozen_by only when it has one;
// - a reversal becomes (o)-[:REVERSED {tier, amount}]->(m), and a risk decision's reversal
//   (:Payout:RiskReversal, run_id = the decision's id) also gets decision_id, flag_id and at;
// - then p is deleted, in the same transaction (one per $batch payouts). A migration killed
//   halfway leaves each line either a node or a relationship, never both nor neither, and
//   running this file again finishes the job: a line is created only if its order has none of
//   that type and tier yet (so nothing is ever written twice), and p is deleted either way.
// A payout whose order or member is missing stays as it is (the last statement counts them).
// Nothing moves while a settlement run holds its lock. DELETE, not DETACH DELETE: a payout that
// still has a relationship stops the migration with Neo4j's error instead of losing it (old
// batch links are turned into payments by cypher/schema.cypher, which must run first; so what
// a batch paid is never paid again).
//
// Parameters: batch (payouts per transaction), e.g.
//   :param batch => 1000
// Output (statement 1, the payouts): payouts, frozen (among them), paid (fen, their total),
//         already_paid (payouts deleted because their line was already there);
//         (statement 2, the reversals): reversals, risk_reversals (among them), reversed (fen),
//         already_reversed; the next four drop the Payout constraint and indexes (counters
//         only); the last: left (payouts not moved).
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'batch => 1000' -f cypher/migrations/ledger.cypher
//      after cypher/schema.cypher, or: downline db migrate (which applies the schema first,
//      refuses while a settlement holds its lock, and reports what it did)

// The payouts first, then the reversals: even a migration stopped half way has no REVERSED line
// without its PAID line. Each statement reads the lock once, before it moves anything: a
// settlement run that began first holds it.
OPTIONAL MATCH (lock:SettlementLock)
WITH lock WHERE lock IS NULL
MATCH (p:Payout) WHERE NOT coalesce(p.reversal, false)
CALL (p) {
  MATCH (o:Order {id: p.order_id}) USING INDEX SEEK o:Order(id)
  MATCH (m:Member {id: p.member_id}) USING INDEX SEEK m:Member(id)
  WITH p, o, m, CASE WHEN size(coalesce(p.frozen_by, [])) > 0 THEN p.frozen_by END AS frozen_by,
       EXISTS { (o)-[l:PAID]->() WHERE l.tier = p.tier } AS already
  FOREACH (_ IN CASE WHEN already THEN [] ELSE [1] END |
    CREATE (o)-[:PAID {tier: p.tier, amount: p.amount, frozen_by: frozen_by}]->(m))
  WITH p, frozen_by IS NOT NULL AS frozen, already, p.amount AS amount
  DELETE p
  RETURN frozen, already, amount
} IN TRANSACTIONS OF $batch ROWS
RETURN count(CASE WHEN NOT already THEN 1 END) AS payouts,
       count(CASE WHEN NOT already AND frozen THEN 1 END) AS frozen,
       coalesce(sum(CASE WHEN NOT already THEN amount END), 0) AS paid,
       count(CASE WHEN already THEN 1 END) AS already_paid;

OPTIONAL MATCH (lock:SettlementLock)
WITH lock WHERE lock IS NULL
MATCH (p:Payout) WHERE coalesce(p.reversal, false)
CALL (p) {
  MATCH (o:Order {id: p.order_id}) USING INDEX SEEK o:Order(id)
  MATCH (m:Member {id: p.member_id}) USING INDEX SEEK m:Member(id)
  WITH p, o, m, p:RiskReversal AS risk,
       EXISTS { (o)-[l:REVERSED]->() WHERE l.tier = p.tier } AS already
  FOREACH (_ IN CASE WHEN already THEN [] ELSE [1] END |
    CREATE (o)-[:REVERSED {tier: p.tier, amount: p.amount,
                           decision_id: CASE WHEN risk THEN p.run_id END,
                           flag_id: CASE WHEN risk THEN p.flag_id END,
                           at: CASE WHEN risk THEN p.at END}]->(m))
  WITH p, risk, already, p.amount AS amount
  DELETE p
  RETURN risk, already, amount
} IN TRANSACTIONS OF $batch ROWS
RETURN count(CASE WHEN NOT already THEN 1 END) AS reversals,
       count(CASE WHEN NOT already AND risk THEN 1 END) AS risk_reversals,
       coalesce(sum(CASE WHEN NOT already THEN amount END), 0) AS reversed,
       count(CASE WHEN already THEN 1 END) AS already_reversed;

// The old ledger's constraint (its index goes with it) and indexes; the new one needs none.
DROP CONSTRAINT payout_key IF EXISTS;
DROP INDEX payout_member_id IF EXISTS;
DROP INDEX payout_run_id IF EXISTS;
DROP INDEX payout_paid_at IF EXISTS;

// What is left of the old ledger: 0 once the migration is done (answered from the count store).
MATCH (p:Payout)
RETURN count(p) AS left;
